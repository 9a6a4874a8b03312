"""Marketplace-wide parameters, fixed at deployment: what the six contracts' constructors take.

Every amount is an exact integer (wei, or the ERC-20 token's base unit): floats are refused, so
``0.1`` can never turn into 100000000000000005 wei. In a config file an amount may be an integer
or a string such as ``"1000000000000000"``, ``"0.001 ether"`` or ``"10 gwei"`` (``ether`` means
10^18 base units, also for a token); a duration may be an integer of seconds or ``"90s"``,
``"15m"``, ``"1h"``, ``"7d"``.

The checks mirror the constructors' reverts (ModelRegistry, AccuracyAudit, ServingRound,
Retrieval, DataTransfer, GriefingResistantAudit), so a bad config fails here with every problem
listed instead of as an opaque failed deployment.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import Any, ClassVar, Mapping

from eth_utils import is_address, to_checksum_address

from .errors import ParamsError

ETH = "0x0000000000000000000000000000000000000000"  # the registry's token address for ether
STAKE_MULTIPLIER = 1000  # ModelRegistry.STAKE_MULTIPLIER: stake = 1000 * N1 * E
MAX_WINDOW = 3650 * 86_400  # MAX_WINDOW / MAX_TRANSFER_WINDOW / MAX_UNBONDING_DELAY of the contracts
UINT16, UINT32, UINT64, UINT256 = 2**16 - 1, 2**32 - 1, 2**64 - 1, 2**256 - 1

_UNITS = {"": 0, "wei": 0, "kwei": 3, "mwei": 6, "gwei": 9, "szabo": 12, "finney": 15, "ether": 18, "eth": 18}
_AMOUNT = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
_DURATION = re.compile(r"^\s*([0-9][0-9_]*)\s*([smhdw]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 7 * 86_400}


def parse_amount(value: Any, *, name: str = "amount") -> int:
    """An exact non-negative integer amount from an int or a string (``"0.001 ether"``)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ParamsError(f"{name}: {value!r} is not an exact integer amount; write an integer or a string "
                          f"such as \"0.001 ether\"")
    if isinstance(value, int):
        if value < 0:
            raise ParamsError(f"{name}: must be >= 0, got {value}")
        return value
    if not isinstance(value, str):
        raise ParamsError(f"{name}: expected an integer or a string, got {type(value).__name__}")
    m = _AMOUNT.match(value)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS:
        raise ParamsError(f"{name}: cannot read amount {value!r} (examples: 1000000000000000, \"0.001 ether\", "
                          f"\"10 gwei\"; units: {', '.join(u for u in _UNITS if u)})")
    try:
        with localcontext(Context(prec=200)):  # the default 28 digits would round a uint256 (78 digits)
            exact = Decimal(m.group(1).replace("_", "")).scaleb(_UNITS[unit])
    except InvalidOperation as e:  # pragma: no cover - the regex admits only valid numbers
        raise ParamsError(f"{name}: cannot read amount {value!r}") from e
    if exact.adjusted() > 78:
        raise ParamsError(f"{name}: {value!r} is larger than any uint256")
    if exact != exact.to_integral_value():
        raise ParamsError(f"{name}: {value!r} is not a whole number of base units (wei)")
    return int(exact)


