"""zkmarket.consumer: the model consumer's (MC's) side of the marketplace, as a library and as
the ``zkmarket model | testset | audit | withdraw`` commands (:mod:`.cli`).

client (:mod:`.client`: checked connection, simulate-then-send with decoded custom errors) ->
test sets (:mod:`.testsets`) and MC's durable state (:mod:`.state`) -> one resumable flow per
protocol on the shared loop of :mod:`.driver`: the appendix-B audit (:mod:`.guarded_audit`), the
simple audit (:mod:`.simple_audit`; both on :mod:`.audit_common`), serving rounds
(:mod:`.serving_round`) and retrieval requests (:mod:`.retrieval`; both on :mod:`.jobs`), each
making its moves through the protocol's participant class (``zkmarket.participants``), with
local proof checks (:mod:`.proofs`) -> commands. Everything raised
on purpose derives from :class:`ConsumerError`.
"""

from .audit_common import Settlement, parse_target, settlement
from .client import ConsumerClient, connect, format_amount, parse_token
from .driver import Reporter
from .errors import (
    ConsumerError,
    DeadlinePassedError,
    InsufficientFundsError,
    ProofCheckError,
    RevertError,
    StateFileError,
    TestSetFileError,
    WaitTimeout,
)
from .guarded_audit import GuardedAuditRun, describe_audit, finalize_audit
from .proofs import ProofReport, verify_audit_proofs, verify_simple_audit_proofs
from .reverts import ErrorTable
from .simple_audit import SimpleAuditRun, describe_simple_audit, finalize_simple_audit
from .state import AuditStateFile, find_state, state_path

__all__ = [
    "GuardedAuditRun", "Reporter", "Settlement", "describe_audit", "finalize_audit", "parse_target", "settlement",
    "ConsumerClient", "connect", "format_amount", "parse_token",
    "ConsumerError", "DeadlinePassedError", "InsufficientFundsError", "ProofCheckError", "RevertError",
    "StateFileError", "TestSetFileError", "WaitTimeout",
    "ProofReport", "verify_audit_proofs", "ErrorTable", "AuditStateFile", "find_state", "state_path",
    "SimpleAuditRun", "describe_simple_audit", "finalize_simple_audit", "verify_simple_audit_proofs",
]
