//! The prover's stages with typed artifacts: compile a model into circuit settings, generate
//! keys, prove, verify, export the Solidity verifier, and compute commitments.
use crate::circuit::{k_for_rows, table_rows, CircuitParams, CnnCircuit, OneShotCircuit, Visibility};
use crate::commit::commit_native;
use crate::error::{io_err, ProverError, Result};
use crate::model::QModel;
use crate::plan::{direct_product_rows, freivalds_layers, layer_bias_of, layer_weights_flat, plan, MatmulCheck, OutputKind, WEIGHT_OFFSET};
use halo2_base::halo2_proofs::{
    halo2curves::bn256::{Bn256, Fr, G1Affine},
    plonk::{create_proof, keygen_pk, keygen_vk, verify_proof, Circuit, ConstraintSystem, ProvingKey, VerifyingKey},
    poly::commitment::ParamsProver,
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG},
        multiopen::{ProverSHPLONK, VerifierSHPLONK},
        strategy::AccumulatorStrategy,
    },
    poly::VerificationStrategy,
    transcript::{Challenge255, EncodedChallenge, Transcript, TranscriptRead, TranscriptReadBuffer, TranscriptWriterBuffer},
    SerdeFormat,
};
use halo2_base::halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_base::utils::ScalarField;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, BufReader, BufWriter, Cursor};
use std::path::Path;

/// Version of the circuit settings; part of the circuit id, so keys cached for circuits of an
/// older version are never reused. 2: commitments bind the byte length (marker byte). 3: top-1
/// class in O(classes) rows; matrix products optionally checked by Freivalds' test.
pub const SETTINGS_VERSION: u32 = 3;

/// Dot-product width used when none is given: products per row (2*m+4 advice columns).
pub const DEFAULT_DOT_WIDTH: usize = 2;

/// A compiled circuit: the model plus everything that fixes the circuit's shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    pub version: u32,
    pub model: serde_json::Value,
    pub visibility: Visibility,
    pub output: String,
    /// How matrix products are checked (per layer under `auto`).
    pub matmul: MatmulCheck,
    pub params: CircuitParams,
    pub num_instances: usize,
    /// Poseidon commitment to the weights (hex, big endian): the second public instance.
    pub weight_commitment: String,
    /// Hash of the constraint system (gates, lookups, columns): keys cached under these
    /// settings are invalidated whenever the circuit code changes.
    pub circuit_digest: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub k: u32,
    pub rows: usize,
    pub rows_used: usize,
    pub advice_columns: usize,
    pub fixed_columns: usize,
    pub lookup_arguments: usize,
    pub lookup_tables: usize,
    pub instances: usize,
    pub degree: usize,
    pub parameters: usize,
    /// Layers whose products Freivalds' test checks, and the challenge phases.
    pub freivalds_layers: usize,
    pub phases: usize,
    /// Rows of lane A (products, folds, packing), lane B (requantization, range checks) and of
    /// the Poseidon rows below them.
    pub lane_rows: [usize; 3],
}

#[derive(Clone, Debug, Serialize)]
pub struct ProofOutput {
    pub proof: String,
    pub instances: Vec<String>,
    pub logits: Vec<i64>,
    pub class: usize,
}

fn output_kind(s: &str) -> Result<OutputKind> {
    match s {
        "logits" => Ok(OutputKind::Logits),
        "class" => Ok(OutputKind::Class),
        other => Err(ProverError::Input(format!("output must be 'logits' or 'class', got '{other}'"))),
    }
}

pub fn visibility(s: &str) -> Result<Visibility> {
    serde_json::from_value(serde_json::Value::String(s.into())).map_err(|_| {
        ProverError::Input(format!("visibility must be hidden-input, hidden-weights or hidden-both, got '{s}'"))
    })
}

pub fn fr_to_hex(x: &Fr) -> String {
    let mut bytes = x.to_bytes_le();
    bytes.reverse();
    format!("0x{}", hex::encode(bytes))
}

pub fn fr_from_hex(s: &str) -> Result<Fr> {
    let digits = s.trim_start_matches("0x");
    let padded = if digits.len() % 2 == 1 { format!("0{digits}") } else { digits.to_string() };
    let raw = hex::decode(&padded)
        .map_err(|e| ProverError::Input(format!("instance '{s}' is not hex: {e}")))?;
    if raw.len() > 32 {
        return Err(ProverError::Input(format!("instance '{s}' is longer than 32 bytes")));
    }
    let mut le = [0u8; 32];
    for (i, b) in raw.iter().rev().enumerate() {
        le[i] = *b;
    }
    Option::from(Fr::from_bytes(&le)).ok_or_else(|| ProverError::Input(format!("instance '{s}' is not a BN254 scalar")))
}