def parse_duration(value: Any, *, name: str = "duration") -> int:
    """Seconds from an int or a string (``"3600"``, ``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"``)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ParamsError(f"{name}: {value!r} is not a whole number of seconds")
    if isinstance(value, int):
        if value < 0:
            raise ParamsError(f"{name}: must be >= 0 seconds, got {value}")
        return value
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return int(m.group(1).replace("_", "")) * _SECONDS[m.group(2)]
    raise ParamsError(f"{name}: cannot read duration {value!r} (seconds, or e.g. \"90s\", \"15m\", \"1h\", \"7d\")")


def _count(value: Any, *, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamsError(f"{name}: expected an integer, got {value!r}")
    return value


def _address(value: Any, *, name: str, allow_eth: bool = False) -> str:
    if allow_eth and isinstance(value, str) and value.strip().upper() == "ETH":
        return ETH
    if not isinstance(value, str) or not is_address(value):
        hint = ', or "ETH"' if allow_eth else ""
        raise ParamsError(f"{name}: {value!r} is not an address (0x followed by 40 hex digits{hint})")
    return to_checksum_address(value)


def _bounded(problems: list[str], section: str, name: str, value: int, *, lo: int = 0, hi: int) -> None:
    if not lo <= value <= hi:
        problems.append(f"{section}.{name} must be between {lo} and {hi}, got {value}")


def _raise(problems: list[str]) -> None:
    if problems:
        raise ParamsError("invalid market parameters:\n  " + "\n  ".join(problems))


class _Config:
    """A constructor config struct: fields in the Solidity struct's order, ints coerced and checked."""

    SECTION: ClassVar[str]
    DURATIONS: ClassVar[frozenset[str]] = frozenset()
    BITS: ClassVar[Mapping[str, int]]

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            raw = getattr(self, f.name)
            where = f"market.{self.SECTION}.{f.name}"
            value = parse_duration(raw, name=where) if f.name in self.DURATIONS else _count(raw, name=where)
            object.__setattr__(self, f.name, value)
        problems: list[str] = []
        for f in fields(self):  # type: ignore[arg-type]
            _bounded(problems, f"market.{self.SECTION}", f.name, getattr(self, f.name), hi=self.BITS[f.name])
        if not problems:
            self._check(problems)
        _raise(problems)

    def _check(self, problems: list[str]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _windows(self, problems: list[str], names: tuple[str, ...]) -> None:
        for n in names:
            v = getattr(self, n)
            if v == 0:
                problems.append(f"market.{self.SECTION}.{n} must be > 0")
            elif v > MAX_WINDOW:
                problems.append(f"market.{self.SECTION}.{n} must be at most {MAX_WINDOW} s (3650 days), got {v}")

    def _product(self, problems: list[str], a: str, b: str) -> None:
        if getattr(self, a) * getattr(self, b) > MAX_WINDOW:
            problems.append(f"market.{self.SECTION}: {a} * {b} = {getattr(self, a) * getattr(self, b)} s exceeds "
                            f"the contracts' longest window {MAX_WINDOW} s")

    def _beta(self, problems: list[str]) -> None:
        lo, hi = getattr(self, "min_beta"), getattr(self, "max_beta")
        if lo < 2:
            problems.append(f"market.{self.SECTION}.min_beta must be >= 2 (the paper's beta >= 2), got {lo}")
        if hi < lo:
            problems.append(f"market.{self.SECTION}.max_beta ({hi}) must be >= min_beta ({lo})")

    def as_struct(self) -> tuple[int, ...]:
        """The ABI tuple, in the Solidity struct's field order."""
        return tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]


@dataclass(frozen=True)
class AuditConfig(_Config):
    """AccuracyAudit's ``AuditConfig`` (paper 5.2)."""

    SECTION: ClassVar[str] = "accuracy_audit"
    DURATIONS: ClassVar[frozenset[str]] = frozenset({"proof_time_per_example", "join_window", "decision_window",
                                                     "proof_window"})
    BITS: ClassVar[Mapping[str, int]] = {"max_n": UINT32, "proof_time_per_example": UINT32, "join_window": UINT64,
                                         "decision_window": UINT64, "proof_window": UINT64}

    max_n: int = 1024
    proof_time_per_example: int = 120
    join_window: int = 3_600
    decision_window: int = 3_600
    proof_window: int = 3_600

    def _check(self, problems: list[str]) -> None:
        if self.max_n == 0:
            problems.append(f"market.{self.SECTION}.max_n must be > 0")
        self._windows(problems, ("join_window", "decision_window", "proof_window"))
        self._product(problems, "max_n", "proof_time_per_example")


