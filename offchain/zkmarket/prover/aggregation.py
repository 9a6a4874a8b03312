"""Aggregation: one proof, checked on chain once, standing for a batch of inference proofs of one
circuit (the inner verifying key is a constant of the aggregation circuit, so the batch can only
hold proofs of that circuit). Inner proofs are made for it with `prove_for_aggregation` (a
Poseidon transcript; the circuit's own verifier does not take them).

Keys are cached per (inner circuit, SRS, batch size, k) like the circuit's own keys.
"""

from __future__ import annotations

import json
import math
import os

import zkmarket_prover as native

from .artifacts import AggregatedProof, AggregationKeys, CompiledCircuit, Keys, Proof, Srs
from .errors import ArtifactError, InputError, ProofError, SrsError
from .stages import _atomic_write, cache_dir, dev_srs, flatten_input

ACCUMULATOR_INSTANCES = native.ACCUMULATOR_INSTANCES
MAX_BATCH = 64  # ModelRegistry.MAX_AGGREGATION_BATCH


def default_k(batch: int) -> int:
    """Rows of the aggregation circuit: about 5M cells per inner proof, so 2^20 rows per proof,
    doubling with the batch, keep it at about five advice columns. Its verifier contract grows
    with the columns: with ten (2^19 rows per proof) it passes the EVM's 24,576-byte code limit
    (27,698 B measured), with five it is 19,368 B. More rows cost memory: see
    benchmarks/aggregation_bench.py."""
    return 20 + math.ceil(math.log2(batch))


def setup_aggregation(circuit: CompiledCircuit, keys: Keys, batch: int, k: int | None = None,
                      srs: Srs | None = None) -> AggregationKeys:
    """Makes (or reuses from the cache) the aggregation circuit's keys for `batch` proofs of
    `circuit`. `srs` must come from the same powers of tau as `keys.srs` (the dev SRS by default)."""
    if not 1 <= batch <= MAX_BATCH:
        raise InputError(f"batch size must be 1..{MAX_BATCH}, got {batch}")
    k = k or default_k(batch)
    srs = srs or (dev_srs(k) if keys.srs.insecure else None)
    if srs is None:
        raise SrsError(f"the aggregation circuit needs an SRS of 2^{k} points from the same powers of tau as the circuit's")
    if srs.k < k:
        raise SrsError(f"the SRS holds 2^{srs.k} points, the aggregation circuit needs 2^{k}")
    d = cache_dir("keys", f"agg-{circuit.id}-{keys.srs.sha256[:16]}-{srs.sha256[:16]}-b{batch}-k{k}")
    settings_path, pk_path, vk_path = d / "settings.json", d / "pk.bin", d / "vk.bin"
    if not (settings_path.exists() and pk_path.exists() and vk_path.exists()):
        pk_tmp, vk_tmp = d / "pk.bin.part", d / "vk.bin.part"
        settings = native.aggregation_setup(circuit.settings_json, str(keys.srs.path), keys.srs.sha256,
                                            str(keys.vk_path), str(srs.path), srs.sha256, k, batch,
                                            str(pk_tmp), str(vk_tmp))
        os.replace(vk_tmp, vk_path)
        os.replace(pk_tmp, pk_path)
        _atomic_write(settings_path, lambda p: open(p, "w").write(settings))
    return AggregationKeys(settings_json=settings_path.read_text(), pk_path=pk_path, vk_path=vk_path, srs=srs,
                           inner_circuit_id=circuit.id)


def prove_for_aggregation(circuit: CompiledCircuit, keys: Keys, input_values) -> Proof:
    """Proves one inference for an aggregated batch (same instances as `prove`)."""
    out = json.loads(native.prove_for_aggregation(circuit.settings_json, str(keys.srs.path), keys.srs.sha256,
                                                  str(keys.pk_path), flatten_input(input_values)))
    return Proof(proof=out["proof"], instances=out["instances"], logits=out["logits"],
                 predicted_class=out["class"], circuit_id=circuit.id, transcript="poseidon")


def aggregate(circuit: CompiledCircuit, keys: Keys, agg: AggregationKeys, proofs: list[Proof]) -> AggregatedProof:
    """One aggregated proof for `proofs` (1 to `agg.batch`, in the order the chain will see the
    examples). Every inner proof is checked first: one of another circuit, made for the on-chain
    verifier instead, or that does not verify is refused by its position."""
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
    out = json.loads(native.aggregate_proofs(agg.settings_json, str(agg.srs.path), agg.srs.sha256, str(agg.pk_path),
                                             circuit.settings_json, str(keys.srs.path), keys.srs.sha256,
                                             str(keys.vk_path), [(p.proof, p.instances) for p in proofs]))
    return AggregatedProof(proof=out["proof"], instances=out["instances"], count=out["proofs"],
                           aggregation_id=agg.id, inner_circuit_id=circuit.id)


def verify_aggregated(agg: AggregationKeys, proof: AggregatedProof) -> bool:
    """Native check of an aggregated proof: the proof and its accumulator's pairing (what the
    on-chain aggregation verifier checks)."""
    if proof.aggregation_id != agg.id:
        raise ArtifactError(f"aggregated proof is for aggregation circuit {proof.aggregation_id}, not {agg.id}")
    return native.verify_aggregated(agg.settings_json, str(agg.srs.path), agg.srs.sha256, str(agg.vk_path),
                                    proof.proof, proof.instances)


def export_aggregation_verifier(agg: AggregationKeys) -> str:
    """Solidity source of the aggregation circuit's on-chain verifier, headed by what it checks."""
    source = native.export_aggregation_verifier(agg.settings_json, str(agg.srs.path), agg.srs.sha256,
                                                str(agg.vk_path))
    header = (f"// zkmarket aggregation verifier {agg.id}: {agg.batch} proofs of circuit {agg.inner_circuit_id}\n"
              f"// SRS: {agg.srs.origin}\n// SRS as halo2 KZG file: SHA-256 {agg.srs.sha256}\n")
    return header + source


def aggregated_calldata(proof: AggregatedProof) -> bytes:
    """Calldata for the aggregation verifier: the instances as 32-byte words, then the proof."""
    return bytes(native.calldata(proof.proof, proof.instances))
