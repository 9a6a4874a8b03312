//! Python binding (`zkmarket_prover`): thin wrappers that turn every failure, panics included,
//! into a Python exception with a clear message.
use crate::aggregate;
use crate::api::{self, Settings};
use crate::error::{ProverError, Result};
use crate::srs;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

create_exception!(zkmarket_prover, ProverException, PyValueError);
create_exception!(zkmarket_prover, ModelError, ProverException);
create_exception!(zkmarket_prover, InputError, ProverException);
create_exception!(zkmarket_prover, RangeError, ProverException);
create_exception!(zkmarket_prover, SrsError, ProverException);
create_exception!(zkmarket_prover, ArtifactError, ProverException);
create_exception!(zkmarket_prover, ProofError, ProverException);

fn to_py(e: ProverError) -> PyErr {
    let msg = e.to_string();
    match e {
        ProverError::Model(_) => ModelError::new_err(msg),
        ProverError::Input(_) => InputError::new_err(msg),
        ProverError::Range(_) => RangeError::new_err(msg),
        ProverError::Srs(_) => SrsError::new_err(msg),
        ProverError::Artifact(_) | ProverError::Io { .. } => ArtifactError::new_err(msg),
        ProverError::Proof(_) => ProofError::new_err(msg),
    }
}

/// Runs `f` without the GIL, converting errors and panics into Python exceptions.
fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T> + Send) -> PyResult<T> {
    py.allow_threads(|| match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_py),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            Err(ProverException::new_err(format!("internal prover error: {what}")))
        }
    })
}

fn settings(json: &str) -> Result<Settings> {
    Settings::from_json(json)
}

fn params(settings: &Settings, path: &str, sha256: Option<&str>) -> Result<halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<halo2_base::halo2_proofs::halo2curves::bn256::Bn256>> {
    srs::load_srs(Path::new(path), sha256, settings.params.k)
}

fn decode_hex(what: &str, s: &str) -> Result<Vec<u8>> {
    hex::decode(s.trim_start_matches("0x")).map_err(|e| ProverError::Proof(format!("{what} is not hex: {e}")))
}

fn instances(values: &[String]) -> Result<Vec<halo2_base::halo2_proofs::halo2curves::bn256::Fr>> {
    values.iter().map(|s| api::fr_from_hex(s)).collect()
}

#[pyfunction]
#[pyo3(signature = (model_json, visibility, output, dot_width, matmul = "auto".to_string(), byte_pairs = None))]
fn compile(
    py: Python<'_>,
    model_json: String,
    visibility: String,
    output: String,
    dot_width: usize,
    matmul: String,
    byte_pairs: Option<bool>,
) -> PyResult<String> {
    run(py, || {
        let check = api::matmul_check(&matmul)?;
        Ok(api::compile(&model_json, api::visibility(&visibility)?, &output, dot_width, check, byte_pairs)?.to_json())
    })
}

#[pyfunction]
fn stats(py: Python<'_>, settings_json: String) -> PyResult<String> {
    run(py, || Ok(serde_json::to_string(&api::stats(&settings(&settings_json)?)?).expect("stats serialize")))
}

#[pyfunction]
fn write_dev_srs(py: Python<'_>, k: u32, path: String) -> PyResult<()> {
    run(py, || srs::write_dev_srs(k, Path::new(&path)))
}

#[pyfunction]
fn ptau_to_srs(py: Python<'_>, ptau_path: String, k: u32, out_path: String) -> PyResult<()> {
    run(py, || srs::write_ptau_as_halo2(Path::new(&ptau_path), k, Path::new(&out_path)))
}

#[pyfunction]
fn srs_fingerprint(py: Python<'_>, srs_path: String) -> PyResult<Vec<String>> {
    run(py, || Ok(srs::s_g2_x_words(Path::new(&srs_path))?.to_vec()))
}

#[pyfunction]
fn sha256_file(py: Python<'_>, path: String) -> PyResult<String> {
    run(py, || srs::sha256_file(Path::new(&path)))
}

#[pyfunction]
#[pyo3(signature = (settings_json, srs_path, srs_sha256, pk_path, vk_path))]
fn setup(py: Python<'_>, settings_json: String, srs_path: String, srs_sha256: Option<String>, pk_path: String, vk_path: String) -> PyResult<()> {
    run(py, || {
        let s = settings(&settings_json)?;
        let pk = api::keygen(&s, &params(&s, &srs_path, srs_sha256.as_deref())?)?;
        api::write_pk(&pk, Path::new(&pk_path))?;
        api::write_vk(pk.get_vk(), Path::new(&vk_path))
    })
}