@dataclass(frozen=True)
class RoundConfig(_Config):
    """ServingRound's ``RoundConfig`` (paper 5.3)."""

    SECTION: ClassVar[str] = "serving_round"
    DURATIONS: ClassVar[frozenset[str]] = frozenset({"max_duration", "proof_window", "join_window", "answer_window"})
    BITS: ClassVar[Mapping[str, int]] = {"min_beta": UINT16, "max_beta": UINT16, "max_k": UINT32,
                                         "max_duration": UINT32, "proof_window": UINT32, "join_window": UINT64,
                                         "answer_window": UINT64}

    min_beta: int = 2
    max_beta: int = 10
    max_k: int = 1024
    max_duration: int = 7 * 86_400
    proof_window: int = 120
    join_window: int = 3_600
    answer_window: int = 3_600

    def _check(self, problems: list[str]) -> None:
        self._beta(problems)
        if self.max_k == 0:
            problems.append(f"market.{self.SECTION}.max_k must be > 0")
        self._windows(problems, ("max_duration", "join_window", "answer_window"))
        self._product(problems, "max_k", "proof_window")


@dataclass(frozen=True)
class RetrievalConfig(_Config):
    """Retrieval's ``RetrievalConfig`` (paper 5.4)."""

    SECTION: ClassVar[str] = "retrieval"
    DURATIONS: ClassVar[frozenset[str]] = frozenset({"max_duration", "proof_window", "join_window",
                                                     "challenge_window", "answer_window"})
    BITS: ClassVar[Mapping[str, int]] = {"min_beta": UINT16, "max_beta": UINT16, "max_documents": UINT32,
                                         "max_duration": UINT32, "proof_window": UINT32, "join_window": UINT64,
                                         "challenge_window": UINT64, "answer_window": UINT64}

    min_beta: int = 2
    max_beta: int = 10
    max_documents: int = 4096
    max_duration: int = 7 * 86_400
    proof_window: int = 120
    join_window: int = 3_600
    challenge_window: int = 3_600
    answer_window: int = 3_600

    def _check(self, problems: list[str]) -> None:
        self._beta(problems)
        if self.max_documents == 0:
            problems.append(f"market.{self.SECTION}.max_documents must be > 0")
        self._windows(problems, ("max_duration", "join_window", "challenge_window", "answer_window"))
        self._product(problems, "max_documents", "proof_window")


@dataclass(frozen=True)
class TransferConfig(_Config):
    """DataTransferService's constructor windows (paper appendix B, data transfer)."""

    SECTION: ClassVar[str] = "data_transfer"
    DURATIONS: ClassVar[frozenset[str]] = frozenset({"ack_window", "reveal_window", "contest_window"})
    BITS: ClassVar[Mapping[str, int]] = {"ack_window": UINT64, "reveal_window": UINT64, "contest_window": UINT64}

    ack_window: int = 3_600
    reveal_window: int = 3_600
    contest_window: int = 3_600

    def _check(self, problems: list[str]) -> None:
        self._windows(problems, ("ack_window", "reveal_window", "contest_window"))


@dataclass(frozen=True)
class GuardedConfig(_Config):
    """GriefingResistantAudit's ``GuardedConfig`` (paper appendix B)."""

    SECTION: ClassVar[str] = "griefing_resistant_audit"
    DURATIONS: ClassVar[frozenset[str]] = frozenset({"proof_time_per_example", "join_window", "send_window",
                                                     "decision_window", "proof_window"})
    BITS: ClassVar[Mapping[str, int]] = {"max_n": UINT32, "proof_time_per_example": UINT32, "join_window": UINT64,
                                         "send_window": UINT64, "decision_window": UINT64, "proof_window": UINT64}

    max_n: int = 1024
    proof_time_per_example: int = 120
    join_window: int = 3_600
    send_window: int = 3_600
    decision_window: int = 3_600
    proof_window: int = 3_600

    def _check(self, problems: list[str]) -> None:
        if self.max_n == 0:
            problems.append(f"market.{self.SECTION}.max_n must be > 0")
        self._windows(problems, ("join_window", "send_window", "decision_window", "proof_window"))
        self._product(problems, "max_n", "proof_time_per_example")


