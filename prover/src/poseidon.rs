//! Poseidon over BN254 (width 3, rate 2, x^5, 8 full and 57 partial rounds) in its plain form:
//! the round constants and MDS matrix are the ones halo2-base generates for the same parameters
//! (Grain LFSR, `poseidon-primitives`), so the hash equals halo2-base's `hash_fix_len_array`.
//!
//! The circuit lays out exactly these rounds (one row per round), so this native code is also
//! the witness generator.
use ff::Field;
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use poseidon_primitives::poseidon::primitives::Spec;
use std::sync::OnceLock;

pub const WIDTH: usize = 3;
pub const RATE: usize = 2;
pub const FULL_ROUNDS: usize = 8;
pub const PARTIAL_ROUNDS: usize = 57;
pub const ROUNDS: usize = FULL_ROUNDS + PARTIAL_ROUNDS;

#[derive(Debug)]
struct Params;

impl Spec<Fr, WIDTH, RATE> for Params {
    fn full_rounds() -> usize {
        FULL_ROUNDS
    }
    fn partial_rounds() -> usize {
        PARTIAL_ROUNDS
    }
    fn sbox(val: Fr) -> Fr {
        val.pow_vartime([5])
    }
    fn secure_mds() -> usize {
        0
    }
}

pub struct Constants {
    pub round: Vec<[Fr; WIDTH]>,
    pub mds: [[Fr; WIDTH]; WIDTH],
}

pub fn constants() -> &'static Constants {
    static C: OnceLock<Constants> = OnceLock::new();
    C.get_or_init(|| {
        let (round, mds, _) = Params::constants();
        Constants { round, mds }
    })
}

pub fn is_full_round(r: usize) -> bool {
    r < FULL_ROUNDS / 2 || r >= FULL_ROUNDS / 2 + PARTIAL_ROUNDS
}

/// One round: add constants, S-box (all lanes or lane 0), MDS. Returns the cubes too.
pub fn round(state: [Fr; WIDTH], r: usize) -> ([Fr; WIDTH], [Fr; WIDTH]) {
    let c = constants();
    let a: [Fr; WIDTH] = std::array::from_fn(|i| state[i] + c.round[r][i]);
    let full = is_full_round(r);
    let cubes: [Fr; WIDTH] = std::array::from_fn(|i| if i == 0 || full { a[i] * a[i] * a[i] } else { Fr::ZERO });
    let sboxed: [Fr; WIDTH] =
        std::array::from_fn(|i| if i == 0 || full { cubes[i] * a[i] * a[i] } else { a[i] });
    let next = std::array::from_fn(|j| (0..WIDTH).map(|k| c.mds[j][k] * sboxed[k]).sum());
    (next, cubes)
}

/// The sponge's initial state: capacity 2^64 (variable-length domain, one output).
pub fn initial_state() -> [Fr; WIDTH] {
    [Fr::from(1u64 << 63) * Fr::from(2u64), Fr::ZERO, Fr::ZERO]
}

/// The chunks absorbed by a fixed-length hash: pairs, the last one padded with a single 1
/// (an extra chunk of padding alone when the length is even).
pub fn absorb_chunks(inputs: &[Fr]) -> Vec<([Fr; RATE], [Fr; RATE])> {
    let mut chunks: Vec<([Fr; RATE], [Fr; RATE])> = inputs
        .chunks(RATE)
        .map(|c| {
            let mut values = [Fr::ZERO; RATE];
            let mut pad = [Fr::ZERO; RATE];
            values[..c.len()].copy_from_slice(c);
            if c.len() < RATE {
                pad[c.len()] = Fr::ONE;
            }
            (values, pad)
        })
        .collect();
    if inputs.len() % RATE == 0 {
        chunks.push(([Fr::ZERO; RATE], [Fr::ONE, Fr::ZERO]));
    }
    chunks
}

pub fn hash(inputs: &[Fr]) -> Fr {
    let mut state = initial_state();
    for (values, pad) in absorb_chunks(inputs) {
        for i in 0..RATE {
            state[i + 1] += values[i] + pad[i];
        }
        for r in 0..ROUNDS {
            state = round(state, r).0;
        }
    }
    state[1]
}
