//! The halo2 circuit: custom CNN gates over one shared ClipAndScale table (paper section 4) and
//! a Poseidon round gate for the commitments, all in one region laid out by `plan`. Circuits that
//! check matrix products with Freivalds' test have a second phase: one advice column assigned
//! after the first phase is committed and two challenges drawn (halo2-axiom's `next_phase`).
use crate::plan::{
    P2Op, Plan, Slot, Vid, B, FLAG_CONTINUES, SEL_ABSORB, SEL_CONST, SEL_DOT, SEL_FOLD_U,
    SEL_FULL_ROUND, SEL_HORNER_U, SEL_HORNER_V, SEL_MAC, SEL_PACK, SEL_PAIR, SEL_RESCALE, SEL_ROUND,
    WEIGHT_OFFSET,
};
use crate::poseidon;
use halo2_base::halo2_proofs::{
    circuit::{Cell, Layouter, SimpleFloorPlanner, Value},
    halo2curves::bn256::Fr,
    plonk::{
        Advice, Challenge, Circuit, Column, ConstraintSystem, Error, Expression, FirstPhase, Fixed, Instance, SecondPhase,
        Selector, TableColumn,
    },
    poly::Rotation,
};
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

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CircuitParams {
    pub k: u32,
    pub m: usize,
    pub lookup_bits: u32,
    /// Some layer uses Freivalds' test: phase-2 columns and challenges exist.
    #[serde(default)]
    pub two_phase: bool,
    /// The lookup table also holds every pair of bytes (tagged 1): lane B checks and packs
    /// bytes two per row.
    #[serde(default)]
    pub pairs: bool,
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
    fixed: [Column<Fixed>; 3],
    /// The flag saying a fold continues the one above (two-phase circuits only).
    flags: Vec<(u16, Column<Fixed>)>,
    /// Challenges u and v (two-phase circuits only).
    challenges: Vec<Challenge>,
    selectors: Vec<(u16, Selector)>,
    /// q, clip(q); with byte pairs also the tag (0: clip entries, 1: byte pairs).
    table: Vec<TableColumn>,
    lookup_bits: u32,
}

type Cells<'a> = halo2_base::halo2_proofs::plonk::VirtualCells<'a, Fr>;

