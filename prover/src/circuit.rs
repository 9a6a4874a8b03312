//! The halo2 circuit: custom CNN gates over one shared ClipAndScale table (paper section 4),
//! plus halo2-base's flex gate for Poseidon commitments and the top-1 selection.
//!
//! The CNN region holds every multiply-accumulate; halo2-base holds the hashing. The two are
//! joined by copy constraints after both are laid out (`links`).
use crate::commit::{commit_in_ctx, poseidon_hasher};
use crate::plan::{Plan, Slot, Vid, B, SEL_ADD, SEL_DOT, SEL_RANGE, SEL_RESCALE, WEIGHT_OFFSET, OutputKind};
use halo2_base::gates::circuit::{builder::BaseCircuitBuilder, BaseCircuitParams, BaseConfig};
use halo2_base::gates::{GateChip, GateInstructions};
use halo2_base::halo2_proofs::{
    circuit::{Cell, Layouter, SimpleFloorPlanner, Value},
    halo2curves::bn256::Fr,
    plonk::{Advice, Circuit, Column, ConstraintSystem, Error, Expression, Fixed, Selector, TableColumn},
    poly::Rotation,
};
use halo2_base::{AssignedValue, Context};
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::CircuitExt;

/// Rows reserved at the bottom of the table for blinding (more than halo2 needs here).
pub const MIN_ROWS: usize = 64;

/// Which parts of the computation stay private (paper 4.2). The input is always bound by its
/// Poseidon commitment; public weights are fixed in the circuit, so the verifying key is the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Visibility {
    /// Hidden input, public weights.
    HiddenInput,
    /// Public input, hidden weights.
    HiddenWeights,
    /// Hidden input and hidden weights.
    HiddenBoth,
}

