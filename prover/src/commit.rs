//! Poseidon commitments to inputs and weights (`docs/model-format.md`, Commitments): bytes
//! followed by one marker byte 1 (so inputs of different lengths never pack alike: a missing
//! trailing zero byte would otherwise pack to the same elements), packed 31 per field element
//! (little endian), then extra field elements, then Poseidon.
use crate::circuit::fr;
use crate::plan::BYTES_PER_ELEMENT;
use crate::poseidon;
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;

/// The byte appended after the data before packing (byte-level `10*` padding).
pub const LENGTH_MARKER: i64 = 1;

pub fn pack_bytes(bytes: &[i64]) -> Vec<Fr> {
    bytes
        .iter()
        .copied()
        .chain(std::iter::once(LENGTH_MARKER))
        .collect::<Vec<_>>()
        .chunks(BYTES_PER_ELEMENT)
        .map(|chunk| chunk.iter().rev().fold(Fr::from(0), |acc, b| acc * Fr::from(256) + fr(*b)))
        .collect()
}

/// Poseidon(pack(bytes) ++ extra), computed outside any circuit.
pub fn commit_native(bytes: &[i64], extra: &[i64]) -> Fr {
    let mut preimage = pack_bytes(bytes);
    preimage.extend(extra.iter().map(|v| fr(*v)));
    poseidon::hash(&preimage)
}
