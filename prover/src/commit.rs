//! Poseidon commitments to inputs and weights (`docs/model-format.md`, Commitments).
//!
//! The native commitment runs the very same halo2-base code as the circuit, in witness-only
//! mode, so the two cannot drift apart.
use crate::circuit::fr;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::{GateChip, GateInstructions};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::arithmetic::Field;
use halo2_base::poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher};
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};

pub const BYTES_PER_ELEMENT: usize = 31;
const T: usize = 3;
const RATE: usize = 2;
const R_F: usize = 8;
const R_P: usize = 57;

pub fn poseidon_hasher(ctx: &mut Context<Fr>, gate: &GateChip<Fr>) -> PoseidonHasher<Fr, T, RATE> {
    let mut hasher = PoseidonHasher::new(OptimizedPoseidonSpec::new::<R_F, R_P, 0>());
    hasher.initialize_consts(ctx, gate);
    hasher
}

/// Poseidon(pack(bytes) ++ extra): bytes packed 31 per field element, little endian.
pub fn commit_in_ctx(
    ctx: &mut Context<Fr>,
    gate: &GateChip<Fr>,
    hasher: &PoseidonHasher<Fr, T, RATE>,
    bytes: &[AssignedValue<Fr>],
    extra: &[AssignedValue<Fr>],
) -> AssignedValue<Fr> {
    let mut preimage: Vec<AssignedValue<Fr>> = bytes
        .chunks(BYTES_PER_ELEMENT)
        .map(|chunk| {
            let powers = (0..chunk.len()).map(|i| Constant(Fr::from(2).pow_vartime([8 * i as u64])));
            gate.inner_product(ctx, chunk.iter().copied(), powers)
        })
        .collect();
    preimage.extend_from_slice(extra);
    hasher.hash_fix_len_array(ctx, gate, &preimage)
}

/// The commitment computed outside any circuit.
pub fn commit_native(bytes: &[i64], extra: &[i64]) -> Fr {
    let mut builder = BaseCircuitBuilder::<Fr>::new(true);
    let gate = GateChip::<Fr>::default();
    let ctx = builder.main(0);
    let hasher = poseidon_hasher(ctx, &gate);
    let bytes = ctx.assign_witnesses(bytes.iter().map(|v| fr(*v)));
    let extra = ctx.assign_witnesses(extra.iter().map(|v| fr(*v)));
    *commit_in_ctx(ctx, &gate, &hasher, &bytes, &extra).value()
}