@dataclass(frozen=True)
class TokenPrices:
    """A payment token with its prices (``TokenPrices`` in contracts/src/lib/Types.sol).

    ``example_e`` E: one labeled test example; ``proof_z`` Z: one proof; ``inference_p`` P: one
    inference; ``fee_epsilon``: the escrow service's fee per audit and party. E > Z > P > 0."""

    token: str = ETH
    example_e: int = 10**15
    proof_z: int = 10**14
    inference_p: int = 10**13
    fee_epsilon: int = 10**12

    def __post_init__(self) -> None:
        token = _address(self.token, name="market.tokens[].token", allow_eth=True)
        object.__setattr__(self, "token", token)
        where = f"market.tokens[{'ETH' if token == ETH else token}]"
        for n in ("example_e", "proof_z", "inference_p", "fee_epsilon"):
            object.__setattr__(self, n, parse_amount(getattr(self, n), name=f"{where}.{n}"))
        problems: list[str] = []
        for n in ("example_e", "proof_z", "inference_p", "fee_epsilon"):
            _bounded(problems, where, n, getattr(self, n), hi=UINT256)
        if not (self.example_e > self.proof_z > self.inference_p > 0):
            problems.append(f"{where}: prices must satisfy E > Z > P > 0 (example_e > proof_z > inference_p > 0), "
                            f"got E={self.example_e}, Z={self.proof_z}, P={self.inference_p}")
        _raise(problems)

    @property
    def is_eth(self) -> bool:
        return self.token == ETH

    def as_struct(self) -> tuple[str, tuple[int, int, int, int]]:
        """The ABI tuple ``(token, (E, Z, P, epsilon))``."""
        return (self.token, (self.example_e, self.proof_z, self.inference_p, self.fee_epsilon))

    def to_dict(self) -> dict[str, str]:
        # Amounts as decimal strings: JSON readers with 53-bit numbers (JavaScript) stay exact.
        return {"token": self.token, "example_e": str(self.example_e), "proof_z": str(self.proof_z),
                "inference_p": str(self.inference_p), "fee_epsilon": str(self.fee_epsilon)}


_SECTIONS: dict[str, type[_Config]] = {
    "accuracy_audit": AuditConfig,
    "serving_round": RoundConfig,
    "retrieval": RetrievalConfig,
    "data_transfer": TransferConfig,
    "griefing_resistant_audit": GuardedConfig,
}


