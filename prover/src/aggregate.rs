//! Aggregation: a batch of inference proofs of one compiled circuit checked by one proof, so the
//! chain pays for one verifier call per batch instead of one per example.
//!
//! Inner proofs are made with a Poseidon transcript (cheap to replay inside a circuit) and
//! verified inside snark-verifier-sdk's aggregation circuit, which outputs a KZG accumulator
//! (12 limbs) that the on-chain verifier checks with one pairing. The inner verifying key is a
//! constant of the aggregation circuit (`VerifierUniversality::None`): an aggregated proof can
//! only stand for proofs of the circuit its keys were made for. The inner proofs' instances are
//! public instances of the aggregation circuit, after the accumulator, in batch order; a batch
//! shorter than the circuit's size is padded by repeating its last proof.
//!
//! Aggregation circuits nest: one may verify proofs of another aggregation circuit (whose
//! accumulators it folds into its own and whose inference instances it exposes again), so a tree
//! of small circuits covers a batch one circuit could not hold in memory. Only the root's proof
//! goes on chain (EVM transcript); the levels below it prove with Poseidon.
use crate::api::{self, calldata_len_check, fr_to_hex, prove_with, transcript_len, verify_with, ProofTranscript, Settings};
use crate::error::{io_err, ProverError, Result};
use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::halo2_proofs::{
    arithmetic::CurveAffine,
    plonk::Circuit,
    halo2curves::bn256::{Bn256, Fq, Fr, G1Affine},
    plonk::{create_proof, keygen_pk, keygen_vk, verify_proof, ProvingKey, VerifyingKey},
    poly::commitment::{Params, ParamsProver},
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG},
        multiopen::{ProverSHPLONK, VerifierSHPLONK},
        strategy::AccumulatorStrategy,
    },
    poly::VerificationStrategy,
    SerdeFormat,
};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use snark_verifier_sdk::halo2::aggregation::{AggregationCircuit, AggregationConfigParams, VerifierUniversality};
use snark_verifier_sdk::halo2::{PoseidonTranscript, POSEIDON_SPEC};
use snark_verifier_sdk::snark_verifier::loader::native::NativeLoader;
use snark_verifier_sdk::snark_verifier::pcs::kzg::{KzgAccumulator, KzgDecidingKey};
use snark_verifier_sdk::snark_verifier::pcs::AccumulationDecider;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile, Config};
use snark_verifier_sdk::snark_verifier::util::arithmetic::fe_from_limbs;
use snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkProtocol;
use snark_verifier_sdk::{CircuitExt, Snark, BITS, LIMBS, SHPLONK};
use std::fs;
use std::io::{BufReader, BufWriter};
use std::path::Path;

/// Version of the aggregation settings; keys made under another version are never reused.
pub const AGGREGATION_VERSION: u32 = 1;

/// Public instances the accumulator takes: two G1 points, two coordinates, LIMBS limbs each.
pub const ACCUMULATOR_INSTANCES: usize = 4 * LIMBS;

/// Rows kept free at the bottom of every column for halo2's blinding factors.
const BLINDING_ROWS: usize = 20;

/// What fixes an aggregation circuit: the inner circuit (its verifying key's hash), the batch
/// size, the aggregation circuit's shape and where its witness generation breaks columns.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AggregationSettings {
    pub version: u32,
    /// SHA-256 of the inner verifying key (raw bytes): the only circuit this one aggregates.
    pub inner_vk_sha256: String,
    /// The inner circuit's weight commitment and instance count, for callers' checks.
    pub weight_commitment: String,
    pub inner_instances: usize,
    /// The inner proofs are aggregation proofs: their first instances are an accumulator,
    /// folded into this circuit's and not exposed again.
    #[serde(default)]
    pub inner_accumulator: bool,
    /// Inner proofs per aggregated proof.
    pub batch: usize,
    pub params: AggregationConfigParams,
    pub break_points: MultiPhaseThreadBreakPoints,
    /// Accumulator limbs, then `batch` times the inner instances (less their accumulators).
    pub num_instances: usize,
}

