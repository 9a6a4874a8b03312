"""zkmarket.prover: compile a quantized CNN into a halo2 circuit, set up keys, prove, verify,
commit to data and export the Solidity verifier.

The heavy lifting is the Rust extension ``zkmarket_prover``; this package gives it typed
artifacts cached by content hash (the ezkl-style stages: settings -> keys -> proof -> verifier).
"""

from .artifacts import CompiledCircuit, Keys, Proof, Srs
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
    "commit_input",
    "commit_weights",
    "compile_model",
    "dev_srs",
    "evaluate",
    "export_verifier",
    "load_srs",
    "prove",
    "setup",
    "srs_fingerprint",
    "uses_dev_srs",
    "verify",
]
