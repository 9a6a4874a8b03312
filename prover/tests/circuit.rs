//! Circuit tests with halo2's MockProver: honest witnesses satisfy every constraint, and a
//! changed output, input or weight does not.
mod common;
use common::{tiny_input, tiny_model};
use halo2_base::halo2_proofs::{dev::MockProver, halo2curves::bn256::Fr};
use zkmarket_prover::plan::MatmulCheck;
use zkmarket_prover::api::{compile, input_commitment, weight_commitment};
use zkmarket_prover::circuit::{CnnCircuit, Visibility};
use zkmarket_prover::model::QModel;
use zkmarket_prover::plan::{plan, OutputKind};

fn circuit(vis: Visibility, output: &str, input: &[i64]) -> CnnCircuit {
    let settings = compile(&tiny_model(), vis, output, 4, MatmulCheck::Auto, None).unwrap();
    settings.circuit(input).unwrap()
}

fn mock(c: &CnnCircuit, instances: Vec<Fr>) -> bool {
    MockProver::run(c.params.k, c, vec![instances]).unwrap().verify().is_ok()
}

#[test]
fn honest_witness_satisfies_every_mode_and_output() {
    for vis in [Visibility::HiddenInput, Visibility::HiddenWeights, Visibility::HiddenBoth] {
        for output in ["logits", "class"] {
            let c = circuit(vis, output, &tiny_input(1));
            assert!(mock(&c, c.instances.clone()), "{vis:?} {output}");
        }
    }
}

#[test]
fn instances_are_commitments_then_outputs() {
    let model = QModel::from_json(&tiny_model()).unwrap();
    let input = tiny_input(2);
    let c = circuit(Visibility::HiddenBoth, "logits", &input);
    assert_eq!(c.instances[0], input_commitment(&input).unwrap());
    assert_eq!(c.instances[1], weight_commitment(&model));
    let logits: Vec<Fr> = c.plan.logits.iter().map(|v| Fr::from(*v as u64)).collect();
    assert_eq!(&c.instances[2..], &logits[..]);
    let c = circuit(Visibility::HiddenBoth, "class", &input);
    assert_eq!(c.instances[2], Fr::from(c.plan.class as u64));
    assert_eq!(c.instances.len(), 3);
}

#[test]
fn changed_public_output_is_rejected() {
    for output in ["logits", "class"] {
        let c = circuit(Visibility::HiddenBoth, output, &tiny_input(3));
        let mut bad = c.instances.clone();
        bad[2] += Fr::one();
        assert!(!mock(&c, bad), "{output}");
    }
}

#[test]
fn changed_commitments_are_rejected() {
    for vis in [Visibility::HiddenInput, Visibility::HiddenBoth] {
        let c = circuit(vis, "class", &tiny_input(4));
        for i in 0..2 {
            let mut bad = c.instances.clone();
            bad[i] += Fr::one();
            assert!(!mock(&c, bad), "{vis:?} instance {i}");
        }
    }
}

#[test]
fn tampered_activation_is_rejected() {
    let mut c = circuit(Visibility::HiddenBoth, "logits", &tiny_input(5));
    // Change one requantized activation of the first layer: the rescale/lookup rows catch it.
    let rows = c.plan.rows.clone();
    let first_activation = rows.iter().find(|r| r.sel & zkmarket_prover::plan::SEL_RESCALE != 0).unwrap();
    let vid = first_activation.cells.iter().find_map(|(_, s)| match s {
        zkmarket_prover::plan::Slot::Def(v) => Some(*v),
        _ => None,
    });
    c.plan.values[vid.unwrap() as usize] += Fr::one();
    assert!(!mock(&c, c.instances.clone()));
}

#[test]
fn out_of_range_requantization_is_a_clear_error() {
    let mut model: serde_json::Value = serde_json::from_str(&tiny_model()).unwrap();
    model["layers"][0]["multiplier"] = serde_json::json!([16000000, 16000000]);
    let model = QModel::from_json(&model.to_string()).unwrap();
    let err = plan(&model, &vec![255; 16], 4, OutputKind::Logits, None, MatmulCheck::Direct, false).unwrap_err();
    assert!(err.to_string().contains("lookup table"), "{err}");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let model = QModel::from_json(&tiny_model()).unwrap();
    let short = plan(&model, &[1, 2, 3], 4, OutputKind::Logits, None, MatmulCheck::Direct, false).unwrap_err();
    assert!(short.to_string().contains("expects"), "{short}");
    let big = plan(&model, &vec![256; 16], 4, OutputKind::Logits, None, MatmulCheck::Direct, false).unwrap_err();
    assert!(big.to_string().contains("not a byte"), "{big}");
    let malformed = QModel::from_json("{\"format\": 1}").unwrap_err();
    assert!(malformed.to_string().contains("malformed"), "{malformed}");
}

#[test]
fn tampered_weight_changes_the_commitment() {
    let c = circuit(Visibility::HiddenBoth, "class", &tiny_input(6));
    let mut bad = c.clone();
    let w = bad.plan.weight_vids[3] as usize;
    bad.plan.values[w] += Fr::one();
    // Same public instances, different weight inside: the hash rows no longer match.
    assert!(!mock(&bad, c.instances.clone()));
}