impl AggregationSettings {
    pub fn from_json(text: &str) -> Result<Self> {
        let s: Self = serde_json::from_str(text)
            .map_err(|e| ProverError::Artifact(format!("malformed aggregation settings: {e}")))?;
        if s.version != AGGREGATION_VERSION {
            return Err(ProverError::Artifact(format!(
                "aggregation settings of version {} (this prover makes version {AGGREGATION_VERSION}): set up the aggregation again",
                s.version
            )));
        }
        Ok(s)
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("aggregation settings serialize")
    }
}

/// Raw bytes of a verifying key hashed: the identity of the circuit it verifies.
pub fn vk_sha256(vk: &VerifyingKey<G1Affine>) -> String {
    hex::encode(Sha256::digest(vk.to_bytes(SerdeFormat::RawBytes)))
}

/// The circuit whose proofs an aggregation circuit verifies.
#[derive(Clone, Copy)]
pub enum Inner<'a> {
    Inference(&'a Settings),
    Aggregation(&'a AggregationSettings),
}

impl Inner<'_> {
    fn num_instances(&self) -> usize {
        match self {
            Inner::Inference(s) => s.num_instances,
            Inner::Aggregation(a) => a.num_instances,
        }
    }
    fn has_accumulator(&self) -> bool {
        matches!(self, Inner::Aggregation(_))
    }
    fn weight_commitment(&self) -> String {
        match self {
            Inner::Inference(s) => s.weight_commitment.clone(),
            Inner::Aggregation(a) => a.weight_commitment.clone(),
        }
    }
    fn protocol(&self, params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>) -> PlonkProtocol<G1Affine> {
        let config = Config::kzg().with_num_instance(vec![self.num_instances()]);
        let config = if self.has_accumulator() { config.with_accumulator_indices(AggregationCircuit::accumulator_indices()) } else { config };
        compile(params, vk, config)
    }
    /// Natively verifies a Poseidon-transcript proof of this circuit (with its accumulator's
    /// pairing, for an aggregation proof).
    fn verify(&self, params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, proof: &[u8], instances: &[Fr]) -> Result<bool> {
        match self {
            Inner::Inference(s) => api::verify(s, params, vk, proof, instances, ProofTranscript::Poseidon),
            Inner::Aggregation(a) => verify(a, params, vk, proof, instances, ProofTranscript::Poseidon),
        }
    }
}

/// Proves with the Poseidon transcript an aggregation circuit replays.
pub(crate) fn prove_poseidon<C: Circuit<Fr>>(params: &ParamsKZG<Bn256>, pk: &ProvingKey<G1Affine>, circuit: C, instances: &[Fr]) -> Result<Vec<u8>> {
    let mut transcript = PoseidonTranscript::<NativeLoader, Vec<u8>>::from_spec(vec![], POSEIDON_SPEC.clone());
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<_>, _, _, _, _>(params, pk, &[circuit], &[&[instances]], OsRng, &mut transcript)
        .map_err(|e| ProverError::Proof(format!("proving failed: {e:?}")))?;
    Ok(transcript.finalize())
}

/// Natively verifies a Poseidon-transcript proof (bytes after the proof are never read, by this
/// check or by the aggregation circuit, so they cannot change what is proved).
pub(crate) fn verify_poseidon(params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, proof: &[u8], instances: &[Fr]) -> bool {
    let mut transcript = PoseidonTranscript::<NativeLoader, &[u8]>::from_spec(proof, POSEIDON_SPEC.clone());
    let verifier_params = params.verifier_params();
    let result = verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<_>, _, _, _>(
        verifier_params,
        vk,
        AccumulatorStrategy::new(verifier_params),
        &[&[instances]],
        &mut transcript,
    );
    result.is_ok_and(|strategy| VerificationStrategy::<_, VerifierSHPLONK<_>>::finalize(strategy))
}

fn base_params(k: u32) -> AggregationConfigParams {
    AggregationConfigParams { degree: k, lookup_bits: k as usize - 1, ..Default::default() }
}

fn circuit(
    stage: CircuitBuilderStage,
    config: AggregationConfigParams,
    params: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    inner_accumulator: bool,
) -> AggregationCircuit {
    let mut c = AggregationCircuit::new::<SHPLONK>(stage, config, params, snarks, VerifierUniversality::None);
    c.expose_previous_instances(inner_accumulator);
    c
}