impl Settings {
    pub fn from_json(text: &str) -> Result<Self> {
        let settings: Self =
            serde_json::from_str(text).map_err(|e| ProverError::Artifact(format!("malformed circuit settings: {e}")))?;
        if settings.version != SETTINGS_VERSION {
            return Err(ProverError::Artifact(format!(
                "circuit settings of version {} (this prover makes version {SETTINGS_VERSION}): compile the model again",
                settings.version
            )));
        }
        Ok(settings)
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("settings serialize")
    }
    pub fn model(&self) -> Result<QModel> {
        QModel::from_json(&self.model.to_string())
    }
    fn output_kind(&self) -> Result<OutputKind> {
        output_kind(&self.output)
    }

    /// Builds the circuit for `input`, refusing if the model no longer matches the settings.
    pub fn circuit(&self, input: &[i64]) -> Result<CnnCircuit> {
        let model = self.model()?;
        let public = (!self.visibility.weights_hidden()).then(|| fr_from_hex(&self.weight_commitment)).transpose()?;
        let p = plan(&model, input, self.params.m, self.output_kind()?, public, self.matmul, self.params.pairs)?;
        let circuit = CnnCircuit::new(p, Some(self.params.k));
        if circuit.params != self.params {
            return Err(ProverError::Artifact("circuit shape differs from the compiled settings".into()));
        }
        Ok(circuit)
    }
}

pub fn weight_commitment(model: &QModel) -> Fr {
    let bytes: Vec<i64> =
        model.layers.iter().flat_map(layer_weights_flat).map(|w| w + WEIGHT_OFFSET).collect();
    let biases: Vec<i64> = model.layers.iter().flat_map(|l| layer_bias_of(l).to_vec()).collect();
    commit_native(&bytes, &biases)
}

pub fn input_commitment(input: &[i64]) -> Result<Fr> {
    if let Some(i) = input.iter().position(|v| !(0..=255).contains(v)) {
        return Err(ProverError::Input(format!("input[{i}] = {} is not a byte (0..=255)", input[i])));
    }
    Ok(commit_native(input, &[]))
}

pub fn matmul_check(s: &str) -> Result<MatmulCheck> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| ProverError::Input(format!("matmul check must be auto, direct or freivalds, got '{s}'")))
}

/// Compiles a model into circuit settings for a visibility mode, an output kind, a dot-product
/// width, a way of checking matrix products and, when given, with or without the byte-pair
/// table (by default: whichever gives the lower k).
pub fn compile(
    model_json: &str,
    vis: Visibility,
    output: &str,
    dot_width: usize,
    matmul: MatmulCheck,
    byte_pairs: Option<bool>,
) -> Result<Settings> {
    let model = QModel::from_json(model_json)?;
    let kind = output_kind(output)?;
    let zero_input = vec![model.input.zero_point; model.input_len()];
    let wc = weight_commitment(&model);
    let public = (!vis.weights_hidden()).then_some(wc);
    let plan_with = |check: MatmulCheck, pairs: bool| plan(&model, &zero_input, dot_width, kind, public, check, pairs);
    let k_of = |p: &crate::plan::Plan| k_for_rows(p.rows.len(), table_rows(p.lookup_bits, p.cols.pairs));
    // Freivalds' test (a second phase) and byte pairs (2^16 more table rows, a table column and
    // a tag) each cost verifier work: a costlier layout is kept only if it lowers k. Below 2^17
    // rows proofs take seconds and the verifier's gas, paid for every proof, matters more: the
    // plain layout is kept. Tried with Freivalds' test first: for a large model the direct layout's plan alone can
    // pass the machine's memory, and it is not planned when its products alone need a higher k.
    let checks = match matmul {
        MatmulCheck::Auto if freivalds_layers(&model, dot_width, MatmulCheck::Auto)?.contains(&true) => {
            vec![MatmulCheck::Auto, MatmulCheck::Direct]
        }
        MatmulCheck::Auto => vec![MatmulCheck::Direct],
        other => vec![other],
    };
    let direct_floor = k_for_rows(direct_product_rows(&model, dot_width)?, 0);
    // (check, pairs, k) of each layout tried; only shapes are kept, a MobileNet plan holds gigabytes.
    let mut tried: Vec<(MatmulCheck, bool, u32)> = vec![];
    let plain_k = |tried: &[(MatmulCheck, bool, u32)]| tried.iter().find(|t| t.0 == MatmulCheck::Direct && !t.1).map(|t| t.2);
    for pairs in byte_pairs.map_or(vec![false, true], |forced| vec![forced]) {
        for check in &checks {
            let best_k = tried.iter().map(|t| t.2).min();
            if *check == MatmulCheck::Direct && matmul == MatmulCheck::Auto && direct_floor >= 17 && best_k.is_some_and(|k| k < direct_floor) {
                continue; // cannot win (small circuits are planned: the plain layout may win there)
            }
            if pairs && byte_pairs.is_none() && plain_k(&tried).is_some_and(|k| k < 17) {
                continue;
            }
            tried.push((*check, pairs, k_of(&plan_with(*check, pairs)?)));
        }
    }
    // Below 2^17 rows the plain layout stays; else the lowest k, the plainest on a tie.
    let plainness = |t: &(MatmulCheck, bool, u32)| (t.2, t.1, t.0 != MatmulCheck::Direct);
    let (matmul, pairs, _) = match plain_k(&tried) {
        Some(k) if k < 17 => (MatmulCheck::Direct, false, k),
        _ => *tried.iter().min_by_key(|t| plainness(t)).expect("at least one layout"),
    };
    let p = plan_with(matmul, pairs)?;
    let circuit = CnnCircuit::new(p, None);
    let mut cs = ConstraintSystem::<Fr>::default();
    CnnCircuit::configure_with_params(&mut cs, circuit.params.clone());
    let circuit_digest = hex::encode(&Sha256::digest(format!("{cs:?}").as_bytes())[..16]);
    Ok(Settings {
        circuit_digest,
        version: SETTINGS_VERSION,
        model: serde_json::from_str(model_json).expect("validated above"),
        visibility: vis,
        output: output.to_string(),
        matmul,
        num_instances: circuit.instances.len(),
        params: circuit.params.clone(),
        weight_commitment: fr_to_hex(&wc),
    })
}

