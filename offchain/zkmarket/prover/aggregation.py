"""Aggregation: one proof, checked on chain once, standing for a batch of inference proofs of one
circuit (the inner verifying key is a constant of the aggregation circuit, so the batch can only
hold proofs of that circuit). Inner proofs are made for it with `prove_for_aggregation` (a
Poseidon transcript; the circuit's own verifier does not take them).

A batch larger than one circuit can hold in memory is aggregated as a tree: the first level
aggregates inference proofs, each next level aggregates proofs of the level before, and the root
(the last level) makes the one proof for the chain. A last level of one proof (compression)
re-proves the tree's result in a circuit with few columns: its verifier contract is what the chain
pays for, and each column costs it about 36k gas (benchmarks/aggregation_bench.py).

Keys are cached per (inner circuit, SRS, batch size, k) and level, like the circuit's own keys.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import zkmarket_prover as native

from .artifacts import AggregatedProof, AggregationKeys, AggregationLevel, CompiledCircuit, Keys, Proof, Srs
from .errors import ArtifactError, InputError, ProofError, SrsError
from .stages import _atomic_write, cache_dir, dev_srs, flatten_input

ACCUMULATOR_INSTANCES = native.ACCUMULATOR_INSTANCES
MAX_BATCH = 64  # ModelRegistry.MAX_AGGREGATION_BATCH
FAN_IN = 4  # proofs per circuit of the default tree: 2^22 rows, about 16 GiB to key and prove
ROOT_K = 22  # the compression level: one proof at 2^22 rows fits in two advice columns
Levels = list[tuple[int, int]]  # (proofs per circuit, log2 rows), first level first
Progress = Callable[[str], None]


def level_k(batch: int) -> int:
    """Rows of an aggregation circuit of `batch` proofs: about 5M cells per inner proof, so 2^20
    rows per proof, doubling with the batch, keep it at about five advice columns. Its verifier
    contract grows with the columns: with ten (2^19 rows per proof) it passes the EVM's
    24,576-byte code limit (27,698 B measured), with five it is 19,368 B."""
    return 20 + math.ceil(math.log2(batch))


def default_levels(batch: int) -> Levels:
    """One circuit for up to FAN_IN proofs; above that a tree of FAN_IN-proof circuits (the
    largest this 20 GB machine keys and proves) closed by a compression level at ROOT_K."""
    if batch <= FAN_IN:
        return [(batch, level_k(batch))]
    fan_ins, left = [], batch
    while left > FAN_IN:
        if left % FAN_IN:
            raise InputError(f"the default aggregation tree takes batches of up to {FAN_IN} or {FAN_IN}^n times up "
                             f"to {FAN_IN}, not {batch}: give the levels (e.g. --levels 4:22,4:22,1:22)")
        fan_ins.append(FAN_IN)
        left //= FAN_IN
    fan_ins.append(left)
    return [(f, level_k(f)) for f in fan_ins] + [(1, ROOT_K)]


def parse_levels(text: str) -> Levels:
    """`4:22,4:22,1:22` -> [(4, 22), (4, 22), (1, 22)]: proofs per circuit and log2 rows, first
    level first."""
    try:
        levels = [(int(b), int(k)) for b, k in (part.split(":") for part in text.split(","))]
    except ValueError:
        raise InputError(f"levels are BATCH:K pairs separated by commas (e.g. 4:22,4:22,1:22), got {text!r}") from None
    for b, k in levels:
        if b < 1 or not 18 <= k <= 26:
            raise InputError(f"each level needs a batch >= 1 and 18 <= k <= 26, got {b}:{k}")
    return levels


@dataclass(frozen=True)
class _Inner:
    """What a level aggregates: the inference circuit or the level below."""

    settings_json: str
    is_aggregation: bool
    srs: Srs
    vk_path: Path
    id: str


def _inner_circuit(circuit: CompiledCircuit, keys: Keys) -> _Inner:
    return _Inner(circuit.settings_json, False, keys.srs, keys.vk_path, circuit.id)


def _inner_level(level: AggregationLevel) -> _Inner:
    return _Inner(level.settings_json, True, level.srs, level.vk_path, level.id)


def setup_aggregation(circuit: CompiledCircuit, keys: Keys, batch: int, k: int | None = None,
                      srs: Srs | None = None, levels: Levels | None = None,
                      progress: Progress | None = None) -> AggregationKeys:
    """Makes (or reuses from the cache) the keys of every level aggregating `batch` proofs of
    `circuit`: `levels` (default_levels(batch), or one level at 2^k rows when `k` is given).
    `srs` must come from the same powers of tau as `keys.srs` (the dev SRS by default) and hold
    2^k points for the largest level."""
    if not 1 <= batch <= MAX_BATCH:
        raise InputError(f"batch size must be 1..{MAX_BATCH}, got {batch}")
    levels = levels or ([(batch, k)] if k else default_levels(batch))
    if math.prod(b for b, _ in levels) != batch:
        raise InputError(f"levels {levels} aggregate {math.prod(b for b, _ in levels)} proofs, not {batch}")
    if srs is None and not keys.srs.insecure:
        raise SrsError("the aggregation circuits need an SRS from the same powers of tau as the circuit's")
    if srs is not None and srs.k < max(lk for _, lk in levels):
        raise SrsError(f"the SRS holds 2^{srs.k} points, the aggregation needs 2^{max(lk for _, lk in levels)}")
    inner, made = _inner_circuit(circuit, keys), []
    for depth, (level_batch, level_k_) in enumerate(levels):
        level_srs = srs or dev_srs(level_k_)
        d = cache_dir("keys", f"agg-{inner.id}-{inner.srs.sha256[:16]}-{level_srs.sha256[:16]}-b{level_batch}-k{level_k_}")
        settings_path, pk_path, vk_path = d / "settings.json", d / "pk.bin", d / "vk.bin"
        if not (settings_path.exists() and pk_path.exists() and vk_path.exists()):
            if progress:
                progress(f"aggregation keys, level {depth + 1} of {len(levels)}: {level_batch} proofs at 2^{level_k_} rows")
            pk_tmp, vk_tmp = d / "pk.bin.part", d / "vk.bin.part"
            settings = native.aggregation_setup(inner.settings_json, inner.is_aggregation, str(inner.srs.path),
                                                inner.srs.sha256, str(inner.vk_path), str(level_srs.path),
                                                level_srs.sha256, level_k_, level_batch, str(pk_tmp), str(vk_tmp))
            os.replace(vk_tmp, vk_path)
            os.replace(pk_tmp, pk_path)
            _atomic_write(settings_path, lambda p: open(p, "w").write(settings))
        level = AggregationLevel(settings_json=settings_path.read_text(), pk_path=pk_path, vk_path=vk_path,
                                 srs=level_srs)
        made.append(level)
        inner = _inner_level(level)
    return AggregationKeys(levels=tuple(made), inner_circuit_id=circuit.id)


def prove_for_aggregation(circuit: CompiledCircuit, keys: Keys, input_values) -> Proof:
    """Proves one inference for an aggregated batch (same instances as `prove`)."""
    out = json.loads(native.prove_for_aggregation(circuit.settings_json, str(keys.srs.path), keys.srs.sha256,
                                                  str(keys.pk_path), flatten_input(input_values)))
    return Proof(proof=out["proof"], instances=out["instances"], logits=out["logits"],
                 predicted_class=out["class"], circuit_id=circuit.id, transcript="poseidon")


Node = tuple[str, list[str]]  # a proof (hex) and its instances (hex)


class AggregationPending(Exception):
    """`aggregate` proved as many of the tree's proofs as it was allowed to (`max_new_nodes`);
    they are kept in its `work_dir`, and the same call later goes on from there."""


class _Tree:
    """Makes the proofs of an aggregation tree, each once: a node asked for twice (padding) is
    made once, and with `work_dir` every node is kept on disk as soon as it exists, so a run
    that is killed resumes where it stopped."""

    def __init__(self, agg: AggregationKeys, work_dir: Path | None, progress: Progress | None,
                 max_new_nodes: int | None):
        self.agg, self.work_dir, self.progress, self.made = agg, work_dir, progress, {}
        self.budget = max_new_nodes

    def node(self, depth: int, inner: _Inner, group: list[Node]) -> Node:
        level = self.agg.levels[depth]
        root = depth == len(self.agg.levels) - 1
        key = hashlib.sha256(json.dumps([level.id, root, group]).encode()).hexdigest()[:32]
        path = self.work_dir / f"{level.id}-{key}.json" if self.work_dir else None
        if key not in self.made and path and path.exists():
            self._read_back(depth, path, key)
        if key not in self.made:
            if self.budget is not None and self.budget <= 0:
                raise AggregationPending(f"level {depth + 1} of {len(self.agg.levels)} still to prove")
            if self.budget is not None:
                self.budget -= 1
            if self.progress:
                self.progress(f"aggregating {len(group)} proofs, level {depth + 1} of {len(self.agg.levels)}")
            out = json.loads(native.aggregate_proofs(
                level.settings_json, str(level.srs.path), level.srs.sha256, str(level.pk_path),
                inner.settings_json, inner.is_aggregation, str(inner.srs.path), inner.srs.sha256,
                str(inner.vk_path), [(proof, list(instances)) for proof, instances in group], root))
            self.made[key] = (out["proof"], out["instances"])
            if path:
                path.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(path, lambda p: open(p, "w").write(json.dumps(self.made[key])))
                _CHECKED.add(_stamp(path))
        return self.made[key]

    def _read_back(self, depth: int, path: Path, key: str) -> None:
        """Takes a node from the work dir if it verifies (once per file and process): a file that
        was cut short or changed would otherwise reach the next level, or the chain as the root,
        and fail there every time. One that does not verify is removed, to be made again."""
        level, root = self.agg.levels[depth], depth == len(self.agg.levels) - 1
        try:
            proof, instances = json.loads(path.read_text())
            sound = _stamp(path) in _CHECKED or native.verify_aggregated(
                level.settings_json, str(level.srs.path), level.srs.sha256, str(level.vk_path), proof,
                list(instances), root)
        except SrsError:
            raise
        except (ValueError, TypeError):
            sound = False
        if sound:
            _CHECKED.add(_stamp(path))
            self.made[key] = (proof, instances)
        else:
            path.unlink()
            if self.progress:
                self.progress(f"discarded {path.name}: it does not verify, proving it again")


_CHECKED: set[tuple[str, int, int]] = set()  # work-dir files this process wrote or verified


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def aggregate(circuit: CompiledCircuit, keys: Keys, agg: AggregationKeys, proofs: list[Proof],
              work_dir: Path | None = None, progress: Progress | None = None,
              max_new_nodes: int | None = None) -> AggregatedProof:
    """One aggregated proof for `proofs` (1 to `agg.batch`, in the order the chain will see the
    examples). Every inner proof is checked first: one of another circuit, made for the on-chain
    verifier instead, or that does not verify is refused by its position. A short batch is padded
    by repeating its last proof, so every slot after the real ones holds the last example's
    instances (at every level: a padding node aggregates the last example only).
    `work_dir`: where the tree's intermediate proofs are kept, to resume after a crash.
    `max_new_nodes` (with `work_dir`): prove at most that many of the tree's proofs in this call,
    then raise AggregationPending (a caller with other work, like the agent, calls again)."""
    if max_new_nodes is not None and work_dir is None:
        raise InputError("max_new_nodes needs a work_dir to keep the proofs made so far")
    if agg.inner_circuit_id != circuit.id:
        raise ArtifactError(f"aggregation keys are for circuit {agg.inner_circuit_id}, not {circuit.id}")
    if not 1 <= len(proofs) <= agg.batch:
        raise InputError(f"an aggregated batch holds 1 to {agg.batch} proofs, got {len(proofs)}")
    for i, p in enumerate(proofs):
        if p.circuit_id != circuit.id:
            raise ArtifactError(f"proof {i} is for circuit {p.circuit_id}, not {circuit.id}")
        if p.transcript != "poseidon":
            raise ProofError(f"proof {i} was made for the on-chain verifier; aggregation takes proofs made by "
                             "prove_for_aggregation (zkmarket prover prove --for-aggregation)")
    tree = _Tree(agg, work_dir, progress, max_new_nodes)
    nodes: list[Node] = [(p.proof, p.instances) for p in proofs]
    inners = [_inner_circuit(circuit, keys)] + [_inner_level(level) for level in agg.levels]

    def padding(depth: int) -> Node:
        """The input of level `depth` whose examples are all the last one."""
        if depth == 0:
            return (proofs[-1].proof, proofs[-1].instances)
        return tree.node(depth - 1, inners[depth - 1], [padding(depth - 1)] * agg.levels[depth - 1].batch)

    for depth, level in enumerate(agg.levels):
        groups = [nodes[i:i + level.batch] for i in range(0, len(nodes), level.batch)]
        if len(groups[-1]) < level.batch:
            groups[-1] = groups[-1] + [padding(depth)] * (level.batch - len(groups[-1]))
        nodes = [tree.node(depth, inners[depth], group) for group in groups]
    (proof, instances), = nodes
    return AggregatedProof(proof=proof, instances=instances, count=len(proofs), aggregation_id=agg.id,
                           inner_circuit_id=circuit.id)


def verify_aggregated(agg: AggregationKeys, proof: AggregatedProof) -> bool:
    """Native check of an aggregated proof: the proof and its accumulator's pairing (what the
    on-chain aggregation verifier checks)."""
    if proof.aggregation_id != agg.id:
        raise ArtifactError(f"aggregated proof is for aggregation circuit {proof.aggregation_id}, not {agg.id}")
    root = agg.root
    return native.verify_aggregated(root.settings_json, str(root.srs.path), root.srs.sha256, str(root.vk_path),
                                    proof.proof, proof.instances, True)


def export_aggregation_verifier(agg: AggregationKeys) -> str:
    """Solidity source of the aggregation tree's on-chain verifier (its root's), headed by what it
    checks."""
    root = agg.root
    source = native.export_aggregation_verifier(root.settings_json, str(root.srs.path), root.srs.sha256,
                                                str(root.vk_path))
    header = (f"// zkmarket aggregation verifier {agg.id}: {agg.batch} proofs of circuit {agg.inner_circuit_id} "
              f"(levels {agg.shape})\n"
              f"// SRS: {root.srs.origin}\n// SRS as halo2 KZG file: SHA-256 {root.srs.sha256}\n")
    return header + source


def aggregated_calldata(proof: AggregatedProof) -> bytes:
    """Calldata for the aggregation verifier: the instances as 32-byte words, then the proof."""
    return bytes(native.calldata(proof.proof, proof.instances))