/// The keygen-stage circuit for `batch` proofs of `inner` at 2^k rows, laid out.
fn keygen_circuit(inner: Inner, inner_params: &ParamsKZG<Bn256>, inner_vk: &VerifyingKey<G1Affine>, params: &ParamsKZG<Bn256>, batch: usize) -> (AggregationCircuit, AggregationConfigParams) {
    let dummy = snark_verifier_sdk::halo2::gen_dummy_snark_from_protocol::<SHPLONK>(inner.protocol(inner_params, inner_vk));
    let mut c = circuit(CircuitBuilderStage::Keygen, base_params(params.k()), params, vec![dummy; batch], inner.has_accumulator());
    let config = c.calculate_params(Some(BLINDING_ROWS));
    (c, config)
}

/// Lays out the aggregation circuit for `batch` proofs of `inner` at 2^k rows (`params` of
/// degree k, the same SRS as the inner circuit's) and makes its keys.
pub fn setup(
    inner: Inner,
    inner_params: &ParamsKZG<Bn256>,
    inner_vk: &VerifyingKey<G1Affine>,
    params: &ParamsKZG<Bn256>,
    batch: usize,
) -> Result<(AggregationSettings, ProvingKey<G1Affine>)> {
    if batch == 0 {
        return Err(ProverError::Input("an aggregation batch holds at least one proof".into()));
    }
    if params.k() < 18 {
        return Err(ProverError::Input(format!("an aggregation circuit needs at least 2^18 rows, got 2^{}", params.k())));
    }
    let (c, config) = keygen_circuit(inner, inner_params, inner_vk, params, batch);
    let vk = keygen_vk(params, &c).map_err(|e| ProverError::Artifact(format!("aggregation verifying key generation failed: {e:?}")))?;
    let pk = keygen_pk(params, vk, &c).map_err(|e| ProverError::Artifact(format!("aggregation proving key generation failed: {e:?}")))?;
    let settings = AggregationSettings {
        version: AGGREGATION_VERSION,
        inner_vk_sha256: vk_sha256(inner_vk),
        weight_commitment: inner.weight_commitment(),
        inner_instances: inner.num_instances(),
        inner_accumulator: inner.has_accumulator(),
        batch,
        params: config,
        break_points: c.break_points(),
        num_instances: c.num_instance()[0],
    };
    Ok((settings, pk))
}

pub fn write_pk(pk: &ProvingKey<G1Affine>, path: &Path) -> Result<()> {
    let mut w = BufWriter::new(fs::File::create(path).map_err(io_err(path))?);
    pk.write(&mut w, SerdeFormat::RawBytes).map_err(io_err(path))
}

pub fn read_pk(settings: &AggregationSettings, path: &Path) -> Result<ProvingKey<G1Affine>> {
    let f = fs::File::open(path).map_err(io_err(path))?;
    ProvingKey::read::<_, AggregationCircuit>(&mut BufReader::new(f), SerdeFormat::RawBytes, settings.params)
        .map_err(|e| ProverError::Artifact(format!("{} is not an aggregation proving key: {e}", path.display())))
}

pub fn read_vk(settings: &AggregationSettings, path: &Path) -> Result<VerifyingKey<G1Affine>> {
    let f = fs::File::open(path).map_err(io_err(path))?;
    VerifyingKey::read::<_, AggregationCircuit>(&mut BufReader::new(f), SerdeFormat::RawBytes, settings.params)
        .map_err(|e| ProverError::Artifact(format!("{} is not an aggregation verifying key: {e}", path.display())))
}

/// An aggregated proof: the EVM-transcript proof and all its public instances (accumulator
/// limbs, then each inner proof's instances; padding included).
#[derive(Clone, Debug, Serialize)]
pub struct AggregatedProof {
    pub proof: String,
    pub instances: Vec<String>,
    /// How many of the batch's slots hold the caller's proofs (the rest repeat the last one).
    pub proofs: usize,
}

