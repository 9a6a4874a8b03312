//! Aggregation with real proofs: an aggregated proof verifies natively with its inner instances
//! exposed after the accumulator; a changed instance or proof byte is rejected; a bad inner proof
//! or a proof of another circuit is refused before any aggregation work; the Solidity verifier
//! (with its exact-length guard) is produced.
mod common;
use common::{tiny_input, tiny_model};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use zkmarket_prover::aggregate::{aggregate, prove_inner, setup, solidity_verifier, verify, verify_inner, ACCUMULATOR_INSTANCES};
use zkmarket_prover::api::{compile, fr_from_hex, keygen, prove, transcript_len};
use zkmarket_prover::circuit::Visibility;
use zkmarket_prover::plan::MatmulCheck;
use zkmarket_prover::srs::dev_params;

fn decode(proof: &str, instances: &[String]) -> (Vec<u8>, Vec<Fr>) {
    (hex::decode(proof.trim_start_matches("0x")).unwrap(), instances.iter().map(|s| fr_from_hex(s).unwrap()).collect())
}

/// A batch of two slots at 2^19 rows (ten advice columns: fine natively, too large a verifier for
/// the EVM) given one proof, so the second slot is padding; a few minutes on two cores.
#[test]
fn aggregated_proof_verifies_and_tampering_is_rejected() {
    let inner = compile(&tiny_model(), Visibility::HiddenBoth, "class", 2, MatmulCheck::Auto, None).unwrap();
    let inner_params = dev_params(inner.params.k);
    let inner_pk = keygen(&inner, &inner_params).unwrap();
    let inner_vk = inner_pk.get_vk();
    let params = dev_params(19);
    let (agg, pk) = setup(&inner, &inner_params, inner_vk, &params, 2).unwrap();
    let n = inner.num_instances;
    assert_eq!(agg.num_instances, ACCUMULATOR_INSTANCES + 2 * n);

    let out = prove_inner(&inner, &inner_params, &inner_pk, &tiny_input(3)).unwrap();
    let inner_proof = decode(&out.proof, &out.instances);
    assert!(verify_inner(&inner, &inner_params, inner_vk, &inner_proof.0, &inner_proof.1).unwrap());

    let one = aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &[inner_proof.clone()]).unwrap();
    let (proof, instances) = decode(&one.proof, &one.instances);
    assert!(verify(&agg, &params, pk.get_vk(), &proof, &instances).unwrap());
    assert_eq!(one.proofs, 1);
    assert_eq!(&instances[ACCUMULATOR_INSTANCES..][..n], &inner_proof.1[..], "inner instances follow the accumulator");
    assert_eq!(&instances[ACCUMULATOR_INSTANCES + n..], &inner_proof.1[..], "padding repeats the last proof");
    assert_eq!(transcript_len(&params, pk.get_vk(), agg.num_instances), proof.len());
    for i in [0, ACCUMULATOR_INSTANCES - 1, ACCUMULATOR_INSTANCES, ACCUMULATOR_INSTANCES + n, instances.len() - 1] {
        let mut bad = instances.clone();
        bad[i] += Fr::one();
        assert!(!verify(&agg, &params, pk.get_vk(), &proof, &bad).unwrap(), "instance {i}");
    }
    let mut bad = proof.clone();
    bad[proof.len() / 2] ^= 1;
    assert!(!verify(&agg, &params, pk.get_vk(), &bad, &instances).unwrap(), "flipped byte");
    let mut padded = proof.clone();
    padded.push(0);
    assert!(!verify(&agg, &params, pk.get_vk(), &padded, &instances).unwrap(), "trailing byte");

    // Refused before aggregating: a changed inner instance, a Keccak-transcript (single) proof,
    // a proof of another circuit, more proofs than the batch holds.
    let mut changed = inner_proof.clone();
    changed.1[2] += Fr::one();
    let err = aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &[changed]).unwrap_err().to_string();
    assert!(err.contains("inner proof 0"), "{err}");
    let single = prove(&inner, &inner_params, &inner_pk, &tiny_input(3)).unwrap();
    let err = aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &[decode(&single.proof, &single.instances)]).unwrap_err();
    assert!(err.to_string().contains("inner proof 0"), "{err}");
    let other = compile(&tiny_model(), Visibility::HiddenInput, "class", 4, MatmulCheck::Auto, None).unwrap();
    let other_params = dev_params(other.params.k);
    let other_pk = keygen(&other, &other_params).unwrap();
    let err = aggregate(&agg, &params, &pk, &other, &other_params, other_pk.get_vk(), &[inner_proof.clone()]).unwrap_err();
    assert!(err.to_string().contains("another circuit"), "{err}");
    let three = vec![inner_proof.clone(); 3];
    assert!(aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &three).unwrap_err().to_string().contains("1 to 2"));
    assert!(aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &[]).is_err());

    let sol = solidity_verifier(&agg, &params, pk.get_vk());
    let calldata_len = 32 * instances.len() + proof.len();
    assert!(sol.contains(&format!("if iszero(eq(calldatasize(), {calldata_len}))")), "length check expected");
}
