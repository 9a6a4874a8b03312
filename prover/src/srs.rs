//! Structured reference strings: an insecure locally generated one for development and tests,
//! and loading of a published powers-of-tau file checked against its expected hash.
use crate::error::{io_err, ProverError, Result};
use halo2_base::halo2_proofs::{
    halo2curves::bn256::Bn256,
    poly::{commitment::Params, kzg::commitment::ParamsKZG},
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::BufReader;
use std::path::Path;

/// The toxic waste of the development SRS derives from this public seed: anyone can forge
/// proofs against it. Never use it on a public chain.
pub const INSECURE_DEV_SEED: u64 = 0x7a6b_6d61_726b_6574;

pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Writes an insecure development SRS of 2^k points to `path` (halo2 raw format).
pub fn write_dev_srs(k: u32, path: &Path) -> Result<()> {
    if !(4..=26).contains(&k) {
        return Err(ProverError::Srs(format!("k must be in 4..=26, got {k}")));
    }
    let params = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::seed_from_u64(INSECURE_DEV_SEED));
    let mut buf = vec![];
    params.write(&mut buf).map_err(io_err(path))?;
    fs::write(path, buf).map_err(io_err(path))
}

/// Reads an SRS in halo2's KZG format, checks its SHA-256 when given, and shrinks it to 2^k.
pub fn load_srs(path: &Path, expected_sha256: Option<&str>, k: u32) -> Result<ParamsKZG<Bn256>> {
    if let Some(expected) = expected_sha256 {
        let actual = sha256_file(path)?;
        if !actual.eq_ignore_ascii_case(expected.trim_start_matches("0x")) {
            return Err(ProverError::Srs(format!(
                "{} has SHA-256 {actual}, expected {expected}",
                path.display()
            )));
        }
    }
    let file = fs::File::open(path).map_err(io_err(path))?;
    let mut params = ParamsKZG::<Bn256>::read(&mut BufReader::new(file))
        .map_err(|e| ProverError::Srs(format!("{} is not a halo2 KZG parameter file: {e}", path.display())))?;
    if params.k() < k {
        return Err(ProverError::Srs(format!(
            "{} holds 2^{} points, the circuit needs 2^{k}",
            path.display(),
            params.k()
        )));
    }
    if params.k() > k {
        params.downsize(k);
    }
    Ok(params)
}