pub fn stats(settings: &Settings) -> Result<Stats> {
    let model = settings.model()?;
    let zero_input = vec![model.input.zero_point; model.input_len()];
    let circuit = settings.circuit(&zero_input)?;
    let mut cs = ConstraintSystem::<Fr>::default();
    CnnCircuit::configure_with_params(&mut cs, settings.params.clone());
    let rows_used = circuit.rows_used();
    let parameters = model.layers.iter().map(|l| layer_weights_flat(l).len() + layer_bias_of(l).len()).sum();
    Ok(Stats {
        k: settings.params.k,
        rows: 1 << settings.params.k,
        rows_used,
        advice_columns: cs.num_advice_columns(),
        fixed_columns: cs.num_fixed_columns(),
        lookup_arguments: cs.lookups().len(),
        lookup_tables: distinct_tables(&cs),
        instances: settings.num_instances,
        degree: cs.degree(),
        parameters,
        freivalds_layers: freivalds_layers(&model, settings.params.m, settings.matmul)?.iter().filter(|f| **f).count(),
        phases: if settings.params.two_phase { 2 } else { 1 },
        lane_rows: circuit.plan.lane_rows,
    })
}

/// Distinct lookup tables: lookups that read the same table columns share one table.
fn distinct_tables(cs: &ConstraintSystem<Fr>) -> usize {
    let tables: std::collections::BTreeSet<String> =
        cs.lookups().iter().map(|l| format!("{:?}", l.table_expressions())).collect();
    tables.len()
}

pub fn keygen(settings: &Settings, params: &ParamsKZG<Bn256>) -> Result<ProvingKey<G1Affine>> {
    let model = settings.model()?;
    let circuit = settings.circuit(&vec![model.input.zero_point; model.input_len()])?;
    let vk = keygen_vk(params, &circuit).map_err(|e| ProverError::Artifact(format!("verifying key generation failed: {e:?}")))?;
    keygen_pk(params, vk, &circuit).map_err(|e| ProverError::Artifact(format!("proving key generation failed: {e:?}")))
}

pub fn write_pk(pk: &ProvingKey<G1Affine>, path: &Path) -> Result<()> {
    let mut w = BufWriter::new(fs::File::create(path).map_err(io_err(path))?);
    pk.write(&mut w, SerdeFormat::RawBytes).map_err(io_err(path))
}

pub fn write_vk(vk: &VerifyingKey<G1Affine>, path: &Path) -> Result<()> {
    let mut w = BufWriter::new(fs::File::create(path).map_err(io_err(path))?);
    vk.write(&mut w, SerdeFormat::RawBytes).map_err(io_err(path))
}

