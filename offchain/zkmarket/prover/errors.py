"""Prover exceptions: the Rust extension's, re-exported so callers import one place."""

from zkmarket_prover import (  # noqa: F401  (re-exports)
    ArtifactError,
    InputError,
    ModelError,
    ProofError,
    RangeError,
    SrsError,
)
from zkmarket_prover import ProverException as ProverError  # noqa: F401