impl CnnConfig {
    fn configure(meta: &mut ConstraintSystem<Fr>, params: &CircuitParams) -> Self {
        let (m, lookup_bits, two_phase, pairs) = (params.m, params.lookup_bits, params.two_phase, params.pairs);
        let cols = crate::plan::Columns { m, two_phase, pairs };
        let phase1 = crate::plan::Columns { m, two_phase: false, pairs }.count();
        let advice: Vec<Column<Advice>> = (0..cols.count())
            .map(|i| {
                let c = if i < phase1 { meta.advice_column() } else { meta.advice_column_in(SecondPhase) };
                meta.enable_equality(c);
                c
            })
            .collect();
        let fixed = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
        let table: Vec<TableColumn> = (0..if pairs { 3 } else { 2 }).map(|_| meta.lookup_table_column()).collect();
        let mut bits = vec![SEL_DOT, SEL_RESCALE, SEL_PACK, SEL_ROUND, SEL_ABSORB, SEL_CONST];
        if two_phase {
            bits.extend([SEL_HORNER_U, SEL_HORNER_V, SEL_FOLD_U, SEL_MAC]);
        }
        let mut selectors: Vec<(u16, Selector)> = bits.iter().map(|b| (*b, meta.selector())).collect();
        // Used inside the round gate's expression, so not a simple (combinable) selector.
        let full_round = meta.complex_selector();
        selectors.push((SEL_FULL_ROUND, full_round));
        // Part of the lookup's input (the tag), so not a simple selector either.
        let pair = pairs.then(|| meta.complex_selector());
        if let Some(pair) = pair {
            selectors.push((SEL_PAIR, pair));
        }
        let sel = |b: u16| selectors.iter().find(|(x, _)| *x == b).unwrap().1;
        let a = |vc: &mut Cells, i: u16, rot: i32| vc.query_advice(advice[i as usize], Rotation(rot));
        let f = |vc: &mut Cells, i: usize| vc.query_fixed(fixed[i], Rotation::cur());
        let k = |v: i64| Expression::Constant(fr(v));
        let kf = |v: Fr| Expression::Constant(v);

        meta.create_gate("dot product with zero point (acc carried from the row above)", |vc| {
            let s = vc.query_selector(sel(SEL_DOT));
            let z = f(vc, 0);
            let mut sum = a(vc, cols.acc(), -1);
            for i in 0..m {
                sum = sum + (a(vc, cols.x(i), 0) - z.clone()) * (a(vc, cols.w(i), 0) - k(WEIGHT_OFFSET));
            }
            vec![s * (a(vc, cols.acc(), 0) - sum)]
        });
        meta.create_gate("rescale by the shared divisor (remainder bytes in the next row or two)", |vc| {
            let s = vc.query_selector(sel(SEL_RESCALE));
            let lhs = a(vc, cols.a(), 0) * f(vc, 1) + f(vc, 2);
            let (lo, hi) = if pairs {
                (a(vc, cols.clip_x(), 1), a(vc, cols.clip_y(), 1))
            } else {
                (a(vc, cols.clip_x(), 1), a(vc, cols.clip_x(), 2))
            };
            let rhs = a(vc, cols.clip_x(), 0) * k(B as i64) + lo + hi * k(256);
            vec![s * (lhs - rhs)]
        });
        if pairs {
            meta.create_gate("pack a byte pair (shift 0 on a chunk's first row)", |vc| {
                let s = vc.query_selector(sel(SEL_PACK));
                let pair = a(vc, cols.clip_x(), 0) * k(256) + a(vc, cols.clip_y(), 0);
                vec![s * (a(vc, cols.a(), 0) - a(vc, cols.a(), -1) * f(vc, 1) - pair)]
            });
        } else {
            let digits = |vc: &mut Cells| (0..m).fold(k(0), |acc, i| acc * k(256) + a(vc, cols.x(i), 0));
            meta.create_gate("pack bytes (Horner step; shift 0 on a chunk's first row)", |vc| {
                let s = vc.query_selector(sel(SEL_PACK));
                vec![s * (a(vc, cols.acc(), 0) - a(vc, cols.acc(), -1) * f(vc, 0) - digits(vc))]
            });
        }
        let mds = poseidon::constants().mds;
        // One gate for both kinds of round, so the MDS mix appears once in the verifier's code:
        // a full round's S-box covers every lane, a partial round's lane 0 only. Every round row
        // enables the (simple) round selector; full rounds also the complex `full_round` one.
        meta.create_gate("poseidon round", |vc| {
            let round = vc.query_selector(sel(SEL_ROUND));
            let full = vc.query_selector(full_round);
            let added: Vec<Expression<Fr>> = (0..poseidon::WIDTH).map(|i| a(vc, cols.state(i), 0) + f(vc, i)).collect();
            let cubed = |i: usize| added[i].clone() * added[i].clone() * added[i].clone();
            let mut out = vec![round.clone() * (a(vc, cols.cube(0), 0) - cubed(0))];
            for i in 1..poseidon::WIDTH {
                out.push(round.clone() * full.clone() * (a(vc, cols.cube(i), 0) - cubed(i)));
            }
            let boxed: Vec<Expression<Fr>> = (0..poseidon::WIDTH)
                .map(|i| {
                    let fifth = a(vc, cols.cube(i), 0) * added[i].clone() * added[i].clone();
                    if i == 0 { fifth } else { full.clone() * fifth + (k(1) - full.clone()) * added[i].clone() }
                })
                .collect();
            for j in 0..poseidon::WIDTH {
                let mixed = (0..poseidon::WIDTH).fold(k(0), |acc, kk| acc + kf(mds[j][kk]) * boxed[kk].clone());
                out.push(round.clone() * (a(vc, cols.state(j), 1) - mixed));
            }
            out
        });
        meta.create_gate("poseidon absorb", |vc| {
            let s = vc.query_selector(sel(SEL_ABSORB));
            let mut out = vec![s.clone() * (a(vc, cols.state(0), 1) - a(vc, cols.state(0), 0))];
            for i in 0..poseidon::RATE {
                let next = a(vc, cols.state(i + 1), 1);
                let absorbed = a(vc, cols.state(i + 1), 0) + a(vc, cols.absorbed(i), 0) + f(vc, i + 1);
                out.push(s.clone() * (next - absorbed));
            }
            out
        });
        let mut flags = vec![];
        let mut challenges = vec![];
        if two_phase {
            flags = vec![(FLAG_CONTINUES, meta.fixed_column())];
            challenges = vec![meta.challenge_usable_after(FirstPhase), meta.challenge_usable_after(FirstPhase)];
            let cont = flags[0].1;
            let n = 2 * m;
            let fold = |vc: &mut Cells, rot: i32| a(vc, cols.fold(), rot);
            for (bit, ch, name) in [(SEL_HORNER_U, 0, "fold by u (Horner)"), (SEL_HORNER_V, 1, "fold by v (Horner)")] {
                let challenge = challenges[ch];
                meta.create_gate(name, |vc| {
                    let s = vc.query_selector(sel(bit));
                    let c = vc.query_challenge(challenge);
                    let z = f(vc, 0);
                    let mut h = vc.query_fixed(cont, Rotation::cur()) * fold(vc, -1);
                    for j in 0..n {
                        h = h * c.clone() + a(vc, j as u16, 0) - z.clone();
                    }
                    vec![s * (fold(vc, 0) - h)]
                });
            }
            let u = challenges[0];
            meta.create_gate("fold by u over the fold column (term one row up)", |vc| {
                let s = vc.query_selector(sel(SEL_FOLD_U));
                let next = vc.query_fixed(cont, Rotation::cur()) * fold(vc, -2) * vc.query_challenge(u) + fold(vc, -1);
                vec![s * (fold(vc, 0) - next)]
            });
            meta.create_gate("multiply-accumulate over the fold column (operands one and two rows up)", |vc| {
                let s = vc.query_selector(sel(SEL_MAC));
                let next = vc.query_fixed(cont, Rotation::cur()) * fold(vc, -3) + fold(vc, -2) * fold(vc, -1);
                vec![s * (fold(vc, 0) - next)]
            });
        }
        meta.create_gate("constant cell", |vc| {
            let s = vc.query_selector(sel(SEL_CONST));
            vec![s * (a(vc, cols.a(), 0) - f(vc, 1))]
        });
        // Two table columns, not one packed q * 512 + clip(q): nothing else bounds clip(q), so a
        // packed entry could be met by (q - 1, clip(q) + 512).
        meta.lookup("clip and scale", |vc| {
            let mut pairs_of = vec![(a(vc, cols.clip_x(), 0), table[0]), (a(vc, cols.clip_y(), 0), table[1])];
            if let Some(pair) = pair {
                pairs_of.push((vc.query_selector(pair), table[2]));
            }
            pairs_of
        });
        Self { advice, fixed, flags, challenges, selectors, table, lookup_bits }
    }