#[pyfunction]
#[pyo3(signature = (settings_json, srs_path, srs_sha256, pk_path, input))]
fn prove(py: Python<'_>, settings_json: String, srs_path: String, srs_sha256: Option<String>, pk_path: String, input: Vec<i64>) -> PyResult<String> {
    run(py, || {
        let s = settings(&settings_json)?;
        let p = params(&s, &srs_path, srs_sha256.as_deref())?;
        let pk = api::read_pk(&s, Path::new(&pk_path))?;
        Ok(serde_json::to_string(&api::prove(&s, &p, &pk, &input, api::ProofTranscript::Evm)?).expect("proof serialize"))
    })
}

#[pyfunction]
#[pyo3(signature = (settings_json, srs_path, srs_sha256, vk_path, proof_hex, instances_hex))]
fn verify(py: Python<'_>, settings_json: String, srs_path: String, srs_sha256: Option<String>, vk_path: String, proof_hex: String, instances_hex: Vec<String>) -> PyResult<bool> {
    run(py, || {
        let s = settings(&settings_json)?;
        let p = params(&s, &srs_path, srs_sha256.as_deref())?;
        let vk = api::read_vk(&s, Path::new(&vk_path))?;
        api::verify(&s, &p, &vk, &decode_hex("proof", &proof_hex)?, &instances(&instances_hex)?, api::ProofTranscript::Evm)
    })
}

#[pyfunction]
#[pyo3(signature = (settings_json, srs_path, srs_sha256, vk_path))]
fn export_verifier(py: Python<'_>, settings_json: String, srs_path: String, srs_sha256: Option<String>, vk_path: String) -> PyResult<String> {
    run(py, || {
        let s = settings(&settings_json)?;
        let p = params(&s, &srs_path, srs_sha256.as_deref())?;
        let vk = api::read_vk(&s, Path::new(&vk_path))?;
        Ok(api::solidity_verifier(&s, &p, &vk))
    })
}

fn agg_settings(json: &str) -> Result<aggregate::AggregationSettings> {
    aggregate::AggregationSettings::from_json(json)
}

fn agg_params(s: &aggregate::AggregationSettings, path: &str, sha256: Option<&str>) -> Result<Params> {
    srs::load_srs(Path::new(path), sha256, s.params.degree)
}

#[pyfunction]
#[pyo3(signature = (settings_json, srs_path, srs_sha256, pk_path, input))]
fn prove_for_aggregation(py: Python<'_>, settings_json: String, srs_path: String, srs_sha256: Option<String>, pk_path: String, input: Vec<i64>) -> PyResult<String> {
    run(py, || {
        let s = settings(&settings_json)?;
        let p = params(&s, &srs_path, srs_sha256.as_deref())?;
        let pk = api::read_pk(&s, Path::new(&pk_path))?;
        Ok(serde_json::to_string(&api::prove(&s, &p, &pk, &input, api::ProofTranscript::Poseidon)?).expect("proof serialize"))
    })
}

/// The circuit an aggregation circuit verifies, loaded: an inference circuit (`settings_json`
/// of a compiled circuit) or, when `inner_is_aggregation`, a lower aggregation circuit.
enum LoadedInner {
    Inference(Settings),
    Aggregation(aggregate::AggregationSettings),
}

type Params = halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<halo2_base::halo2_proofs::halo2curves::bn256::Bn256>;
type Vk = halo2_base::halo2_proofs::plonk::VerifyingKey<halo2_base::halo2_proofs::halo2curves::bn256::G1Affine>;

impl LoadedInner {
    fn load(settings_json: &str, inner_is_aggregation: bool, srs_path: &str, srs_sha256: Option<&str>, vk_path: &str) -> Result<(Self, Params, Vk)> {
        if inner_is_aggregation {
            let a = agg_settings(settings_json)?;
            let p = agg_params(&a, srs_path, srs_sha256)?;
            let vk = aggregate::read_vk(&a, Path::new(vk_path))?;
            Ok((LoadedInner::Aggregation(a), p, vk))
        } else {
            let s = settings(settings_json)?;
            let p = params(&s, srs_path, srs_sha256)?;
            let vk = api::read_vk(&s, Path::new(vk_path))?;
            Ok((LoadedInner::Inference(s), p, vk))
        }
    }
    fn get(&self) -> aggregate::Inner<'_> {
        match self {
            LoadedInner::Inference(s) => aggregate::Inner::Inference(s),
            LoadedInner::Aggregation(a) => aggregate::Inner::Aggregation(a),
        }
    }
}

