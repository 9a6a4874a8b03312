"""What both accuracy audits share on MC's side (appendix B and paper 5.2): the target, the
model's availability, opening an audit with its state file, resuming it, checking the accepted
proofs locally before finalizing, and the settlement."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

from ..protocol.rules import Prices, audit_escrow
from ..protocol.states import GUARDED_OUTCOMES, MODEL_STATUSES
from ..protocol.testset import CommittedTestSet
from .client import ConsumerClient, format_amount
from .driver import DriverLoop, JobEnd, Reporter, ended_fields
from .errors import ConsumerError, ProofCheckError, StateFileError
from .proofs import ProofReport, verify_audit_proofs
from .state import AuditStateFile, find_state, state_path
from .testsets import load_committed

MAX_TARGET_DEN = 10**18


def parse_target(text: str) -> tuple[int, int]:
    """"0.9", "90%" or "9/10" -> (9, 10); the target must be in (0, 1]."""
    s = text.strip()
    try:
        if s.endswith("%"):
            f = Fraction(s[:-1].strip()) / 100
        else:
            f = Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise ConsumerError(f"--target must be a fraction such as 0.9, 90% or 9/10, got {text!r}") from None
    if not 0 < f <= 1:
        raise ConsumerError(f"--target must be in (0, 1], got {text!r}")
    if f.denominator > MAX_TARGET_DEN:
        raise ConsumerError(f"--target {text!r} has too many digits (denominator above 10^18)")
    return f.numerator, f.denominator


@dataclass
class Settlement(JobEnd):
    CANCELLED = "{job} cancelled: MC's escrow of {refund} was credited back"

    audit_id: int
    proofs: ProofReport | None = None

    def job(self) -> str:
        return f"audit {self.audit_id}"

    def invalid(self) -> list:
        return self.proofs.invalid if self.proofs else []


def check_proofs(client: ConsumerClient, audit_id: int, test_set: CommittedTestSet | None,
                 reporter: Reporter, verify: Callable[..., ProofReport] = verify_audit_proofs) -> ProofReport:
    """Every accepted proof, checked locally (see :mod:`.proofs`; ``verify`` is the audit kind's
    check), with a one-line summary."""
    report = verify(client, audit_id, test_set)
    reporter.say(f"checked {len(report.checks)} accepted proofs locally (eth_call of the registered verifier "
                 f"{report.verifier}, instances rebuilt by MC): {report.valid} valid, {report.correct}/"
                 f"{len(report.expected)} correct" + (f", {len(report.missing)} missing" if report.missing else ""))
    return report


def proofs_before_finalizing(client: ConsumerClient, audit_id: int, test_set: CommittedTestSet | None,
                             reporter: Reporter, verify: Callable[..., ProofReport] = verify_audit_proofs
                             ) -> ProofReport:
    """check_proofs, refusing (ProofCheckError) when an accepted proof does not verify locally."""
    report = check_proofs(client, audit_id, test_set, reporter, verify)
    if report.invalid:
        raise ProofCheckError(f"refusing to finalize audit {audit_id}: " + "; ".join(
            f"proof of example {c.index} (tx {c.tx_hash}): {c.problem}" for c in report.invalid))
    return report


def settlement(client: ConsumerClient, audit_id: int) -> Settlement | None:
    """How a finished appendix-B audit ended, from its AuditSettled / AuditCancelled event."""
    a = client.call(client.audits, "audit", audit_id)
    return read_settlement(client, client.audits, audit_id, a.token, GUARDED_OUTCOMES)


def read_settlement(client: ConsumerClient, audits, audit_id: int, token: str,
                    outcomes: list[str]) -> Settlement | None:
    """How a finished audit of contract ``audits`` ended (both audit contracts emit the same
    AuditSettled / AuditCancelled events; ``outcomes`` names their outcome enum)."""
    fields = ended_fields(client, audits, audit_id, outcomes)
    return None if fields is None else Settlement(audit_id=audit_id, token=token, **fields)


def available_model(client: ConsumerClient, model_id: int) -> list:
    """The registered model (ModelNotFound otherwise); refused unless it takes new jobs."""
    model = client.call(client.registry, "model", model_id)
    if not client.call(client.registry, "isAvailable", model_id):
        status = MODEL_STATUSES[model.status]
        raise ConsumerError(f"model {model_id} takes no new jobs (status {status}, stake "
                            f"{format_amount(model.stake, model.token)}); pick another model")
    return model


def open_audit(client: ConsumerClient, audits, testset_path: str | Path, test_set: CommittedTestSet, model_id: int,
               target: tuple[int, int], provider_url: str, kind: str = "audit") -> tuple[AuditStateFile, dict, int]:
    """Escrows 2NE + eps and opens an audit of contract ``audits`` (both audit contracts take
    the same `openAudit`); writes MC's state file (``kind``: its name, see :mod:`.state`).
    Returns the state, the AuditOpened fields and the escrow."""
    token = client.call(client.registry, "jobTerms", model_id).token
    escrow = audit_escrow(test_set.n, Prices(*client.call(client.registry, "prices", token)))
    value = client.pay_token(token, audits.address, escrow)
    receipt = client.send(audits, "openAudit", [model_id, test_set.n, *target, test_set.root], value=value)
    opened = client.event(receipt, audits, "AuditOpened")
    audit_id = int(opened["auditId"])
    state = AuditStateFile(state_path(testset_path, audit_id, kind), client.deployment.chain_id, audits.address,
                           audit_id, str(Path(testset_path).resolve()), test_set.root.hex(), model_id, provider_url)
    state.save()
    return state, opened, escrow


def resume_state(client: ConsumerClient, audits, audit_id: int, consumer: str, root: bytes, model_id: int, *,
                 state_file: str | Path | None = None, testset: str | Path | None = None,
                 provider_url: str | None = None, kind: str = "audit") -> tuple[AuditStateFile, CommittedTestSet]:
    """MC's state file of an audit of ``audits`` (found next to ``testset``, or in the working
    folder) and its test set, checked against the audit's consumer and root; without a state
    file, adopts the audit if ``testset`` has its root."""
    if consumer != client.address:
        raise ConsumerError(f"audit {audit_id} was opened by {consumer}, not by this account "
                            f"{client.address}; use the consumer's key (--keystore / $ZKMARKET_PRIVATE_KEY)")
    path = Path(state_file) if state_file else find_state(audit_id, testset, kind=kind)
    if path is not None and path.is_file():
        state = AuditStateFile.load(path)
        state.check_belongs(client.deployment.chain_id, audits.address, audit_id)
        if testset is not None:
            state.testset = str(Path(testset).resolve())
    elif testset is not None:
        state = AuditStateFile(state_path(testset, audit_id, kind), client.deployment.chain_id, audits.address,
                               audit_id, str(Path(testset).resolve()), root.hex(), model_id)
    else:
        raise StateFileError(f"no state file for audit {audit_id} in {Path.cwd()}; pass --testset FILE (the "
                             f"audit's test set; its state file lives next to it) or --state FILE")
    if not Path(state.testset).is_file():
        raise StateFileError(f"the audit's test set {state.testset} is gone; pass --testset FILE")
    test_set = load_committed(state.testset)
    if test_set.root != root:
        raise ConsumerError(f"{state.testset} has root 0x{test_set.root.hex()}, but audit {audit_id} committed "
                            f"0x{root.hex()}: not this audit's test set")
    if provider_url:
        state.provider_url = provider_url
    state.save()
    return state, test_set


class AuditDriver(DriverLoop):
    """What both audit drivers share: the loop over the audit's phase, the settlement and, before
    finalizing, MC's local check of every accepted proof. Subclasses give ``STATES``,
    ``OUTCOMES``, ``VERIFY`` (their proof check), ``step`` and ``_announce``."""

    NOUN = "audit"
    RESUME = "zkmarket audit resume"
    NAME = "audit"  # in messages
    STATES: list[str]
    OUTCOMES: list[str]
    VERIFY: Callable[..., ProofReport]

    def __init__(self, client: ConsumerClient, audits, test_set: CommittedTestSet, state: AuditStateFile,
                 reporter: Reporter | None, *, poll: float, timeout: float | None, verify: bool,
                 clock: Callable[[], float], sleep: Callable[[float], None], post: Callable):
        self.client, self.audits, self.test_set, self.state = client, audits, test_set, state
        self.reporter = reporter or Reporter()
        self.poll, self.timeout, self.verify = poll, timeout, verify
        self.clock, self.sleep, self.post = clock, sleep, post
        self.audit_id = self.job_id = state.audit_id
        self._seen: str | None = None
        self._report: ProofReport | None = None

    def audit(self) -> list:
        return self.client.call(self.audits, "audit", self.audit_id)

    def phase(self) -> str:
        return self.STATES[self.client.call(self.audits, "state", self.audit_id)]

    def _finalize_tx(self) -> None:
        self.client.send(self.audits, "finalize", [self.audit_id])

    def finalize(self) -> None:
        """Checks every accepted proof locally, then finalizes (refuses when one does not verify)."""
        if self.verify:
            self._report = proofs_before_finalizing(self.client, self.audit_id, self.test_set, self.reporter,
                                                    self.VERIFY)
        self._finalize_tx()

    def finished(self) -> Settlement:
        a = self.audit()
        result = read_settlement(self.client, self.audits, self.audit_id, a.token, self.OUTCOMES)
        if result is None:
            raise ConsumerError(f"{self.NAME} {self.audit_id} is finished but its settlement event was not found")
        report = self._report
        if report is None and self.verify and result.state == "Settled" and a.submitted:
            # settled by someone else (MP's agent finalizes too): still check
            report = check_proofs(self.client, self.audit_id, self.test_set, self.reporter, self.VERIFY)
        result.proofs = report
        return result