/// Aggregates `proofs` (inner proof bytes with their instances, at most `settings.batch`) of the
/// circuit `inner`, proving with `transcript` (EVM for the proof that goes on chain). Every inner
/// proof is verified natively first: one that does not verify, or one of another circuit, is
/// refused by its position, before any aggregation work.
#[allow(clippy::too_many_arguments)]
pub fn aggregate(
    settings: &AggregationSettings,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    inner: Inner,
    inner_params: &ParamsKZG<Bn256>,
    inner_vk: &VerifyingKey<G1Affine>,
    proofs: &[(Vec<u8>, Vec<Fr>)],
    transcript: ProofTranscript,
) -> Result<AggregatedProof> {
    if vk_sha256(inner_vk) != settings.inner_vk_sha256 || inner.has_accumulator() != settings.inner_accumulator {
        return Err(ProverError::Artifact("these aggregation keys were made for another circuit".into()));
    }
    if proofs.is_empty() || proofs.len() > settings.batch {
        return Err(ProverError::Input(format!(
            "an aggregated batch holds 1 to {} proofs, got {}",
            settings.batch,
            proofs.len()
        )));
    }
    for (i, (proof, instances)) in proofs.iter().enumerate() {
        if instances.len() != inner.num_instances() {
            return Err(ProverError::Proof(format!(
                "inner proof {i} has {} public instances, the circuit has {}",
                instances.len(),
                inner.num_instances()
            )));
        }
        if !inner.verify(inner_params, inner_vk, proof, instances)? {
            return Err(ProverError::Proof(format!(
                "inner proof {i} does not verify for this circuit and its instances (another circuit, other weights or a changed instance?)"
            )));
        }
    }
    let protocol = inner.protocol(inner_params, inner_vk);
    let last = proofs.last().expect("not empty");
    let snarks = proofs
        .iter()
        .chain(std::iter::repeat(last).take(settings.batch - proofs.len()))
        .map(|(proof, instances)| Snark::new(protocol.clone(), vec![instances.clone()], proof.clone()))
        .collect();
    let c = circuit(CircuitBuilderStage::Prover, settings.params, params, snarks, settings.inner_accumulator)
        .use_break_points(settings.break_points.clone());
    let instances = c.instances()[0].clone();
    let proof = prove_with(params, pk, c, &instances, transcript)?;
    Ok(AggregatedProof {
        proof: format!("0x{}", hex::encode(proof)),
        instances: instances.iter().map(fr_to_hex).collect(),
        proofs: proofs.len(),
    })
}

/// The accumulator carried in the first instances, if they encode two curve points.
fn accumulator(instances: &[Fr]) -> Option<KzgAccumulator<G1Affine, NativeLoader>> {
    let point = |limbs: &[Fr]| -> Option<G1Affine> {
        let [x, y] = [0, LIMBS].map(|o| fe_from_limbs::<Fr, Fq, LIMBS, BITS>(limbs[o..o + LIMBS].try_into().expect("LIMBS")));
        Option::from(G1Affine::from_xy(x, y))
    };
    Some(KzgAccumulator::new(point(&instances[..2 * LIMBS])?, point(&instances[2 * LIMBS..4 * LIMBS])?))
}

/// Verifies an aggregated proof natively: the outer proof (made with `transcript`), then the
/// pairing check of the accumulator it carries (what the on-chain verifier does). `Ok(false)` if
/// either fails.
pub fn verify(settings: &AggregationSettings, params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, proof: &[u8], instances: &[Fr], transcript: ProofTranscript) -> Result<bool> {
    if instances.len() != settings.num_instances {
        return Err(ProverError::Proof(format!(
            "the aggregation circuit has {} public instances, got {}",
            settings.num_instances,
            instances.len()
        )));
    }
    if !verify_with(params, vk, proof, instances, transcript) {
        return Ok(false);
    }
    let dk: KzgDecidingKey<Bn256> = (params.get_g()[0], params.g2(), params.s_g2()).into();
    Ok(accumulator(instances).is_some_and(|acc| <SHPLONK as AccumulationDecider<G1Affine, NativeLoader>>::decide(&dk, acc).is_ok()))
}

/// Solidity verifier of the aggregation circuit (snark-verifier's, with the accumulator's pairing
/// check), with the same exact-calldata-length guard as the single-proof verifier.
pub fn solidity_verifier(settings: &AggregationSettings, params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>) -> String {
    let code = snark_verifier_sdk::evm::gen_evm_verifier_sol_code::<AggregationCircuit, SHPLONK>(
        params,
        vk,
        vec![settings.num_instances],
    );
    let proof_len = transcript_len(params, vk, settings.num_instances);
    calldata_len_check(code, settings.num_instances, proof_len)
}
