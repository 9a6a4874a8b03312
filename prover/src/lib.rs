//! zkmarket prover: halo2 proofs that a quantized CNN produced a prediction (paper section 4).
pub mod aggregate;
pub mod api;
pub mod circuit;
pub mod commit;
pub mod error;
pub mod model;
pub mod plan;
pub mod poseidon;
pub mod srs;
#[cfg(feature = "python")]
mod python;