pub fn read_pk(settings: &Settings, path: &Path) -> Result<ProvingKey<G1Affine>> {
    let f = fs::File::open(path).map_err(io_err(path))?;
    ProvingKey::read::<_, CnnCircuit>(&mut BufReader::new(f), SerdeFormat::RawBytes, settings.params.clone())
        .map_err(|e| ProverError::Artifact(format!("{} is not a proving key for this circuit: {e}", path.display())))
}

pub fn read_vk(settings: &Settings, path: &Path) -> Result<VerifyingKey<G1Affine>> {
    let f = fs::File::open(path).map_err(io_err(path))?;
    VerifyingKey::read::<_, CnnCircuit>(&mut BufReader::new(f), SerdeFormat::RawBytes, settings.params.clone())
        .map_err(|e| ProverError::Artifact(format!("{} is not a verifying key for this circuit: {e}", path.display())))
}

/// Proves one inference with SHPLONK over a Keccak (EVM) transcript.
pub fn prove(settings: &Settings, params: &ParamsKZG<Bn256>, pk: &ProvingKey<G1Affine>, input: &[i64], transcript: ProofTranscript) -> Result<ProofOutput> {
    let circuit = settings.circuit(input)?;
    let instances = circuit.instances.clone();
    let (logits, class) = (circuit.plan.logits.clone(), circuit.plan.class);
    let proof = prove_with(params, pk, OneShotCircuit::new(circuit), &instances, transcript)?;
    Ok(ProofOutput {
        proof: format!("0x{}", hex::encode(proof)),
        instances: instances.iter().map(fr_to_hex).collect(),
        logits,
        class,
    })
}

/// Which transcript a proof is made with: Keccak for the EVM verifiers (inference circuits and
/// the root of an aggregation tree), Poseidon for proofs verified inside an aggregation circuit
/// (cheap to replay there; the EVM verifiers do not take them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofTranscript {
    Evm,
    Poseidon,
}

/// A SHPLONK proof of `circuit` with `transcript`.
pub fn prove_with<C: Circuit<Fr>>(params: &ParamsKZG<Bn256>, pk: &ProvingKey<G1Affine>, circuit: C, instances: &[Fr], transcript: ProofTranscript) -> Result<Vec<u8>> {
    match transcript {
        ProofTranscript::Evm => prove_evm(params, pk, circuit, instances),
        ProofTranscript::Poseidon => crate::aggregate::prove_poseidon(params, pk, circuit, instances),
    }
}

/// Whether a SHPLONK proof made with `transcript` verifies for `vk` and `instances`.
pub fn verify_with(params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, proof: &[u8], instances: &[Fr], transcript: ProofTranscript) -> bool {
    match transcript {
        ProofTranscript::Evm => verify_evm(params, vk, proof, instances),
        ProofTranscript::Poseidon => crate::aggregate::verify_poseidon(params, vk, proof, instances),
    }
}

/// A SHPLONK proof of `circuit` over a Keccak (EVM) transcript: what the generated Solidity
/// verifiers check (inference circuits and aggregation circuits alike).
pub fn prove_evm<C: Circuit<Fr>>(params: &ParamsKZG<Bn256>, pk: &ProvingKey<G1Affine>, circuit: C, instances: &[Fr]) -> Result<Vec<u8>> {
    let mut transcript = TranscriptWriterBuffer::<_, G1Affine, _>::init(Vec::new());
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<_>, _, _, EvmTranscript<G1Affine, _, _, _>, _>(
        params,
        pk,
        &[circuit],
        &[&[instances]],
        OsRng,
        &mut transcript,
    )
    .map_err(|e| ProverError::Proof(format!("proving failed: {e:?}")))?;
    Ok(transcript.finalize())
}

/// Verifies a proof made with `transcript` natively; `Ok(false)` for a proof that does not verify.
pub fn verify(settings: &Settings, params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, proof: &[u8], instances: &[Fr], transcript: ProofTranscript) -> Result<bool> {
    if instances.len() != settings.num_instances {
        return Err(ProverError::Proof(format!(
            "the circuit has {} public instances, got {}",
            settings.num_instances,
            instances.len()
        )));
    }
    Ok(verify_with(params, vk, proof, instances, transcript))
}