#[test]
fn native_poseidon_equals_halo2_base_hasher() {
    use halo2_base::gates::{circuit::builder::BaseCircuitBuilder, GateChip};
    use halo2_base::poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher};
    for len in [0usize, 1, 2, 3, 7] {
        let inputs: Vec<Fr> = (0..len).map(|i| Fr::from(1000 + i as u64)).collect();
        let mut builder = BaseCircuitBuilder::<Fr>::new(true);
        let gate = GateChip::<Fr>::default();
        let ctx = builder.main(0);
        let mut hasher = PoseidonHasher::<Fr, 3, 2>::new(OptimizedPoseidonSpec::new::<8, 57, 0>());
        hasher.initialize_consts(ctx, &gate);
        let assigned = ctx.assign_witnesses(inputs.clone());
        let expected = *hasher.hash_fix_len_array(ctx, &gate, &assigned).value();
        assert_eq!(zkmarket_prover::poseidon::hash(&inputs), expected, "length {len}");
    }
}

fn circuit_with(check: MatmulCheck, vis: Visibility, output: &str, input: &[i64]) -> CnnCircuit {
    compile(&tiny_model(), vis, output, 2, check, None).unwrap().circuit(input).unwrap()
}

#[test]
fn freivalds_circuit_is_two_phase_and_satisfied_in_every_mode() {
    for vis in [Visibility::HiddenInput, Visibility::HiddenWeights, Visibility::HiddenBoth] {
        for output in ["logits", "class"] {
            let c = circuit_with(MatmulCheck::Freivalds, vis, output, &tiny_input(11));
            assert!(c.params.two_phase);
            assert!(mock(&c, c.instances.clone()), "{vis:?} {output}");
            // Same outputs as checking every product directly.
            let direct = circuit_with(MatmulCheck::Direct, vis, output, &tiny_input(11));
            assert!(!direct.params.two_phase);
            assert_eq!(c.instances, direct.instances, "{vis:?} {output}");
        }
    }
}

/// Changes one accumulator of a matrix product by one and its requantization remainder to
/// match, so that the rescale row still holds: only the product check can notice.
fn shift_one_accumulator(c: &mut CnnCircuit) -> bool {
    use zkmarket_prover::plan::{Columns, Slot, B, SEL_RESCALE};
    let cols = Columns { m: c.params.m, two_phase: c.params.two_phase, pairs: c.params.pairs };
    let value = |c: &CnnCircuit, v: u32| -> i64 {
        let bytes = c.plan.values[v as usize].to_bytes();
        i64::from_le_bytes(bytes[..8].try_into().unwrap())
    };
    let rows = c.plan.rows.clone();
    for (r, row) in rows.iter().enumerate() {
        if row.sel & SEL_RESCALE == 0 {
            continue;
        }
        let Some(Slot::Copy(acc)) = row.cells.iter().find(|(col, _)| *col == cols.a()).map(|(_, s)| *s) else { continue };
        let mult = i64::from_le_bytes(row.fixed[1].to_bytes()[..8].try_into().unwrap());
        let rem_vid = |k: usize| match rows[r + k].cells.iter().find(|(col, _)| *col == cols.clip_x()).unwrap().1 {
            Slot::Def(v) => v,
            _ => unreachable!(),
        };
        let (lo, hi) = (rem_vid(1), rem_vid(2));
        let rem = value(c, lo) + 256 * value(c, hi);
        for step in [1i64, -1] {
            let shifted = rem + step * mult;
            if (0..B as i64).contains(&shifted) && value(c, acc) > 0 {
                c.plan.values[acc as usize] += if step > 0 { Fr::one() } else { -Fr::one() };
                c.plan.values[lo as usize] = Fr::from((shifted & 255) as u64);
                c.plan.values[hi as usize] = Fr::from((shifted >> 8) as u64);
                return true;
            }
        }
    }
    false
}

#[test]
fn wrong_accumulator_is_rejected_by_either_product_check() {
    for check in [MatmulCheck::Freivalds, MatmulCheck::Direct] {
        let mut c = circuit_with(check, Visibility::HiddenBoth, "logits", &tiny_input(12));
        let instances = c.instances.clone();
        assert!(shift_one_accumulator(&mut c), "{check:?}: no accumulator to shift");
        assert!(!mock(&c, instances), "{check:?}");
    }
}

