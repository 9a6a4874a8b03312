"""zkmarket.consumer: the model consumer's (MC's) side of the marketplace, as a library and as
the ``zkmarket model | testset | audit | withdraw`` commands (:mod:`.cli`).

client (:mod:`.client`: checked connection, simulate-then-send with decoded custom errors) ->
test sets (:mod:`.testsets`) and MC's durable state (:mod:`.state`) -> the appendix-B audit
driver (:mod:`.audit`) and the simple one (:mod:`.simple_audit`) with local proof checks
(:mod:`.proofs`) -> commands. Everything raised
on purpose derives from :class:`ConsumerError`.
"""

from .audit import GuardedAuditRun, Reporter, Settlement, describe_audit, finalize_audit, parse_target, settlement
from .client import ConsumerClient, connect, format_amount, parse_token
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