impl Visibility {
    pub fn weights_hidden(self) -> bool {
        !matches!(self, Visibility::HiddenInput)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CircuitParams {
    pub k: u32,
    pub m: usize,
    pub lookup_bits: u32,
    pub base: BaseCircuitParams,
}

pub fn fr(v: i64) -> Fr {
    if v >= 0 {
        Fr::from(v as u64)
    } else {
        -Fr::from(v.unsigned_abs())
    }
}

#[derive(Clone, Debug)]
pub struct CnnConfig {
    advice: Vec<Column<Advice>>,
    fixed: [Column<Fixed>; 4],
    s_dot: Selector,
    s_add: Selector,
    s_rescale: Selector,
    s_range: Selector,
    table: [TableColumn; 2],
    lookup_bits: u32,
}

impl CnnConfig {
    fn configure(meta: &mut ConstraintSystem<Fr>, m: usize, lookup_bits: u32) -> Self {
        let cols = crate::plan::Columns { m };
        let advice: Vec<Column<Advice>> = (0..cols.count())
            .map(|_| {
                let c = meta.advice_column();
                meta.enable_equality(c);
                c
            })
            .collect();
        let fixed = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
        let (s_dot, s_add, s_rescale, s_range) = (meta.selector(), meta.selector(), meta.selector(), meta.selector());
        let table = [meta.lookup_table_column(), meta.lookup_table_column()];
        let a = |vc: &mut halo2_base::halo2_proofs::plonk::VirtualCells<Fr>, i: u16| {
            vc.query_advice(advice[i as usize], Rotation::cur())
        };
        meta.create_gate("dot product with zero point", |vc| {
            let s = vc.query_selector(s_dot);
            let z = vc.query_fixed(fixed[0], Rotation::cur());
            let mut sum = a(vc, cols.acc_in());
            for i in 0..m {
                let x = a(vc, cols.x(i)) - z.clone();
                let w = a(vc, cols.w(i)) - Expression::Constant(fr(WEIGHT_OFFSET));
                sum = sum + x * w;
            }
            vec![s * (a(vc, cols.acc()) - sum)]
        });
        meta.create_gate("add", |vc| {
            let s = vc.query_selector(s_add);
            let (ma, mb) = (vc.query_fixed(fixed[0], Rotation::cur()), vc.query_fixed(fixed[3], Rotation::cur()));
            vec![s * (a(vc, cols.acc()) - ma * a(vc, cols.x(0)) - mb * a(vc, cols.x(1)))]
        });
        meta.create_gate("rescale by the shared divisor", |vc| {
            let s = vc.query_selector(s_rescale);
            let (mult, off) = (vc.query_fixed(fixed[1], Rotation::cur()), vc.query_fixed(fixed[2], Rotation::cur()));
            let lhs = a(vc, cols.acc()) * mult + off;
            let rhs = a(vc, cols.clip_x()) * Expression::Constant(fr(B as i64))
                + a(vc, cols.r0())
                + a(vc, cols.r1()) * Expression::Constant(fr(256));
            vec![s * (lhs - rhs)]
        });
        meta.create_gate("range row", |vc| {
            let s = vc.query_selector(s_range);
            vec![s * (a(vc, cols.clip_x()) - a(vc, cols.clip_y()))]
        });
        meta.lookup("clip and scale", |vc| {
            vec![(a(vc, cols.clip_x()), table[0]), (a(vc, cols.clip_y()), table[1])]
        });
        meta.lookup("remainder low byte", |vc| vec![(a(vc, cols.r0()), table[1])]);
        meta.lookup("remainder high byte", |vc| vec![(a(vc, cols.r1()), table[1])]);
        Self { advice, fixed, s_dot, s_add, s_rescale, s_range, table, lookup_bits }
    }

    /// The one table: (q, clip(q, 0, 255)) for q in [-2^(L-1), 2^(L-1)).
    fn load_table(&self, layouter: &mut impl Layouter<Fr>) -> Result<(), Error> {
        let half = 1i64 << (self.lookup_bits - 1);
        layouter.assign_table(
            || "clip and scale",
            |mut table| {
                for (i, q) in (-half..half).enumerate() {
                    table.assign_cell(|| "q", self.table[0], i, || Value::known(fr(q)))?;
                    table.assign_cell(|| "clip(q)", self.table[1], i, || Value::known(fr(q.clamp(0, 255))))?;
                }
                Ok(())
            },
        )
    }

    /// Lays the planned rows out; returns each value's canonical cell.
    fn assign(&self, layouter: &mut impl Layouter<Fr>, plan: &Plan) -> Result<Vec<Option<Cell>>, Error> {
        layouter.assign_region(
            || "cnn",
            |mut region| {
                let mut cells: Vec<Option<Cell>> = vec![None; plan.values.len()];
                let mut copies: Vec<(Cell, Vid)> = vec![];
                let selectors = [(SEL_DOT, self.s_dot), (SEL_ADD, self.s_add), (SEL_RESCALE, self.s_rescale), (SEL_RANGE, self.s_range)];
                for (r, row) in plan.rows.iter().enumerate() {
                    for (bit, sel) in selectors {
                        if row.sel & bit != 0 {
                            sel.enable(&mut region, r)?;
                        }
                    }
                    for (col, v) in self.fixed.iter().zip(row.fixed) {
                        if v != 0 {
                            region.assign_fixed(*col, r, fr(v));
                        }
                    }
                    for (col, slot) in &row.cells {
                        let (value, vid) = match slot {
                            Slot::Def(v) | Slot::Copy(v) => (plan.values[*v as usize], Some(*v)),
                            Slot::Plain(x) => (*x, None),
                        };
                        let cell = region.assign_advice(self.advice[*col as usize], r, Value::known(fr(value))).cell();
                        match slot {
                            Slot::Def(v) => cells[*v as usize] = Some(cell),
                            Slot::Copy(_) => copies.push((cell, vid.unwrap())),
                            Slot::Plain(_) => {}
                        }
                    }
                }
                for (cell, vid) in copies {
                    let canonical = cells[vid as usize].expect("planner defines every value before use");
                    region.constrain_equal(canonical, cell);
                }
                Ok(cells)
            },
        )
    }
}

#[derive(Clone, Debug)]
pub struct ZkConfig {
    cnn: CnnConfig,
    base: BaseConfig<Fr>,
}

/// A CNN inference circuit for one input: the plan (CNN rows) and the halo2-base builder.
#[derive(Clone)]
pub struct CnnCircuit {
    pub params: CircuitParams,
    pub plan: Plan,
    builder: BaseCircuitBuilder<Fr>,
    links: Vec<(AssignedValue<Fr>, Vid)>,
    pub instances: Vec<Fr>,
}

/// Loads planned values into halo2-base as witnesses (or constants) linked to their CNN cells.
fn load_linked(
    ctx: &mut Context<Fr>,
    plan: &Plan,
    vids: &[Vid],
    constant: bool,
    links: &mut Vec<(AssignedValue<Fr>, Vid)>,
) -> Vec<AssignedValue<Fr>> {
    vids.iter()
        .map(|vid| {
            let v = fr(plan.values[*vid as usize]);
            let a = if constant { ctx.load_constant(v) } else { ctx.load_witness(v) };
            links.push((a, *vid));
            a
        })
        .collect()
}

/// Proves y[class] >= y[j] for all j, and > for j < class: the first index of the largest logit.
fn first_argmax(ctx: &mut Context<Fr>, gate: &GateChip<Fr>, plan: &Plan, logits: &[AssignedValue<Fr>], links: &mut Vec<(AssignedValue<Fr>, Vid)>) -> AssignedValue<Fr> {
    let class = ctx.load_witness(Fr::from(plan.class as u64));
    let indicator = gate.idx_to_indicator(ctx, class, logits.len());
    let ones = gate.sum(ctx, indicator.clone());
    gate.assert_is_const(ctx, &ones, &Fr::one());
    let best = gate.select_by_indicator(ctx, logits.to_vec(), indicator.clone());
    let mut after = ctx.load_zero(); // number of indicator bits strictly after j, i.e. [j < class]
    for j in (0..logits.len()).rev() {
        let gap = gate.sub(ctx, best, logits[j]);
        let gap = gate.sub(ctx, gap, after);
        links.push((gap, plan.argmax_gap_vids[j]));
        after = gate.add(ctx, after, indicator[j]);
    }
    class
}

impl CnnCircuit {
    /// Builds the circuit. `k = None` picks the smallest k that fits (used at compile time).
    pub fn new(plan: Plan, visibility: Visibility, output: OutputKind, weight_commitment: Fr, k: Option<u32>) -> Self {
        let cnn_rows = plan.rows.len().max(1 << plan.lookup_bits);
        let k = k.unwrap_or_else(|| ((cnn_rows + MIN_ROWS).next_power_of_two().trailing_zeros()).max(8));
        let mut builder = BaseCircuitBuilder::new(false).use_k(k as usize).use_instance_columns(1);
        let gate = GateChip::<Fr>::default();
        let mut links = vec![];
        let ctx = builder.main(0);
        let hasher = poseidon_hasher(ctx, &gate);
        for (vid, _) in &plan.const_vids {
            let v = ctx.load_constant(fr(plan.values[*vid as usize]));
            links.push((v, *vid));
        }
        let input = load_linked(ctx, &plan, &plan.input_vids, false, &mut links);
        let input_commitment = commit_in_ctx(ctx, &gate, &hasher, &input, &[]);
        let hidden = visibility.weights_hidden();
        let weights = load_linked(ctx, &plan, &plan.weight_vids, !hidden, &mut links);
        let biases = load_linked(ctx, &plan, &plan.bias_vids, !hidden, &mut links);
        let weight_commitment = if hidden {
            commit_in_ctx(ctx, &gate, &hasher, &weights, &biases)
        } else {
            ctx.load_constant(weight_commitment)
        };
        let logits = load_linked(ctx, &plan, &plan.logit_vids, false, &mut links);
        let outputs = match output {
            OutputKind::Logits => logits,
            OutputKind::Class => vec![first_argmax(ctx, &gate, &plan, &logits, &mut links)],
        };
        let mut public = vec![input_commitment, weight_commitment];
        public.extend(outputs);
        let instances = public.iter().map(|a| *a.value()).collect();
        builder.assigned_instances = vec![public];
        let base = builder.calculate_params(Some(MIN_ROWS));
        let params = CircuitParams { k, m: plan.cols.m, lookup_bits: plan.lookup_bits, base };
        Self { params, plan, builder, links, instances }
    }

    /// Rows used by the CNN region and by halo2-base (per column), for reports.
    pub fn rows_used(&self) -> (usize, usize) {
        let stats = self.builder.statistics();
        let base_cells: usize = stats.gate.total_advice_per_phase.iter().sum();
        (self.plan.rows.len(), base_cells)
    }
}

impl Circuit<Fr> for CnnCircuit {
    type Config = ZkConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitParams;

    fn params(&self) -> CircuitParams {
        self.params.clone()
    }

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, params: CircuitParams) -> ZkConfig {
        let cnn = CnnConfig::configure(meta, params.m, params.lookup_bits);
        let mut base = BaseConfig::configure(meta, params.base.clone());
        assert!(meta.minimum_rows() <= MIN_ROWS, "blinding rows exceed the reserved rows");
        base.set_usable_rows((1 << params.k) - MIN_ROWS);
        ZkConfig { cnn, base }
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> ZkConfig {
        unreachable!("the circuit is always configured with its parameters")
    }

    fn synthesize(&self, config: ZkConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        config.cnn.load_table(&mut layouter)?;
        let cells = config.cnn.assign(&mut layouter, &self.plan)?;
        self.builder.synthesize(config.base.clone(), layouter.namespace(|| "halo2-base"))?;
        let copy_manager = self.builder.core().copy_manager.lock().unwrap();
        layouter.assign_region(
            || "link halo2-base to cnn",
            |mut region| {
                for (value, vid) in &self.links {
                    let ctx_cell = value.cell.expect("linked values are assigned cells");
                    if let (Some(base_cell), Some(cnn_cell)) =
                        (copy_manager.assigned_advices.get(&ctx_cell), cells[*vid as usize])
                    {
                        region.constrain_equal(*base_cell, cnn_cell);
                    }
                }
                Ok(())
            },
        )
    }
}

impl CircuitExt<Fr> for CnnCircuit {
    fn num_instance(&self) -> Vec<usize> {
        vec![self.instances.len()]
    }
    fn instances(&self) -> Vec<Vec<Fr>> {
        vec![self.instances.clone()]
    }
}
