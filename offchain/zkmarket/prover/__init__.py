"""zkmarket.prover: compile a quantized CNN into a halo2 circuit, set up keys, prove, verify,
commit to data, export the Solidity verifier, and aggregate a batch of proofs into one.

The heavy lifting is the Rust extension ``zkmarket_prover``; this package gives it typed
artifacts cached by content hash (the ezkl-style stages: settings -> keys -> proof -> verifier).
"""

from .aggregation import (
    AggregationPending,
    aggregate,
    export_aggregation_verifier,
    prove_for_aggregation,
    setup_aggregation,
    verify_aggregated,
)
from .artifacts import AggregatedProof, AggregationKeys, AggregationLevel, CompiledCircuit, Keys, Proof, Srs
from .errors import (
    ArtifactError,
    InputError,
    ModelError,
    ProofError,
    ProverError,
    RangeError,
    SrsError,
)
from .stages import (
    Visibility,
    commit_input,
    commit_weights,
    compile_model,
    dev_srs,
    evaluate,
    export_verifier,
    load_srs,
    prove,
    setup,
    srs_fingerprint,
    uses_dev_srs,
    verify,
)

__all__ = [
    "AggregatedProof",
    "AggregationKeys",
    "AggregationLevel",
    "AggregationPending",
    "ArtifactError",
    "CompiledCircuit",
    "InputError",
    "Keys",
    "ModelError",
    "Proof",
    "ProofError",
    "ProverError",
    "RangeError",
    "Srs",
    "SrsError",
    "Visibility",
    "aggregate",
    "commit_input",
    "commit_weights",
    "compile_model",
    "dev_srs",
    "evaluate",
    "export_aggregation_verifier",
    "export_verifier",
    "load_srs",
    "prove",
    "prove_for_aggregation",
    "setup",
    "setup_aggregation",
    "srs_fingerprint",
    "uses_dev_srs",
    "verify",
    "verify_aggregated",
]
