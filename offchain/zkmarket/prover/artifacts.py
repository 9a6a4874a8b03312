"""Typed artifacts of the proving pipeline, each saved as a file and named by content hash."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .errors import ArtifactError


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _describe(data: object) -> str:
    """What a JSON document given in the wrong place is, for a one-line error."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}"
    if data.get("format") == "zkmarket-qmodel":
        return "a quantized model (format zkmarket-qmodel)"
    if "params" in data and "num_instances" in data:
        return "compiled circuit settings"
    return f"the fields {', '.join(sorted(map(str, data)))}"


@dataclass(frozen=True)
class Srs:
    """KZG parameters on disk (halo2 format). ``insecure`` marks the locally generated
    development SRS; ``origin`` says where the powers came from (and the published file's hash)."""

    path: Path
    sha256: str
    k: int
    insecure: bool
    origin: str


@dataclass(frozen=True)
class CompiledCircuit:
    """Circuit settings: the model plus everything that fixes the circuit's shape."""

    settings_json: str

    @property
    def settings(self) -> dict:
        return json.loads(self.settings_json)

    @property
    def id(self) -> str:
        """Content hash of the settings: keys and verifiers are cached under it."""
        return sha256_bytes(self.settings_json.encode())[:16]

    @property
    def k(self) -> int:
        return int(self.settings["params"]["k"])

    @property
    def num_instances(self) -> int:
        return int(self.settings["num_instances"])

    @property
    def weight_commitment(self) -> str:
        return self.settings["weight_commitment"]

    @property
    def visibility(self) -> str:
        return self.settings["visibility"]

    @property
    def output(self) -> str:
        return self.settings["output"]

    def save(self, path: Path) -> Path:
        path.write_text(self.settings_json)
        return path

    @classmethod
    def load(cls, path: Path) -> "CompiledCircuit":
        try:
            text = Path(path).read_text()
            json.loads(text)["params"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ArtifactError(f"{path} is not a compiled circuit (zkmarket prover compile): {e}") from e
        return cls(text)


@dataclass(frozen=True)
class Keys:
    pk_path: Path
    vk_path: Path
    srs: Srs


TRANSCRIPTS = ("keccak", "poseidon")


@dataclass(frozen=True)
class Proof:
    """A proof with its public instances (hex field elements, in the circuit's fixed order:
    input commitment, weight commitment, then logits or the top-1 class). Its `transcript` says
    what checks it: ``keccak`` the circuit's own (on-chain) verifier, ``poseidon`` only an
    aggregation circuit (see `aggregate`)."""

    proof: str
    instances: list[str]
    logits: list[int]
    predicted_class: int
    circuit_id: str
    transcript: str = "keccak"

    @property
    def input_commitment(self) -> str:
        return self.instances[0]

    @property
    def weight_commitment(self) -> str:
        return self.instances[1]

    @property
    def outputs(self) -> list[int]:
        return [int(x, 16) for x in self.instances[2:]]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def load(cls, path: Path) -> "Proof":
        what = f"{path} is not a proof file (zkmarket prover prove writes them)"
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise ArtifactError(f"{what}: {e}") from e
        expected = sorted(f.name for f in fields(cls))
        if isinstance(data, dict):
            data.setdefault("transcript", "keccak")  # proof files written before aggregation existed
        if not isinstance(data, dict) or sorted(data) != expected:
            raise ArtifactError(f"{what}: it holds {_describe(data)}; a proof holds {', '.join(expected)}")
        if not (isinstance(data["proof"], str) and isinstance(data["circuit_id"], str)
                and data["transcript"] in TRANSCRIPTS
                and isinstance(data["predicted_class"], int)
                and isinstance(data["instances"], list) and all(isinstance(x, str) for x in data["instances"])
                and isinstance(data["logits"], list) and all(isinstance(x, int) for x in data["logits"])):
            raise ArtifactError(f"{what}: its fields do not have a proof's types (hex strings, integers)")
        return cls(**data)


ACCUMULATOR_INSTANCES = 12  # the aggregation circuit's KZG accumulator: 2 points, 2 coordinates, 3 limbs


@dataclass(frozen=True)
class AggregationLevel:
    """Keys of one aggregation circuit: `batch` proofs of the level below it (of the inference
    circuit, for the first level) in one (settings: shape and witness break points, written by
    the prover at set-up)."""

    settings_json: str
    pk_path: Path
    vk_path: Path
    srs: Srs

    @property
    def settings(self) -> dict:
        return json.loads(self.settings_json)

    @property
    def id(self) -> str:
        return sha256_bytes(self.settings_json.encode())[:16]

    @property
    def batch(self) -> int:
        return int(self.settings["batch"])

    @property
    def k(self) -> int:
        return int(self.settings["params"]["degree"])

    @property
    def num_instances(self) -> int:
        return int(self.settings["num_instances"])


@dataclass(frozen=True)
class AggregationKeys:
    """Keys of an aggregation tree for batches of `batch` proofs of the circuit `inner_circuit_id`:
    `levels[0]` aggregates inference proofs, each next level proofs of the one before, and only
    the last level's (the root's) proof goes on chain; `batch` is the product of the levels'."""

    levels: tuple[AggregationLevel, ...]
    inner_circuit_id: str

    @property
    def root(self) -> AggregationLevel:
        return self.levels[-1]

    @property
    def id(self) -> str:
        return self.root.id

    @property
    def batch(self) -> int:
        return math.prod(level.batch for level in self.levels)

    @property
    def k(self) -> int:
        return self.root.k

    @property
    def num_instances(self) -> int:
        return self.root.num_instances

    @property
    def tree_proofs(self) -> int:
        """Proofs one full batch takes: every level's circuits (4 + 1 + 1 for 4:22,4:22,1:22)."""
        nodes, above = 0, 1
        for level in self.levels:
            above *= level.batch
            nodes += self.batch // above
        return nodes

    @property
    def shape(self) -> str:
        """The levels as `batch:k` pairs, as `--levels` takes them."""
        return ",".join(f"{level.batch}:{level.k}" for level in self.levels)


@dataclass(frozen=True)
class AggregatedProof:
    """One proof standing for `count` inner proofs (a batch padded to the circuit's size by
    repeating the last one). `instances`: the accumulator limbs, then each slot's inner instances."""

    proof: str
    instances: list[str]
    count: int
    aggregation_id: str
    inner_circuit_id: str

    @property
    def accumulator(self) -> list[int]:
        return [int(x, 16) for x in self.instances[:ACCUMULATOR_INSTANCES]]

    def inner_instances(self, n: int) -> list[list[str]]:
        """Each of the `count` real examples' instances (`n` per inner proof)."""
        body = self.instances[ACCUMULATOR_INSTANCES:]
        return [body[i * n:(i + 1) * n] for i in range(self.count)]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def load(cls, path: Path) -> "AggregatedProof":
        what = f"{path} is not an aggregated proof file (zkmarket prover aggregate writes them)"
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError) as e:
            raise ArtifactError(f"{what}: {e}") from e
