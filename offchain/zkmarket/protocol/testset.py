"""A consumer's committed test set: each example's input commitment (the circuit's Poseidon) and
label, as leaves of the Merkle root the audits store (AccuracyAudit.testLeaf)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..prover import commit_input
from .merkle import leaf, merkle


def example_leaf(index: int, input_commitment: bytes, label: int) -> bytes:
    """keccak256(bytes.concat(keccak256(abi.encode(uint256 index, bytes32 commitment, uint256 label))))."""
    return leaf(["uint256", "bytes32", "uint256"], [index, input_commitment, label])


@dataclass(frozen=True)
class CommittedTestSet:
    """Examples (raw input bytes, as the circuit reads them) with labels, commitments and proofs."""

    items: list[bytes]
    labels: list[int]
    commitments: list[bytes]
    root: bytes
    proofs: list[list[bytes]]

    @property
    def n(self) -> int:
        return len(self.items)

    def save(self, path: str | Path) -> None:
        """JSON with the raw examples: the consumer keeps it to send and to check the proofs."""
        Path(path).write_text(json.dumps({
            "items": [i.hex() for i in self.items], "labels": self.labels,
            "commitments": [c.hex() for c in self.commitments], "root": self.root.hex(),
        }))

    @classmethod
    def load(cls, path: str | Path) -> "CommittedTestSet":
        """Reads a saved test set and recomputes everything, so a tampered file is refused."""
        try:
            data = json.loads(Path(path).read_text())
            items = [bytes.fromhex(i) for i in data["items"]]
            labels = [int(v) for v in data["labels"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a test set file ({e})") from e
        committed = commit_test_set(items, labels)
        if committed.root.hex() != data.get("root"):
            raise ValueError(f"{path}: root {data.get('root')} does not match its examples "
                             f"(recomputed {committed.root.hex()})")
        return committed


def commit_test_set(items: list[bytes], labels: list[int]) -> CommittedTestSet:
    """Commits N examples; the inputs are byte strings (uint8 pixels), labels class indices."""
    if not items:
        raise ValueError("a test set needs at least one example")
    if len(items) != len(labels):
        raise ValueError(f"{len(items)} examples but {len(labels)} labels")
    for i, lab in enumerate(labels):
        if isinstance(lab, bool) or not isinstance(lab, int) or lab < 0:
            raise ValueError(f"label {i} must be a non-negative integer, got {lab!r}")
    items = [bytes(i) for i in items]
    commitments = [int(commit_input(list(item)), 16).to_bytes(32, "big") for item in items]
    root, proofs = merkle([example_leaf(i, c, lab) for i, (c, lab) in enumerate(zip(commitments, labels))])
    return CommittedTestSet(items, list(labels), commitments, root, proofs)