/// Whether `proof` (SHPLONK, Keccak transcript) verifies for `vk` and `instances` and is exactly
/// what the verifier reads: anything after it would make the same proof valid in many
/// encodings (malleable).
pub fn verify_evm(params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, proof: &[u8], instances: &[Fr]) -> bool {
    let mut reader = Cursor::new(proof);
    let mut transcript = TranscriptReadBuffer::<_, G1Affine, _>::init(&mut reader);
    let verifier_params = params.verifier_params();
    let result = verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<_>, _, EvmTranscript<G1Affine, _, _, _>, _>(
        verifier_params,
        vk,
        AccumulatorStrategy::new(verifier_params),
        &[&[instances]],
        &mut transcript,
    );
    let fully_read = reader.position() == proof.len() as u64;
    match result {
        Ok(strategy) => fully_read && VerificationStrategy::<_, VerifierSHPLONK<_>>::finalize(strategy),
        Err(_) => false,
    }
}

/// Counts the bytes the verifier reads from a proof's transcript, handing it valid points and
/// scalars (EVM encoding: 64 bytes per point, 32 per scalar) and distinct challenges.
#[derive(Default)]
struct ReadCounter {
    bytes: usize,
    challenges: u8,
}

impl Transcript<G1Affine, Challenge255<G1Affine>> for ReadCounter {
    fn squeeze_challenge(&mut self) -> Challenge255<G1Affine> {
        self.challenges = self.challenges.wrapping_add(1);
        Challenge255::new(&[self.challenges; 64])
    }
    fn common_point(&mut self, _: G1Affine) -> io::Result<()> {
        Ok(())
    }
    fn common_scalar(&mut self, _: Fr) -> io::Result<()> {
        Ok(())
    }
}

impl TranscriptRead<G1Affine, Challenge255<G1Affine>> for ReadCounter {
    fn read_point(&mut self) -> io::Result<G1Affine> {
        self.bytes += 64;
        Ok(<G1Affine as PrimeCurveAffine>::generator())
    }
    fn read_scalar(&mut self) -> io::Result<Fr> {
        self.bytes += 32;
        Ok(Fr::one())
    }
}

/// The exact length in bytes of every proof made with `vk` (with `num_instances` instances):
/// what its verifier reads.
pub fn transcript_len(params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, num_instances: usize) -> usize {
    let instances = vec![Fr::zero(); num_instances];
    let verifier_params = params.verifier_params();
    let mut counter = ReadCounter::default();
    // The outcome is meaningless (the "proof" is made up); only the reads count.
    let _ = verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<_>, _, _, _>(
        verifier_params,
        vk,
        AccumulatorStrategy::new(verifier_params),
        &[&[&instances]],
        &mut counter,
    );
    counter.bytes
}

/// Solidity source of an on-chain verifier for this circuit's verifying key.
///
/// snark-verifier pins `pragma solidity 0.8.19` exactly; the code is one assembly block that
/// any later 0.8 compiler accepts, so the pragma is widened for the project's pinned solc.
pub fn solidity_verifier(settings: &Settings, params: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>) -> String {
    let code = snark_verifier_sdk::evm::gen_evm_verifier_sol_code::<CnnCircuit, snark_verifier_sdk::SHPLONK>(
        params,
        vk,
        vec![settings.num_instances],
    );
    calldata_len_check(code, settings.num_instances, transcript_len(params, vk, settings.num_instances))
}

/// The generated code reads the proof at fixed calldata offsets and ignores anything after it;
/// a check that the calldata is exactly the instances and one proof is added in front, so padded
/// (malleable) proofs are refused on chain as they are natively. Widens the pragma (see above).
pub fn calldata_len_check(code: String, num_instances: usize, proof_len: usize) -> String {
    let code = code.replacen("pragma solidity 0.8.19;", "pragma solidity ^0.8.19;", 1);
    let calldata_len = 32 * num_instances + proof_len;
    let anchor = "            let success := true\n";
    assert!(code.contains(anchor), "snark-verifier's Solidity layout changed: cannot add the length check");
    let check = format!(
        "            // zkmarket: exactly {num_instances} instances and one {proof_len}-byte proof, nothing more or less\n            if iszero(eq(calldatasize(), {calldata_len})) {{\n                revert(0, 0)\n            }}\n",
    );
    code.replacen(anchor, &format!("{check}{anchor}"), 1)
}

/// Calldata for the generated verifier: each instance as a 32-byte word, then the proof.
pub fn calldata(instances: &[Fr], proof: &[u8]) -> Vec<u8> {
    snark_verifier_sdk::evm::encode_calldata(&[instances.to_vec()], proof)
}

pub fn evaluate(model_json: &str, input: &[i64]) -> Result<(Vec<i64>, usize)> {
    let model = QModel::from_json(model_json)?;
    let p = plan(&model, input, DEFAULT_DOT_WIDTH, OutputKind::Logits, None, MatmulCheck::Direct, false)?;
    Ok((p.logits, p.class))
}
