//! Aggregation with real proofs: a batch (padded) verifies natively with its inner instances
//! exposed in order; a changed instance or proof byte is rejected; a bad inner proof or a proof
//! of another circuit is refused before any aggregation work; the Solidity verifier is produced.
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

#[test]
fn aggregated_batch_verifies_and_tampering_is_rejected() {
    let inner = compile(&tiny_model(), Visibility::HiddenBoth, "class", 2, MatmulCheck::Auto, None).unwrap();
    let inner_params = dev_params(inner.params.k);
    let inner_pk = keygen(&inner, &inner_params).unwrap();
    let inner_vk = inner_pk.get_vk();
    let params = dev_params(19);
    let (agg, pk) = setup(&inner, &inner_params, inner_vk, &params, 2).unwrap();
    assert_eq!(agg.num_instances, ACCUMULATOR_INSTANCES + 2 * inner.num_instances);

    let proofs: Vec<(Vec<u8>, Vec<Fr>)> = [3, 9]
        .iter()
        .map(|seed| {
            let out = prove_inner(&inner, &inner_params, &inner_pk, &tiny_input(*seed)).unwrap();
            decode(&out.proof, &out.instances)
        })
        .collect();
    for (proof, instances) in &proofs {
        assert!(verify_inner(&inner, &inner_params, inner_vk, proof, instances).unwrap());
    }

    // A batch of one is padded with its last proof.
    let one = aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &proofs[..1]).unwrap();
    let (proof, instances) = decode(&one.proof, &one.instances);
    assert!(verify(&agg, &params, pk.get_vk(), &proof, &instances).unwrap());
    let n = inner.num_instances;
    let (first, second) = (&instances[ACCUMULATOR_INSTANCES..][..n], &instances[ACCUMULATOR_INSTANCES + n..]);
    assert_eq!(first, &proofs[0].1[..]);
    assert_eq!(second, &proofs[0].1[..], "padding repeats the last proof");
    assert_eq!(transcript_len(&params, pk.get_vk(), agg.num_instances), proof.len());

    let two = aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &proofs).unwrap();
    let (proof, instances) = decode(&two.proof, &two.instances);
    assert!(verify(&agg, &params, pk.get_vk(), &proof, &instances).unwrap());
    assert_eq!(&instances[ACCUMULATOR_INSTANCES + n..], &proofs[1].1[..]);
    for i in [0, ACCUMULATOR_INSTANCES, ACCUMULATOR_INSTANCES + 1, instances.len() - 1] {
        let mut bad = instances.clone();
        bad[i] += Fr::one();
        assert!(!verify(&agg, &params, pk.get_vk(), &proof, &bad).unwrap(), "instance {i}");
    }
    let mut swapped = instances.clone();
    swapped[ACCUMULATOR_INSTANCES..].rotate_left(n);
    assert!(!verify(&agg, &params, pk.get_vk(), &proof, &swapped).unwrap(), "examples swapped");
    let mut bad = proof.clone();
    bad[proof.len() / 2] ^= 1;
    assert!(!verify(&agg, &params, pk.get_vk(), &bad, &instances).unwrap(), "flipped byte");

    // Refused before aggregating: a changed inner instance, a Keccak-transcript (single) proof,
    // a proof of another circuit, too many proofs.
    let mut changed = proofs.clone();
    changed[1].1[2] += Fr::one();
    let err = aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &changed).unwrap_err().to_string();
    assert!(err.contains("inner proof 1"), "{err}");
    let single = prove(&inner, &inner_params, &inner_pk, &tiny_input(3)).unwrap();
    let err = aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &[decode(&single.proof, &single.instances)]).unwrap_err();
    assert!(err.to_string().contains("inner proof 0"), "{err}");
    let other = compile(&tiny_model(), Visibility::HiddenInput, "class", 4, MatmulCheck::Auto, None).unwrap();
    let other_params = dev_params(other.params.k);
    let other_pk = keygen(&other, &other_params).unwrap();
    let err = aggregate(&agg, &params, &pk, &other, &other_params, other_pk.get_vk(), &proofs).unwrap_err();
    assert!(err.to_string().contains("another circuit"), "{err}");
    let three = [proofs.clone(), proofs[..1].to_vec()].concat();
    assert!(aggregate(&agg, &params, &pk, &inner, &inner_params, inner_vk, &three).is_err());

    let sol = solidity_verifier(&agg, &params, pk.get_vk());
    let calldata_len = 32 * instances.len() + proof.len();
    assert!(sol.contains(&format!("if iszero(eq(calldatasize(), {calldata_len}))")), "length check expected");
}