fn transcript(evm: bool) -> api::ProofTranscript {
    if evm {
        api::ProofTranscript::Evm
    } else {
        api::ProofTranscript::Poseidon
    }
}

/// Lays out and keys the aggregation circuit of `batch` proofs of a circuit (`inner_json`, its
/// verifying key at `vk_path`; an aggregation circuit when `inner_is_aggregation`) at 2^k rows of
/// the SRS at `agg_srs_path`; returns the aggregation settings.
#[pyfunction]
#[pyo3(signature = (inner_json, inner_is_aggregation, srs_path, srs_sha256, vk_path, agg_srs_path, agg_srs_sha256, k, batch, pk_out, vk_out))]
#[allow(clippy::too_many_arguments)]
fn aggregation_setup(
    py: Python<'_>,
    inner_json: String,
    inner_is_aggregation: bool,
    srs_path: String,
    srs_sha256: Option<String>,
    vk_path: String,
    agg_srs_path: String,
    agg_srs_sha256: Option<String>,
    k: u32,
    batch: usize,
    pk_out: String,
    vk_out: String,
) -> PyResult<String> {
    run(py, || {
        let (inner, inner_params, vk) = LoadedInner::load(&inner_json, inner_is_aggregation, &srs_path, srs_sha256.as_deref(), &vk_path)?;
        let agg_params = srs::load_srs(Path::new(&agg_srs_path), agg_srs_sha256.as_deref(), k)?;
        let (agg, pk) = aggregate::setup(inner.get(), &inner_params, &vk, &agg_params, batch)?;
        aggregate::write_pk(&pk, Path::new(&pk_out))?;
        api::write_vk(pk.get_vk(), Path::new(&vk_out))?;
        Ok(agg.to_json())
    })
}

/// Aggregates inner proofs (each `(proof hex, instances hex)`) of the circuit `inner_json`
/// (see `aggregation_setup`); `evm`: prove for the on-chain verifier, else for a next level.
#[pyfunction]
#[pyo3(signature = (agg_settings_json, agg_srs_path, agg_srs_sha256, agg_pk_path, inner_json, inner_is_aggregation, srs_path, srs_sha256, vk_path, proofs, evm))]
#[allow(clippy::too_many_arguments)]
fn aggregate_proofs(
    py: Python<'_>,
    agg_settings_json: String,
    agg_srs_path: String,
    agg_srs_sha256: Option<String>,
    agg_pk_path: String,
    inner_json: String,
    inner_is_aggregation: bool,
    srs_path: String,
    srs_sha256: Option<String>,
    vk_path: String,
    proofs: Vec<(String, Vec<String>)>,
    evm: bool,
) -> PyResult<String> {
    run(py, || {
        let agg = agg_settings(&agg_settings_json)?;
        let (inner, inner_params, vk) = LoadedInner::load(&inner_json, inner_is_aggregation, &srs_path, srs_sha256.as_deref(), &vk_path)?;
        let decoded = proofs
            .iter()
            .enumerate()
            .map(|(i, (proof, inst))| Ok((decode_hex(&format!("inner proof {i}"), proof)?, instances(inst)?)))
            .collect::<Result<Vec<_>>>()?;
        let p = agg_params(&agg, &agg_srs_path, agg_srs_sha256.as_deref())?;
        let pk = aggregate::read_pk(&agg, Path::new(&agg_pk_path))?;
        let out = aggregate::aggregate(&agg, &p, &pk, inner.get(), &inner_params, &vk, &decoded, transcript(evm))?;
        Ok(serde_json::to_string(&out).expect("aggregated proof serialize"))
    })
}

#[pyfunction]
#[pyo3(signature = (agg_settings_json, agg_srs_path, agg_srs_sha256, agg_vk_path, proof_hex, instances_hex, evm))]
#[allow(clippy::too_many_arguments)]
fn verify_aggregated(py: Python<'_>, agg_settings_json: String, agg_srs_path: String, agg_srs_sha256: Option<String>, agg_vk_path: String, proof_hex: String, instances_hex: Vec<String>, evm: bool) -> PyResult<bool> {
    run(py, || {
        let agg = agg_settings(&agg_settings_json)?;
        let p = agg_params(&agg, &agg_srs_path, agg_srs_sha256.as_deref())?;
        let vk = aggregate::read_vk(&agg, Path::new(&agg_vk_path))?;
        aggregate::verify(&agg, &p, &vk, &decode_hex("proof", &proof_hex)?, &instances(&instances_hex)?, transcript(evm))
    })
}