    /// The one table: (q, clip(q, 0, 255)) for q in [-2^(L-1), 2^(L-1)), tagged 0; with byte
    /// pairs also (lo, hi) for every two bytes, tagged 1.
    fn load_table(&self, layouter: &mut impl Layouter<Fr>) -> Result<(), Error> {
        let half = 1i64 << (self.lookup_bits - 1);
        let clip = (-half..half).map(|q| (q, q.clamp(0, 255), 0));
        let pairs = (0..65536i64).map(|v| (v & 255, v >> 8, 1)).filter(|_| self.table.len() == 3);
        layouter.assign_table(
            || "clip and scale",
            |mut table| {
                for (i, (x, y, tag)) in clip.clone().chain(pairs.clone()).enumerate() {
                    table.assign_cell(|| "x", self.table[0], i, || Value::known(fr(x)))?;
                    table.assign_cell(|| "y", self.table[1], i, || Value::known(fr(y)))?;
                    if self.table.len() == 3 {
                        table.assign_cell(|| "tag", self.table[2], i, || Value::known(fr(tag)))?;
                    }
                }
                Ok(())
            },
        )
    }

    /// Lays the planned rows out; returns each value's canonical cell. Phase-2 cells are
    /// assigned after `next_phase` commits the first phase and the challenges are drawn.
    fn assign(&self, layouter: &mut impl Layouter<Fr>, plan: &Plan) -> Result<Vec<Option<Cell>>, Error> {
        layouter.assign_region(
            || "cnn",
            |mut region| {
                let mut cells: Vec<Option<Cell>> = vec![None; plan.values.len()];
                let mut copies: Vec<(Cell, Vid)> = vec![];
                let mut later: Vec<(usize, u16, Slot)> = vec![];
                for (r, row) in plan.rows.iter().enumerate() {
                    for (bit, sel) in &self.selectors {
                        if row.sel & bit != 0 {
                            sel.enable(&mut region, r)?;
                        }
                    }
                    for (bit, col) in &self.flags {
                        if row.sel & bit != 0 {
                            region.assign_fixed(*col, r, Fr::one());
                        }
                    }
                    for (col, v) in self.fixed.iter().zip(row.fixed) {
                        if v != Fr::zero() {
                            region.assign_fixed(*col, r, v);
                        }
                    }
                    for (col, slot) in &row.cells {
                        let value = match slot {
                            Slot::Def(v) | Slot::Copy(v) => plan.values[*v as usize],
                            Slot::Plain(x) => *x,
                            Slot::Def2(_) | Slot::Copy2(_) => {
                                later.push((r, *col, *slot));
                                continue;
                            }
                        };
                        let cell = region.assign_advice(self.advice[*col as usize], r, Value::known(value)).cell();
                        match slot {
                            Slot::Def(v) => cells[*v as usize] = Some(cell),
                            Slot::Copy(v) => copies.push((cell, *v)),
                            _ => {}
                        }
                    }
                }
                for (cell, vid) in copies {
                    let canonical = cells[vid as usize].expect("planner defines every value it copies");
                    region.constrain_equal(canonical, cell);
                }
                if !self.challenges.is_empty() {
                    region.next_phase();
                    let (u, v) = (region.get_challenge(self.challenges[0]), region.get_challenge(self.challenges[1]));
                    // Unknown while generating keys: then only the layout matters.
                    let values = u.zip(v).map(|(u, v)| P2Op::evaluate_all(&plan.phase2, &plan.values, [u, v]));
                    let mut defined: Vec<Option<Cell>> = vec![None; plan.phase2.len()];
                    let mut copies2: Vec<(Cell, u32)> = vec![];
                    for (r, col, slot) in later {
                        let id = match slot {
                            Slot::Def2(id) | Slot::Copy2(id) => id,
                            _ => unreachable!("only phase-2 slots wait"),
                        };
                        let value = values.as_ref().map(|vals| vals[id as usize]);
                        let cell = region.assign_advice(self.advice[col as usize], r, value).cell();
                        match slot {
                            Slot::Def2(id) => defined[id as usize] = Some(cell),
                            _ => copies2.push((cell, id)),
                        }
                    }
                    for (cell, id) in copies2 {
                        let canonical = defined[id as usize].expect("planner defines every phase-2 value it copies");
                        region.constrain_equal(canonical, cell);
                    }
                }
                Ok(cells)
            },
        )
    }
}

