//! Aggregation with real proofs, two levels: a first level (Poseidon transcript) aggregates
//! inference proofs of a two-phase circuit (Freivalds' test), a second (EVM transcript, for the
//! chain) aggregates the first's proof. Each verifies natively with the inference instances
//! exposed after the accumulator; a changed instance or proof byte is rejected; a bad inner proof
//! or a proof of another circuit is refused before any aggregation work; the Solidity verifier
//! (with its exact-length guard) is produced.
mod common;
use common::{tiny_input, tiny_model};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use zkmarket_prover::aggregate::{aggregate, setup, solidity_verifier, verify, Inner, ACCUMULATOR_INSTANCES};
use zkmarket_prover::api::{self, compile, fr_from_hex, keygen, prove, transcript_len, ProofTranscript as Transcript};
use zkmarket_prover::circuit::Visibility;
use zkmarket_prover::plan::MatmulCheck;
use zkmarket_prover::srs::dev_params;

fn decode(proof: &str, instances: &[String]) -> (Vec<u8>, Vec<Fr>) {
    (hex::decode(proof.trim_start_matches("0x")).unwrap(), instances.iter().map(|s| fr_from_hex(s).unwrap()).collect())
}

/// A first level of two slots at 2^19 rows (ten advice columns: fine natively, too large a
/// verifier for the EVM) given one proof, so the second slot is padding; a second level of one
/// proof at 2^20 rows makes the EVM proof. A few minutes on two cores.
#[test]
fn nested_aggregated_proof_verifies_and_tampering_is_rejected() {
    // Freivalds' test: a two-phase inner circuit (challenges drawn after the first phase).
    let inner = compile(&tiny_model(), Visibility::HiddenBoth, "class", 2, MatmulCheck::Freivalds, None).unwrap();
    assert!(inner.params.two_phase);
    let inner_params = dev_params(inner.params.k);
    let inner_pk = keygen(&inner, &inner_params).unwrap();
    let inner_vk = inner_pk.get_vk();
    let params = dev_params(19);
    let (agg, pk) = setup(Inner::Inference(&inner), &inner_params, inner_vk, &params, 2).unwrap();
    let n = inner.num_instances;
    assert_eq!(agg.num_instances, ACCUMULATOR_INSTANCES + 2 * n);

    let out = prove(&inner, &inner_params, &inner_pk, &tiny_input(3), Transcript::Poseidon).unwrap();
    let inner_proof = decode(&out.proof, &out.instances);
    assert!(api::verify(&inner, &inner_params, inner_vk, &inner_proof.0, &inner_proof.1, Transcript::Poseidon).unwrap());

    let level1 = |proofs: &[(Vec<u8>, Vec<Fr>)]| aggregate(&agg, &params, &pk, Inner::Inference(&inner), &inner_params, inner_vk, proofs, Transcript::Poseidon);
    let one = level1(&[inner_proof.clone()]).unwrap();
    let (proof1, instances1) = decode(&one.proof, &one.instances);
    assert!(verify(&agg, &params, pk.get_vk(), &proof1, &instances1, Transcript::Poseidon).unwrap());
    assert!(!verify(&agg, &params, pk.get_vk(), &proof1, &instances1, Transcript::Evm).unwrap(), "a Poseidon proof is not an EVM proof");
    assert_eq!(one.proofs, 1);
    assert_eq!(&instances1[ACCUMULATOR_INSTANCES..][..n], &inner_proof.1[..], "inner instances follow the accumulator");
    assert_eq!(&instances1[ACCUMULATOR_INSTANCES + n..], &inner_proof.1[..], "padding repeats the last proof");

    // Refused before aggregating: a changed inner instance, a Keccak-transcript (single) proof,
    // a proof of another circuit, more proofs than the batch holds.
    let mut changed = inner_proof.clone();
    changed.1[2] += Fr::one();
    let err = level1(&[changed]).unwrap_err().to_string();
    assert!(err.contains("inner proof 0"), "{err}");
    let single = prove(&inner, &inner_params, &inner_pk, &tiny_input(3), Transcript::Evm).unwrap();
    let err = level1(&[decode(&single.proof, &single.instances)]).unwrap_err();
    assert!(err.to_string().contains("inner proof 0"), "{err}");
    let other = compile(&tiny_model(), Visibility::HiddenInput, "class", 4, MatmulCheck::Auto, None).unwrap();
    let other_params = dev_params(other.params.k);
    let other_pk = keygen(&other, &other_params).unwrap();
    let err = aggregate(&agg, &params, &pk, Inner::Inference(&other), &other_params, other_pk.get_vk(), &[inner_proof.clone()], Transcript::Poseidon).unwrap_err();
    assert!(err.to_string().contains("another circuit"), "{err}");
    assert!(level1(&vec![inner_proof.clone(); 3]).unwrap_err().to_string().contains("1 to 2"));
    assert!(level1(&[]).is_err());

    // The second level: the first level's proof in a circuit of its own, proved for the EVM; it
    // exposes the inference instances again (not the first level's accumulator, which it folds).
    let root_params = dev_params(20);
    let (root, root_pk) = setup(Inner::Aggregation(&agg), &params, pk.get_vk(), &root_params, 1).unwrap();
    assert_eq!(root.num_instances, agg.num_instances);
    let level2 = |proofs: &[(Vec<u8>, Vec<Fr>)]| aggregate(&root, &root_params, &root_pk, Inner::Aggregation(&agg), &params, pk.get_vk(), proofs, Transcript::Evm);
    let mut forged = (proof1.clone(), instances1.clone());
    forged.1[ACCUMULATOR_INSTANCES] += Fr::one();
    assert!(level2(&[forged]).unwrap_err().to_string().contains("inner proof 0"), "a first-level proof with a changed instance");
    let top = level2(&[(proof1.clone(), instances1.clone())]).unwrap();
    let (proof, instances) = decode(&top.proof, &top.instances);
    assert!(verify(&root, &root_params, root_pk.get_vk(), &proof, &instances, Transcript::Evm).unwrap());
    assert_eq!(&instances[ACCUMULATOR_INSTANCES..], &instances1[ACCUMULATOR_INSTANCES..], "the inference instances, again");
    assert_ne!(&instances[..ACCUMULATOR_INSTANCES], &instances1[..ACCUMULATOR_INSTANCES], "a new accumulator");
    assert_eq!(transcript_len(&root_params, root_pk.get_vk(), root.num_instances), proof.len());
    for i in [0, ACCUMULATOR_INSTANCES - 1, ACCUMULATOR_INSTANCES, ACCUMULATOR_INSTANCES + n, instances.len() - 1] {
        let mut bad = instances.clone();
        bad[i] += Fr::one();
        assert!(!verify(&root, &root_params, root_pk.get_vk(), &proof, &bad, Transcript::Evm).unwrap(), "instance {i}");
    }
    let mut bad = proof.clone();
    bad[proof.len() / 2] ^= 1;
    assert!(!verify(&root, &root_params, root_pk.get_vk(), &bad, &instances, Transcript::Evm).unwrap(), "flipped byte");
    let mut padded = proof.clone();
    padded.push(0);
    assert!(!verify(&root, &root_params, root_pk.get_vk(), &padded, &instances, Transcript::Evm).unwrap(), "trailing byte");

    let sol = solidity_verifier(&root, &root_params, root_pk.get_vk());
    let calldata_len = 32 * instances.len() + proof.len();
    assert!(sol.contains(&format!("if iszero(eq(calldatasize(), {calldata_len}))")), "length check expected");
}
