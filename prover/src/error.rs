//! One error type for the whole prover, so the Python binding can map every failure to a clear
//! message instead of a panic.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProverError {
    #[error("invalid model: {0}")]
    Model(String),
    #[error("invalid input: {0}")]
    Input(String),
    #[error("value out of the circuit's range: {0}")]
    Range(String),
    #[error("invalid SRS: {0}")]
    Srs(String),
    #[error("invalid key or artifact: {0}")]
    Artifact(String),
    #[error("invalid proof: {0}")]
    Proof(String),
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, ProverError>;

/// Wraps an I/O error with the path it happened on.
pub fn io_err(path: impl AsRef<std::path::Path>) -> impl FnOnce(std::io::Error) -> ProverError {
    let path = path.as_ref().display().to_string();
    move |source| ProverError::Io { path, source }
}
