"""MC's durable progress in one appendix-B audit: a small JSON file next to the test set
(``testset.audit-7.json`` for audit 7 of ``testset.json``).

It holds what the chain cannot give back: the key and salt of each data transfer (written,
fsynced, before the key commitment is sent, so a crash never loses a committed key) and where
the test set and MP's agent are. Everything else is re-read from the chain on resume. The keys
are secret until revealed, so the file is created readable by its owner only.

A simple audit (AccuracyAudit) keeps the same file without keys, as ``testset.simple-audit-7.json``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..files import read_json, write_json_atomically
from .errors import StateFileError

FORMAT = "zkmarket-consumer-audit"
VERSION = 1


@dataclass
class TransferKeys:
    """One data transfer's key and salt (hex); ``transfer_id`` once the commitment is mined."""

    key: str
    salt: str
    transfer_id: int | None = None

    @property
    def key_bytes(self) -> bytes:
        return bytes.fromhex(self.key)

    @property
    def salt_bytes(self) -> bytes:
        return bytes.fromhex(self.salt)


@dataclass
class AuditStateFile:
    path: Path
    chain_id: int
    audits: str  # GriefingResistantAudit address (AccuracyAudit for a simple audit)
    audit_id: int
    testset: str  # absolute path of the committed test set
    testset_root: str
    model_id: int
    provider_url: str | None = None
    transfers: dict[str, TransferKeys] = field(default_factory=dict)  # "subset" / "rest"

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "chain_id": self.chain_id, "audits": self.audits,
                "audit_id": self.audit_id, "testset": self.testset, "testset_root": self.testset_root,
                "model_id": self.model_id, "provider_url": self.provider_url,
                "transfers": {k: asdict(v) for k, v in self.transfers.items()}}

    def save(self) -> None:
        """Atomic and durable, readable by its owner only."""
        write_json_atomically(self.path, self.to_dict(), private=True)

    @classmethod
    def load(cls, path: str | Path) -> "AuditStateFile":
        p = Path(path)
        d = read_json(p, "the audit state file", StateFileError)
        if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION:
            raise StateFileError(f"{p} is not a zkmarket consumer audit state file (version {VERSION})")
        try:
            return cls(path=p, chain_id=int(d["chain_id"]), audits=str(d["audits"]), audit_id=int(d["audit_id"]),
                       testset=str(d["testset"]), testset_root=str(d["testset_root"]), model_id=int(d["model_id"]),
                       provider_url=d.get("provider_url"),
                       transfers={k: TransferKeys(**v) for k, v in (d.get("transfers") or {}).items()})
        except (KeyError, TypeError, ValueError) as e:
            raise StateFileError(f"{p}: malformed audit state file ({type(e).__name__}: {e})") from None

    def keys_for(self, kind: str) -> TransferKeys:
        """The transfer's key and salt, made and saved (durably) on first use."""
        if kind not in self.transfers:
            self.transfers[kind] = TransferKeys(os.urandom(32).hex(), os.urandom(32).hex())
            self.save()
        return self.transfers[kind]

    def check_belongs(self, chain_id: int, audits: str, audit_id: int) -> None:
        if (self.chain_id, self.audits.lower(), self.audit_id) != (chain_id, audits.lower(), audit_id):
            raise StateFileError(f"{self.path} is the state of audit {self.audit_id} at {self.audits} on chain id "
                                 f"{self.chain_id}, not of audit {audit_id} at {audits} on chain id {chain_id}")


def state_path(testset: str | Path, audit_id: int, kind: str = "audit") -> Path:
    """Where MC's state of ``audit_id`` lives: next to the test set (``kind`` "simple-audit"
    for a simple audit, whose ids are AccuracyAudit's)."""
    p = Path(testset).resolve()
    return p.with_name(f"{p.stem}.{kind}-{audit_id}.json")


def find_state(audit_id: int, testset: str | Path | None = None, search: list[Path] | None = None,
               kind: str = "audit") -> Path | None:
    """The state file of ``audit_id``: next to ``testset`` when given, else in the ``search``
    folders (default: the working directory). Several candidates are an error."""
    if testset is not None:
        p = state_path(testset, audit_id, kind)
        return p if p.is_file() else None
    found = sorted({f.resolve() for d in (search or [Path.cwd()]) for f in d.glob(f"*.{kind}-{audit_id}.json")})
    if len(found) > 1:
        raise StateFileError(f"several state files for audit {audit_id}: {', '.join(map(str, found))}; "
                             f"pick one with --state FILE or --testset FILE")
    return found[0] if found else None