#[derive(Clone, Debug)]
pub struct ZkConfig {
    cnn: CnnConfig,
    instance: Column<Instance>,
}

/// Rows of the lookup table: the clip entries, and with byte pairs 2^16 more.
pub fn table_rows(lookup_bits: u32, pairs: bool) -> usize {
    (1 << lookup_bits) + if pairs { 1 << 16 } else { 0 }
}

/// The smallest k whose 2^k rows hold `rows` planned rows, a table of `table` rows and the
/// blinding rows.
pub fn k_for_rows(rows: usize, table: usize) -> u32 {
    ((rows.max(table) + MIN_ROWS).next_power_of_two().trailing_zeros()).max(8)
}

/// A CNN inference circuit for one input: the planned rows and the public instances.
#[derive(Clone)]
pub struct CnnCircuit {
    pub params: CircuitParams,
    pub plan: Plan,
    pub instances: Vec<Fr>,
}

impl CnnCircuit {
    /// Builds the circuit. `k = None` picks the smallest k that fits (used at compile time).
    pub fn new(plan: Plan, k: Option<u32>) -> Self {
        let k = k.unwrap_or_else(|| k_for_rows(plan.rows.len(), table_rows(plan.lookup_bits, plan.cols.pairs)));
        let instances = plan.instance_vids.iter().map(|v| plan.values[*v as usize]).collect();
        let params = CircuitParams {
            k,
            m: plan.cols.m,
            lookup_bits: plan.lookup_bits,
            two_phase: plan.cols.two_phase,
            pairs: plan.cols.pairs,
        };
        Self { params, plan, instances }
    }