@dataclass(frozen=True)
class MarketParams:
    """Everything the deployment fixes. ``fee_recipient=None`` means the deployer's account.

    ``n1`` is the paper's N1 (the size of the subset MP sees before deciding, in the
    griefing-resistant audit); every model's stake is 1000 * N1 * E of its payment token."""

    tokens: tuple[TokenPrices, ...] = (TokenPrices(),)
    n1: int = 2
    fee_recipient: str | None = None
    unbonding_delay: int = 7 * 86_400
    accuracy_audit: AuditConfig = field(default_factory=AuditConfig)
    serving_round: RoundConfig = field(default_factory=RoundConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    data_transfer: TransferConfig = field(default_factory=TransferConfig)
    griefing_resistant_audit: GuardedConfig = field(default_factory=GuardedConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "n1", _count(self.n1, name="market.n1"))
        object.__setattr__(self, "unbonding_delay", parse_duration(self.unbonding_delay, name="market.unbonding_delay"))
        if self.fee_recipient is not None:
            object.__setattr__(self, "fee_recipient", _address(self.fee_recipient, name="market.fee_recipient"))
        problems: list[str] = []
        if not self.tokens:
            problems.append("market.tokens: at least one payment token is needed")
        seen: set[str] = set()
        for t in self.tokens:
            if not isinstance(t, TokenPrices):
                problems.append(f"market.tokens: expected TokenPrices, got {type(t).__name__}")
                continue
            if t.token in seen:
                problems.append(f"market.tokens: token {t.token} is listed twice")
            seen.add(t.token)
        if self.n1 <= 0:
            problems.append(f"market.n1 must be > 0, got {self.n1}")
        elif self.n1 >= self.griefing_resistant_audit.max_n:
            problems.append(f"market.n1 ({self.n1}) must be < griefing_resistant_audit.max_n "
                            f"({self.griefing_resistant_audit.max_n}): an appendix-B audit needs N > N1")
        for t in self.tokens:
            if isinstance(t, TokenPrices) and self.n1 > 0 and STAKE_MULTIPLIER * self.n1 * t.example_e > UINT256:
                problems.append(f"market: the stake 1000 * n1 * E of token {t.token} overflows uint256")
        if self.fee_recipient == ETH:
            problems.append("market.fee_recipient must not be the zero address")
        if not 0 < self.unbonding_delay <= MAX_WINDOW:
            problems.append(f"market.unbonding_delay must be between 1 and {MAX_WINDOW} s, got {self.unbonding_delay}")
        _raise(problems)

    # ------------------------------------------------------------------ queries
    def prices(self, token: str = ETH) -> TokenPrices:
        """The prices of ``token`` (``"ETH"`` or an address)."""
        address = _address(token, name="token", allow_eth=True)
        for t in self.tokens:
            if t.token == address:
                return t
        raise ParamsError(f"token {address} is not a payment token of this market")

    def required_stake(self, token: str = ETH) -> int:
        """1000 * N1 * E: what registering a model paid in ``token`` locks."""
        return STAKE_MULTIPLIER * self.n1 * self.prices(token).example_e

    def with_fee_recipient(self, address: str) -> "MarketParams":
        return replace(self, fee_recipient=address)

    # ------------------------------------------------------------------ (de)serialization
    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, base: "MarketParams | None" = None) -> "MarketParams":
        """Parameters from a ``[market]`` table: given keys override ``base`` (default: the
        defaults), key by key inside each section. Unknown keys are errors (typos must not pass)."""
        base = base or cls()
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParamsError(f"market: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        kwargs: dict[str, Any] = {}
        if "tokens" in data:
            tokens = data["tokens"]
            if not isinstance(tokens, list):
                raise ParamsError("market.tokens must be a list of tables ([[market.tokens]] in TOML)")
            parsed = []
            for i, t in enumerate(tokens):
                if not isinstance(t, Mapping):
                    raise ParamsError(f"market.tokens[{i}] must be a table")
                tkeys = {f.name for f in fields(TokenPrices)}
                bad = sorted(set(t) - tkeys)
                if bad:
                    raise ParamsError(f"market.tokens[{i}]: unknown key(s) {', '.join(bad)} "
                                      f"(known: {', '.join(sorted(tkeys))})")
                missing = sorted(tkeys - {"token"} - set(t))
                if missing:
                    raise ParamsError(f"market.tokens[{i}]: missing {', '.join(missing)}")
                parsed.append(TokenPrices(**t))
            kwargs["tokens"] = tuple(parsed)
        for key in ("n1", "fee_recipient", "unbonding_delay"):
            if key in data:
                kwargs[key] = data[key]
        for section, config_cls in _SECTIONS.items():
            if section not in data:
                continue
            table = data[section]
            if not isinstance(table, Mapping):
                raise ParamsError(f"market.{section} must be a table")
            ckeys = {f.name for f in fields(config_cls)}
            bad = sorted(set(table) - ckeys)
            if bad:
                raise ParamsError(f"market.{section}: unknown key(s) {', '.join(bad)} (known: {', '.join(sorted(ckeys))})")
            kwargs[section] = replace(getattr(base, section), **table)
        return replace(base, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON/TOML-ready dict that :meth:`from_dict` reads back to an equal object."""
        out: dict[str, Any] = {
            "tokens": [t.to_dict() for t in self.tokens],
            "n1": self.n1,
            "unbonding_delay": self.unbonding_delay,
        }
        if self.fee_recipient is not None:
            out["fee_recipient"] = self.fee_recipient
        for section in _SECTIONS:
            out[section] = asdict(getattr(self, section))
        return out
