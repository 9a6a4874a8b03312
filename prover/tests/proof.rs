//! Real KZG proofs: an honest proof verifies, and any changed instance or flipped proof byte
//! is rejected; the exported Solidity verifier is produced.
mod common;
use common::{tiny_input, tiny_model};
use halo2_base::halo2_proofs::{halo2curves::bn256::Fr, plonk::ProvingKey};
use zkmarket_prover::plan::MatmulCheck;
use zkmarket_prover::api::{compile, fr_from_hex, keygen, prove, read_vk, solidity_verifier, transcript_len, verify, write_vk, ProofTranscript::Evm};
use zkmarket_prover::circuit::Visibility;
use zkmarket_prover::srs::{load_srs, sha256_file, write_dev_srs};

#[test]
fn proof_verifies_and_tampering_is_rejected() {
    let dir = std::env::temp_dir().join(format!("zkm-proof-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = compile(&tiny_model(), Visibility::HiddenBoth, "class", 2, MatmulCheck::Auto, None).unwrap();
    let k = settings.params.k;
    let srs = dir.join("srs");
    write_dev_srs(k + 1, &srs).unwrap();
    let hash = sha256_file(&srs).unwrap();
    assert!(load_srs(&srs, Some("00"), k).is_err(), "a wrong SRS hash must be refused");
    let params = load_srs(&srs, Some(&hash), k).unwrap();
    let pk: ProvingKey<_> = keygen(&settings, &params).unwrap();
    let vk_path = dir.join("vk");
    write_vk(pk.get_vk(), &vk_path).unwrap();
    let vk = read_vk(&settings, &vk_path).unwrap();

    let out = prove(&settings, &params, &pk, &tiny_input(9), Evm).unwrap();
    let proof = hex::decode(out.proof.trim_start_matches("0x")).unwrap();
    let instances: Vec<Fr> = out.instances.iter().map(|s| fr_from_hex(s).unwrap()).collect();
    assert!(verify(&settings, &params, &vk, &proof, &instances, Evm).unwrap());
    assert_eq!(transcript_len(&params, &vk, settings.num_instances), proof.len(), "the verifier reads exactly one proof");
    let mut padded = proof.clone();
    padded.extend_from_slice(&[0u8; 32]);
    assert!(!verify(&settings, &params, &vk, &padded, &instances, Evm).unwrap(), "trailing bytes");
    assert!(!verify(&settings, &params, &vk, &proof[..proof.len() - 1], &instances, Evm).unwrap(), "truncated");

    for i in 0..instances.len() {
        let mut bad = instances.clone();
        bad[i] += Fr::one();
        assert!(!verify(&settings, &params, &vk, &proof, &bad, Evm).unwrap(), "instance {i}");
    }
    for pos in [0, proof.len() / 2, proof.len() - 1] {
        let mut bad = proof.clone();
        bad[pos] ^= 1;
        assert!(!verify(&settings, &params, &vk, &bad, &instances, Evm).unwrap(), "byte {pos}");
    }
    assert!(verify(&settings, &params, &vk, &proof, &instances[..2], Evm).is_err());

    let other = compile(&tiny_model(), Visibility::HiddenInput, "class", 4, MatmulCheck::Auto, None).unwrap();
    let other_pk = keygen(&other, &load_srs(&srs, None, other.params.k).unwrap()).unwrap();
    assert!(!verify(&other, &params, other_pk.get_vk(), &proof, &instances, Evm).unwrap(), "proof for another circuit");

    let sol = solidity_verifier(&settings, &params, &vk);
    assert!(sol.contains("contract"), "Solidity source expected");
    let calldata_len = 32 * instances.len() + proof.len();
    assert!(sol.contains(&format!("if iszero(eq(calldatasize(), {calldata_len}))")), "length check expected");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn fast_dev_srs_equals_halo2_setup_from_the_same_seed() {
    use halo2_base::halo2_proofs::{halo2curves::bn256::Bn256, poly::{commitment::Params, kzg::commitment::ParamsKZG}};
    use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
    use zkmarket_prover::srs::{dev_params, INSECURE_DEV_SEED};
    for k in [4, 7] {
        let (mut fast, mut reference) = (vec![], vec![]);
        dev_params(k).write(&mut fast).unwrap();
        ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::seed_from_u64(INSECURE_DEV_SEED)).write(&mut reference).unwrap();
        assert!(fast == reference, "k = {k}");
    }
}