    /// Rows the planner used (the rest up to 2^k is padding and blinding).
    pub fn rows_used(&self) -> usize {
        self.plan.rows.len()
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
        let cnn = CnnConfig::configure(meta, &params);
        // Degree 5 keeps the same extended domain as 4 (both need 4x) but packs three columns
        // per permutation product instead of two: fewer commitments, less verifier gas.
        meta.set_minimum_degree(5);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        assert!(meta.minimum_rows() <= MIN_ROWS, "blinding rows exceed the reserved rows");
        ZkConfig { cnn, instance }
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> ZkConfig {
        unreachable!("the circuit is always configured with its parameters")
    }

    fn synthesize(&self, config: ZkConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        config.cnn.load_table(&mut layouter)?;
        let cells = config.cnn.assign(&mut layouter, &self.plan)?;
        for (i, vid) in self.plan.instance_vids.iter().enumerate() {
            let cell = cells[*vid as usize].expect("instances are defined cells");
            layouter.constrain_instance(cell, config.instance, i);
        }
        Ok(())
    }
}

/// A circuit for proving whose plan is freed as soon as its cells are assigned: a MobileNet's
/// plan holds gigabytes that the rest of the proof (commitments, quotient, openings) does not
/// need. Proving synthesizes a circuit once (halo2-axiom's single pass); keys need `CnnCircuit`.
pub struct OneShotCircuit {
    params: CircuitParams,
    inner: std::sync::Mutex<Option<CnnCircuit>>,
}

impl OneShotCircuit {
    pub fn new(circuit: CnnCircuit) -> Self {
        Self { params: circuit.params.clone(), inner: std::sync::Mutex::new(Some(circuit)) }
    }
}

impl Circuit<Fr> for OneShotCircuit {
    type Config = ZkConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitParams;

    fn params(&self) -> CircuitParams {
        self.params.clone()
    }

    fn without_witnesses(&self) -> Self {
        Self { params: self.params.clone(), inner: std::sync::Mutex::new(None) }
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, params: CircuitParams) -> ZkConfig {
        CnnCircuit::configure_with_params(meta, params)
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> ZkConfig {
        unreachable!("the circuit is always configured with its parameters")
    }

    fn synthesize(&self, config: ZkConfig, layouter: impl Layouter<Fr>) -> Result<(), Error> {
        // Synthesized once by the prover; anything else (keys, a MockProver) uses CnnCircuit.
        let circuit = self.inner.lock().map_err(|_| Error::Synthesis)?.take().ok_or(Error::Synthesis)?;
        circuit.synthesize(config, layouter)
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