#[pyfunction]
#[pyo3(signature = (agg_settings_json, agg_srs_path, agg_srs_sha256, agg_vk_path))]
fn export_aggregation_verifier(py: Python<'_>, agg_settings_json: String, agg_srs_path: String, agg_srs_sha256: Option<String>, agg_vk_path: String) -> PyResult<String> {
    run(py, || {
        let agg = agg_settings(&agg_settings_json)?;
        let p = agg_params(&agg, &agg_srs_path, agg_srs_sha256.as_deref())?;
        let vk = aggregate::read_vk(&agg, Path::new(&agg_vk_path))?;
        Ok(aggregate::solidity_verifier(&agg, &p, &vk))
    })
}

#[pyfunction]
fn calldata(py: Python<'_>, proof_hex: String, instances_hex: Vec<String>) -> PyResult<Vec<u8>> {
    run(py, || Ok(api::calldata(&instances(&instances_hex)?, &decode_hex("proof", &proof_hex)?)))
}

#[pyfunction]
fn commit_input(py: Python<'_>, input: Vec<i64>) -> PyResult<String> {
    run(py, || Ok(api::fr_to_hex(&api::input_commitment(&input)?)))
}

#[pyfunction]
fn commit_weights(py: Python<'_>, model_json: String) -> PyResult<String> {
    run(py, || Ok(api::fr_to_hex(&api::weight_commitment(&crate::model::QModel::from_json(&model_json)?))))
}

/// Poseidon (the circuit's parameters) of field elements given as hex: shared test vectors for
/// other implementations (e.g. the on-chain one).
#[pyfunction]
fn poseidon_hash(py: Python<'_>, elements_hex: Vec<String>) -> PyResult<String> {
    run(py, || Ok(api::fr_to_hex(&crate::poseidon::hash(&instances(&elements_hex)?))))
}

#[pyfunction]
fn evaluate(py: Python<'_>, model_json: String, input: Vec<i64>) -> PyResult<(Vec<i64>, usize)> {
    run(py, || api::evaluate(&model_json, &input))
}

#[pymodule]
fn zkmarket_prover(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Panics become Python exceptions (see `run`); keep Rust's default hook from printing them.
    std::panic::set_hook(Box::new(|_| {}));
    let py = m.py();
    for (name, ty) in [
        ("ProverException", py.get_type_bound::<ProverException>()),
        ("ModelError", py.get_type_bound::<ModelError>()),
        ("InputError", py.get_type_bound::<InputError>()),
        ("RangeError", py.get_type_bound::<RangeError>()),
        ("SrsError", py.get_type_bound::<SrsError>()),
        ("ArtifactError", py.get_type_bound::<ArtifactError>()),
        ("ProofError", py.get_type_bound::<ProofError>()),
    ] {
        m.add(name, ty)?;
    }
    m.add("INSECURE_DEV_SEED", srs::INSECURE_DEV_SEED)?;
    m.add("DEFAULT_DOT_WIDTH", api::DEFAULT_DOT_WIDTH)?;
    m.add("ACCUMULATOR_INSTANCES", aggregate::ACCUMULATOR_INSTANCES)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(stats, m)?)?;
    m.add_function(wrap_pyfunction!(write_dev_srs, m)?)?;
    m.add_function(wrap_pyfunction!(sha256_file, m)?)?;
    m.add_function(wrap_pyfunction!(ptau_to_srs, m)?)?;
    m.add_function(wrap_pyfunction!(srs_fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(setup, m)?)?;
    m.add_function(wrap_pyfunction!(prove, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(export_verifier, m)?)?;
    m.add_function(wrap_pyfunction!(calldata, m)?)?;
    m.add_function(wrap_pyfunction!(prove_for_aggregation, m)?)?;
    m.add_function(wrap_pyfunction!(aggregation_setup, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate_proofs, m)?)?;
    m.add_function(wrap_pyfunction!(verify_aggregated, m)?)?;
    m.add_function(wrap_pyfunction!(export_aggregation_verifier, m)?)?;
    m.add_function(wrap_pyfunction!(commit_input, m)?)?;
    m.add_function(wrap_pyfunction!(commit_weights, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(poseidon_hash, m)?)?;
    Ok(())
}