#[test]
fn fold_over_a_wrong_weight_is_rejected() {
    use zkmarket_prover::plan::{P2Op, Slot, SEL_HORNER_V};
    for vis in [Visibility::HiddenInput, Visibility::HiddenBoth] {
        let mut c = circuit_with(MatmulCheck::Freivalds, vis, "logits", &tiny_input(13));
        let instances = c.instances.clone();
        // A weight fold (zero point 128) whose first weight is not the committed one and not
        // even copied from it: the accumulators stay honest, so only the product check can fail.
        let offset = Fr::from(128u64);
        let r = c.plan.rows.iter().position(|r| r.sel & SEL_HORNER_V != 0 && r.fixed[0] == offset).unwrap();
        let row = &mut c.plan.rows[r];
        let fold = row.cells.iter().find_map(|(_, s)| match s {
            Slot::Def2(id) => Some(*id),
            _ => None,
        });
        let (_, slot) = row.cells.iter_mut().find(|(col, _)| *col == 0).unwrap();
        let Slot::Copy(w) = *slot else { panic!("weights are copied into folds") };
        let wrong = c.plan.values[w as usize] + Fr::one();
        *slot = Slot::Plain(wrong);
        // The fold itself is computed over the wrong weight, so its own row holds.
        c.plan.values.push(wrong);
        let wrong_vid = (c.plan.values.len() - 1) as u32;
        match &mut c.plan.phase2[fold.unwrap() as usize] {
            P2Op::Horner { cells, .. } => cells[0] = wrong_vid,
            other => panic!("expected a fold, got {other:?}"),
        }
        assert!(!mock(&c, instances), "{vis:?}");
    }
}

fn paired_circuit(check: MatmulCheck, vis: Visibility, output: &str, input: &[i64]) -> CnnCircuit {
    compile(&tiny_model(), vis, output, 2, check, Some(true)).unwrap().circuit(input).unwrap()
}

#[test]
fn byte_pair_table_circuit_is_satisfied_and_agrees_with_the_plain_one() {
    let cases = [
        (MatmulCheck::Direct, Visibility::HiddenInput),
        (MatmulCheck::Freivalds, Visibility::HiddenWeights),
        (MatmulCheck::Freivalds, Visibility::HiddenBoth),
    ];
    for (check, vis) in cases {
        let c = paired_circuit(check, vis, "logits", &tiny_input(21));
        assert!(c.params.pairs && c.params.k >= 17);
        assert!(mock(&c, c.instances.clone()), "{check:?} {vis:?}");
        let plain = circuit_with(check, vis, "logits", &tiny_input(21));
        assert_eq!(c.instances, plain.instances, "{check:?} {vis:?}");
    }
}

#[test]
fn byte_pair_rows_refuse_a_non_byte_and_a_changed_packed_byte() {
    use zkmarket_prover::plan::{Columns, Slot, SEL_PACK, SEL_PAIR};
    let c = paired_circuit(MatmulCheck::Direct, Visibility::HiddenBoth, "class", &tiny_input(22));
    let cols = Columns { m: c.params.m, two_phase: c.params.two_phase, pairs: true };
    // A remainder pair row holding 256 and 0 instead of 0 and 1 (same 16-bit value): the
    // rescale gate still holds, only the table can refuse it.
    let mut bad = c.clone();
    let r = bad.plan.rows.iter().position(|r| r.sel & SEL_PAIR != 0 && r.sel & SEL_PACK == 0 && {
        let hi = r.cells.iter().find(|(col, _)| *col == cols.clip_y()).unwrap().1;
        matches!(hi, Slot::Plain(v) if v != Fr::zero())
    });
    let row = &mut bad.plan.rows[r.expect("a remainder with a non-zero high byte")];
    for (col, slot) in row.cells.iter_mut() {
        if let Slot::Plain(v) = slot {
            *v = if *col == cols.clip_x() { *v + Fr::from(256) } else { *v - Fr::one() };
        }
    }
    assert!(!mock(&bad, c.instances.clone()));
    // An input byte changed in its pair row: the packed element (and commitment) disagree.
    let mut bad = c.clone();
    let v = bad.plan.rows.iter().filter(|r| r.sel & SEL_PACK != 0).find_map(|r| {
        match r.cells.iter().find(|(col, _)| *col == cols.clip_y()).unwrap().1 {
            Slot::Def(v) => Some(v),
            _ => None, // the marker byte and zero padding are copies of constants
        }
    });
    let v = v.expect("packed bytes are defined in their pair rows");
    bad.plan.values[v as usize] += Fr::one();
    assert!(!mock(&bad, c.instances.clone()));
}

#[test]
fn requantized_output_cannot_borrow_a_byte_pair_entry() {
    use zkmarket_prover::plan::{Columns, Slot, SEL_RESCALE};
    // The last rescale row is a logit: moving it to (q, y + 1), an entry of the byte-pair part
    // but not of the clip part, and publishing y + 1, must be refused by the tag.
    let c = paired_circuit(MatmulCheck::Direct, Visibility::HiddenBoth, "logits", &tiny_input(23));
    let cols = Columns { m: c.params.m, two_phase: c.params.two_phase, pairs: true };
    let mut bad = c.clone();
    let row = bad.plan.rows.iter().rev().find(|r| r.sel & SEL_RESCALE != 0).unwrap();
    let Slot::Def(y) = row.cells.iter().find(|(col, _)| *col == cols.clip_y()).unwrap().1 else { panic!() };
    assert!(bad.plan.values[y as usize] < Fr::from(255u64), "pick an input whose last logit is below 255");
    bad.plan.values[y as usize] += Fr::one();
    let mut instances = c.instances.clone();
    let at = instances.iter().rposition(|v| *v == c.plan.values[y as usize]).unwrap();
    instances[at] += Fr::one();
    assert!(!mock(&bad, instances));
}
