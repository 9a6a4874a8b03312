//! The project's digits CNN (models/digits-cnn.json) satisfies the circuit in every mode, and
//! its circuit outputs equal the golden vectors of the Python reference.
use halo2_base::halo2_proofs::dev::MockProver;
use zkmarket_prover::plan::MatmulCheck;
use zkmarket_prover::api::compile;
use zkmarket_prover::circuit::Visibility;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../models/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn digits_cnn_satisfies_the_circuit_and_matches_the_reference() {
    let model = read("digits-cnn.json");
    let samples: serde_json::Value = serde_json::from_str(&read("digits-cnn.samples.json")).unwrap();
    let sample = &samples["samples"][0];
    let input: Vec<i64> = serde_json::from_value(sample["input"].clone()).unwrap();
    let logits: Vec<i64> = serde_json::from_value(sample["logits"].clone()).unwrap();
    for (vis, output) in [(Visibility::HiddenBoth, "class"), (Visibility::HiddenInput, "logits")] {
        let settings = compile(&model, vis, output, 2, MatmulCheck::Auto, None).unwrap();
        let circuit = settings.circuit(&input).unwrap();
        assert_eq!(circuit.plan.logits, logits);
        let prover = MockProver::run(circuit.params.k, &circuit, vec![circuit.instances.clone()]).unwrap();
        assert!(prover.verify().is_ok(), "{vis:?}");
    }
}

#[test]
fn one_lookup_table_serves_every_activation_and_range_check() {
    let settings = compile(&read("digits-cnn.json"), Visibility::HiddenBoth, "class", 2, MatmulCheck::Auto, None).unwrap();
    let stats = zkmarket_prover::api::stats(&settings).unwrap();
    assert_eq!((stats.lookup_tables, stats.lookup_arguments), (1, 1));
    assert_eq!(stats.parameters, 2554);
}
