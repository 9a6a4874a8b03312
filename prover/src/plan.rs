//! Evaluates a quantized model in integer arithmetic and lays the evaluation out as circuit rows.
//!
//! One code path computes both the outputs and the witness, so the native inference can never
//! disagree with what the circuit proves. The layout depends only on the architecture, never on
//! the values, which is what lets one verifying key serve every input.
//!
//! Rows have two lanes side by side. Lane A chains dot products vertically (`m` multiply-
//! accumulates per row, the accumulator carried to the next row), packs bytes for hashing and
//! adds residuals. Lane B requantizes (rescale by the shared divisor, then the ClipAndScale
//! lookup) and range-checks bytes through the same lookup. Poseidon rounds use the full width
//! below both lanes, one row per round.
//!
//! Convolutions and fully connected layers whose products are many can instead be checked with
//! Freivalds' test (`freivalds_layer`): the accumulators are committed as witnesses in the first
//! phase, then two challenges u, v drawn after that commitment fold the claimed outputs, the
//! inputs and the weights by Horner's rule (phase-2 cells), and one product of the folds must
//! match. The cost follows inputs + weights + outputs instead of multiply-accumulates.
use crate::circuit::fr;
use crate::error::{ProverError, Result};
use crate::model::{Layer, QModel};
use crate::poseidon;
use ff::Field;
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use std::collections::HashMap;

/// The divisor shared by every requantization (`2^RESCALE_BITS`).
pub const B: i128 = 1 << crate::model::RESCALE_BITS;
/// Weights are stored shifted by this so every stored weight is a byte.
pub const WEIGHT_OFFSET: i64 = 128;
pub const BYTES_PER_ELEMENT: usize = 31;

pub const SEL_DOT: u16 = 1;
pub const SEL_RESCALE: u16 = 2;
/// Packing bytes into commitment elements: lane A's Horner rows, or with the byte-pair table
/// lane B's pair rows.
pub const SEL_PACK: u16 = 4;
/// Every Poseidon round row; full rounds (S-box on every lane) also carry SEL_FULL_ROUND.
pub const SEL_FULL_ROUND: u16 = 8;
pub const SEL_ROUND: u16 = 16;
pub const SEL_ABSORB: u16 = 32;
pub const SEL_CONST: u16 = 64;
/// Horner folds over the lane-A cells by challenge u or v (phase 2).
pub const SEL_HORNER_U: u16 = 128;
pub const SEL_HORNER_V: u16 = 256;
/// Phase-2 chains over copies in the fold column alone: a Horner step by u (term one row up,
/// previous accumulator two rows up) and a multiply-accumulate (operands one and two rows up,
/// previous accumulator three rows up).
pub const SEL_FOLD_U: u16 = 512;
pub const SEL_MAC: u16 = 1024;
/// Not a selector: a fixed 0/1 flag saying a fold or chain continues the one above.
pub const FLAG_CONTINUES: u16 = 2048;
/// A lane-B row whose lookup pair is two bytes (the table's byte-pair part), also packing them
/// into the running commitment element (circuits with the byte-pair table only).
pub const SEL_PAIR: u16 = 4096;

/// How a convolution or fully connected layer's products are checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatmulCheck {
    /// Per layer, whichever of the two takes fewer rows.
    #[default]
    Auto,
    /// Every product in a dot-product chain.
    Direct,
    /// Freivalds' test wherever it applies (convolutions with groups = 1, fully connected).
    Freivalds,
}

/// Index of a phase-2 value in `Plan::phase2`.
pub type P2 = u32;

/// A value computed after the challenges are drawn, in definition order.
#[derive(Clone, Debug)]
pub enum P2Op {
    /// h = [prev * c^n] + sum_j c^(n-1-j) (x_j - z) over the n = 2m lane-A cells of its row.
    Horner { ch: usize, prev: Option<P2>, cells: Vec<Vid>, z: Fr },
    /// acc = [prev * u] + term.
    FoldU { prev: Option<P2>, term: P2 },
    /// acc = [prev] + a * b.
    Mac { prev: Option<P2>, a: P2, b: P2 },
}

impl P2Op {
    /// Evaluates every phase-2 value once the challenges (u, v) are known.
    pub fn evaluate_all(ops: &[P2Op], values: &[Fr], challenges: [Fr; 2]) -> Vec<Fr> {
        let mut out: Vec<Fr> = Vec::with_capacity(ops.len());
        for op in ops {
            let v = match op {
                P2Op::Horner { ch, prev, cells, z } => {
                    let c = challenges[*ch];
                    let start = prev.map_or(Fr::ZERO, |p| out[p as usize]);
                    cells.iter().fold(start, |h, x| h * c + values[*x as usize] - z)
                }
                P2Op::FoldU { prev, term } => prev.map_or(Fr::ZERO, |p| out[p as usize] * challenges[0]) + out[*term as usize],
                P2Op::Mac { prev, a, b } => prev.map_or(Fr::ZERO, |p| out[p as usize]) + out[*a as usize] * out[*b as usize],
            };
            out.push(v);
        }
        out
    }
}

/// What the proof exposes after the two commitments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    Logits,
    Class,
}

/// A value id: one logical value with one canonical cell that every use copies.
pub type Vid = u32;

#[derive(Clone, Copy, Debug)]
pub enum Slot {
    /// The canonical cell of a value.
    Def(Vid),
    /// A copy of a value's canonical cell (copy constraint).
    Copy(Vid),
    /// A value constrained only by this row's gates and lookups.
    Plain(Fr),
    /// The canonical cell of a phase-2 value.
    Def2(P2),
    /// A copy of a phase-2 value's canonical cell.
    Copy2(P2),
}

#[derive(Clone, Debug, Default)]
pub struct Row {
    pub sel: u16,
    /// f0: zero point (dot), Horner shift (pack; 0 on a chunk's first row), round constant 0;
    /// f1: multiplier (rescale), round constant 1, padding 1 (absorb), value (const);
    /// f2: offset (rescale), round constant 2, padding 2 (absorb).
    pub fixed: [Fr; 3],
    pub cells: Vec<(u16, Slot)>,
}

/// Column indices for a dot-product width `m` (multiply-accumulates per row); circuits that use
/// Freivalds' test have one phase-2 column (the fold) after the phase-1 ones: every phase-2
/// column costs verifier code, and the generated verifier must stay under the contract size limit.
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    pub m: usize,
    pub two_phase: bool,
    /// The lookup table also holds every pair of bytes (tagged): two bytes are range-checked
    /// and packed per lane-B row. Worth its 2^16 table rows only in large circuits.
    pub pairs: bool,
}

impl Columns {
    pub fn x(&self, i: usize) -> u16 {
        (2 * i) as u16
    }
    pub fn w(&self, i: usize) -> u16 {
        (2 * i + 1) as u16
    }
    pub fn acc(&self) -> u16 {
        (2 * self.m) as u16
    }
    /// Lane B: the accumulator being requantized.
    pub fn a(&self) -> u16 {
        (2 * self.m + 1) as u16
    }
    /// Lane B: the lookup pair (q, clip(q)); in range rows both hold the same byte.
    pub fn clip_x(&self) -> u16 {
        (2 * self.m + 2) as u16
    }
    pub fn clip_y(&self) -> u16 {
        (2 * self.m + 3) as u16
    }
    /// Poseidon state and S-box cubes (full-width rows).
    pub fn state(&self, i: usize) -> u16 {
        i as u16
    }
    pub fn cube(&self, i: usize) -> u16 {
        (3 + i) as u16
    }
    /// The two elements absorbed at an absorb row (the cube cells are free there; the lookup
    /// columns are not, since every row of them must be in the table).
    pub fn absorbed(&self, i: usize) -> u16 {
        self.cube(i)
    }
    /// Phase 2, lane A: the Horner fold of the row's 2m cells, and the folds' own chains.
    pub fn fold(&self) -> u16 {
        (2 * self.m + 4) as u16
    }
    pub fn count(&self) -> usize {
        2 * self.m + 4 + usize::from(self.two_phase)
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub cols: Columns,
    pub lookup_bits: u32,
    pub rows: Vec<Row>,
    pub values: Vec<Fr>,
    /// The public instances, in order: input commitment, weight commitment, outputs.
    pub instance_vids: Vec<Vid>,
    /// Weights as stored (w + 128), in commitment order.
    pub weight_vids: Vec<Vid>,
    pub logits: Vec<i64>,
    pub class: usize,
    /// Phase-2 values (Freivalds folds), computed once the challenges are known.
    pub phase2: Vec<P2Op>,
    /// Rows used by lane A (products, folds, packing), lane B (requantization, range checks,
    /// constants) and the Poseidon rows below both: what sets the circuit's height.
    pub lane_rows: [usize; 3],
}

struct Tensor {
    zero_point: i64,
    shape: [usize; 3],
    vids: Vec<Vid>,
}

struct Planner {
    plan: Plan,
    lane_a: usize,
    lane_b: usize,
    consts: HashMap<[u8; 32], Vid>,
    ints: Vec<i64>,
}

/// The rescale offset that rounds to nearest and adds the output zero point.
fn requant_offset(z_out: i64) -> i64 {
    (B / 2 + z_out as i128 * B) as i64
}

fn floor_div(a: i128, b: i128) -> i128 {
    a.div_euclid(b)
}

impl Planner {
    fn define(&mut self, v: i64) -> Vid {
        self.define_fr(fr(v), v)
    }
    fn define_fr(&mut self, v: Fr, int: i64) -> Vid {
        self.plan.values.push(v);
        self.ints.push(int);
        (self.plan.values.len() - 1) as Vid
    }
    fn int(&self, vid: Vid) -> i64 {
        self.ints[vid as usize]
    }
    fn row(&mut self, r: usize) -> &mut Row {
        if self.plan.rows.len() <= r {
            self.plan.rows.resize(r + 1, Row::default());
        }
        &mut self.plan.rows[r]
    }
    /// A cell holding a known constant; the circuit pins it to that value.
    fn constant(&mut self, v: i64) -> Vid {
        self.constant_fr(fr(v), v)
    }
    fn constant_fr(&mut self, v: Fr, int: i64) -> Vid {
        let key = v.to_bytes();
        if let Some(vid) = self.consts.get(&key) {
            return *vid;
        }
        let vid = self.stored(v, int);
        let r = self.lane_b - 1;
        let row = self.row(r);
        row.sel |= SEL_CONST;
        row.fixed[1] = v;
        self.consts.insert(key, vid);
        vid
    }
    /// A value with no gate of its own (a bias, a constant): a lane-B cell that others copy.
    fn stored(&mut self, v: Fr, int: i64) -> Vid {
        let vid = self.define_fr(v, int);
        let r = self.lane_b;
        self.lane_b += 1;
        let col = self.plan.cols.a();
        self.row(r).cells.push((col, Slot::Def(vid)));
        vid
    }

    /// Defines byte values in lane-B range rows, each checked against the table.
    fn range_checked(&mut self, values: &[i64]) -> Vec<Vid> {
        values.iter().map(|v| {
            let vid = self.define(*v);
            self.range_row(Slot::Def(vid), vid);
            vid
        }).collect()
    }

    /// A lane-B row whose lookup pair is (v, v): in the table only if v is a byte. The second
    /// cell is a copy of the first, so no gate is needed.
    fn range_row(&mut self, first: Slot, vid: Vid) {
        let c = self.plan.cols;
        let r = self.lane_b;
        self.lane_b += 1;
        let row = self.row(r);
        row.cells.push((c.clip_x(), first));
        row.cells.push((c.clip_y(), Slot::Copy(vid)));
    }

    /// acc = start + sum (x - z) * (w - 128) as a lane-A chain; then requantized in lane B.
    /// The chain's first row holds a copy of `start`; each next row adds `m` products.
    fn dot_requant(&mut self, layer: usize, taps: &[(Vid, Vid)], start: Vid, z: i64, mult: i64, offset: i64) -> Result<Vid> {
        let (acc_vid, acc) = self.dot(taps, start, z, None);
        self.requant(layer, acc_vid, acc, mult, offset)
    }

    /// The dot chain alone; `expect` makes the final accumulator a copy of a known value (an
    /// equality check) instead of a new value.
    fn dot(&mut self, taps: &[(Vid, Vid)], start: Vid, z: i64, expect: Option<Vid>) -> (Vid, i128) {
        let c = self.plan.cols;
        let zero_w = self.constant(WEIGHT_OFFSET);
        let mut r = self.lane_a;
        self.row(r).cells.push((c.acc(), Slot::Copy(start)));
        let mut acc = self.int(start) as i128;
        let mut acc_vid = start;
        let chunks: Vec<&[(Vid, Vid)]> = taps.chunks(c.m).collect();
        for (k, chunk) in chunks.iter().enumerate() {
            r += 1;
            let mut cells = Vec::with_capacity(2 * c.m + 1);
            for i in 0..c.m {
                match chunk.get(i) {
                    Some((x, w)) => {
                        acc += (self.int(*x) - z) as i128 * (self.int(*w) - WEIGHT_OFFSET) as i128;
                        cells.push((c.x(i), Slot::Copy(*x)));
                        cells.push((c.w(i), Slot::Copy(*w)));
                    }
                    None => cells.push((c.w(i), Slot::Copy(zero_w))),
                }
            }
            let acc_slot = if k + 1 == chunks.len() {
                match expect {
                    Some(v) => {
                        acc_vid = v;
                        Slot::Copy(v)
                    }
                    None => {
                        acc_vid = self.define(acc as i64);
                        Slot::Def(acc_vid)
                    }
                }
            } else {
                Slot::Plain(fr(acc as i64))
            };
            cells.push((c.acc(), acc_slot));
            let row = self.row(r);
            row.sel |= SEL_DOT;
            row.fixed[0] = fr(z);
            row.cells.extend(cells);
        }
        self.lane_a = r + 1;
        (acc_vid, acc)
    }

    /// Proves `class` is the first index of the largest logit in O(classes) rows: one-hot bytes
    /// e_j summing to 1, class = sum j e_j, best = sum y_j e_j, suffix sums s_j = sum_{i > j} e_i,
    /// and best - y_j - s_j >= 0 for every j (s_j is 1 exactly for j < class).
    fn first_argmax(&mut self, logits: &[Vid], class: usize) -> Vid {
        let n = logits.len();
        let onehot: Vec<i64> = (0..n).map(|j| i64::from(j == class)).collect();
        let e = self.range_checked(&onehot);
        // The byte e_j is used as a weight e_j + 128: shift by a dot chain per entry.
        let zero = self.constant(0);
        let one = self.constant(1);
        let w: Vec<Vid> = e.iter().map(|ej| {
            let shift = self.constant(WEIGHT_OFFSET + 1);
            let start = self.constant(WEIGHT_OFFSET);
            self.dot(&[(*ej, shift)], start, 0, None).0
        }).collect();
        self.dot(&w.iter().map(|wj| (one, *wj)).collect::<Vec<_>>(), zero, 0, Some(one));
        let indices: Vec<(Vid, Vid)> = (0..n).map(|j| (self.constant(j as i64), w[j])).collect();
        let class_vid = self.dot(&indices, zero, 0, None).0;
        let best = self.dot(&logits.iter().zip(&w).map(|(y, wj)| (*y, *wj)).collect::<Vec<_>>(), zero, 0, None).0;
        // (v - 0)(127 - 128) = -v: gap_j = best - y_j - s_j, with s_{n-1} = 0, s_j = s_{j+1} + e_{j+1}.
        let minus_one = self.constant(WEIGHT_OFFSET - 1);
        let mut suffix = zero;
        for j in (0..n).rev() {
            let gap = self.dot(&[(logits[j], minus_one), (suffix, minus_one)], best, 0, None).0;
            self.range_row(Slot::Copy(gap), gap);
            if j > 0 {
                suffix = self.dot(&[(one, w[j])], suffix, 0, None).0;
            }
        }
        class_vid
    }

    /// The next lane-A row for a fold or a fold chain. Soundness of the chains rests on their
    /// rows being consecutive and used for nothing else (their gates read the rows above).
    fn next_fold_row(&mut self) -> usize {
        let r = self.lane_a;
        self.lane_a += 1;
        let c = self.plan.cols;
        let lane_a = |col: u16| col <= c.acc() || col == c.fold();
        let lane_a_bits = SEL_DOT | SEL_HORNER_U | SEL_HORNER_V | SEL_FOLD_U | SEL_MAC | FLAG_CONTINUES;
        debug_assert!(
            self.plan.rows.get(r).is_none_or(|row| row.sel & lane_a_bits == 0 && !row.cells.iter().any(|(col, _)| lane_a(*col))),
            "lane-A row {r} reused"
        );
        r
    }

    fn push_phase2(&mut self, op: P2Op) -> P2 {
        self.plan.phase2.push(op);
        (self.plan.phase2.len() - 1) as P2
    }

    /// Lane A, phase 2: folds `vals` by challenge `ch` (0: u, 1: v) with Horner's rule, 2m cells
    /// per row, zero point `z`. The cells copy the values, or define them where `define`; the
    /// first row is padded in front with copies of the constant z (terms of zero).
    fn horner(&mut self, ch: usize, vals: &[Vid], define: bool, z: i64) -> P2 {
        let c = self.plan.cols;
        let n = 2 * c.m;
        let z_const = self.constant(z);
        let pad = (n - vals.len() % n) % n;
        let cells: Vec<(Vid, bool)> =
            std::iter::repeat((z_const, false)).take(pad).chain(vals.iter().map(|v| (*v, define))).collect();
        let mut prev = None;
        for chunk in cells.chunks(n) {
            let id = self.push_phase2(P2Op::Horner { ch, prev, cells: chunk.iter().map(|(v, _)| *v).collect(), z: fr(z) });
            let r = self.next_fold_row();
            let row = self.row(r);
            row.sel |= if ch == 0 { SEL_HORNER_U } else { SEL_HORNER_V };
            if prev.is_some() {
                row.sel |= FLAG_CONTINUES;
            }
            row.fixed[0] = fr(z);
            for (j, (v, def)) in chunk.iter().enumerate() {
                row.cells.push((j as u16, if *def { Slot::Def(*v) } else { Slot::Copy(*v) }));
            }
            row.cells.push((c.fold(), Slot::Def2(id)));
            prev = Some(id);
        }
        prev.expect("a fold of at least one value")
    }

    /// Lane A rows holding only fold-column cells: copies, then the step whose gate reads them.
    fn fold_step(&mut self, copies: &[P2], sel: u16, continues: bool, result: Slot) {
        let col = self.plan.cols.fold();
        for id in copies {
            let r = self.next_fold_row();
            self.row(r).cells.push((col, Slot::Copy2(*id)));
        }
        let r = self.next_fold_row();
        let row = self.row(r);
        row.sel |= sel;
        if continues {
            row.sel |= FLAG_CONTINUES;
        }
        row.cells.push((col, result));
    }

    /// sum_k u^(n-1-k) terms[k] over phase-2 values.
    fn fold_u(&mut self, terms: &[P2]) -> P2 {
        let mut prev = None;
        for t in terms {
            let id = self.push_phase2(P2Op::FoldU { prev, term: *t });
            self.fold_step(&[*t], SEL_FOLD_U, prev.is_some(), Slot::Def2(id));
            prev = Some(id);
        }
        prev.expect("a fold of at least one value")
    }

    /// sum_k a_k b_k, whose last accumulator is a copy of `expect` (the check).
    fn mac_equals(&mut self, pairs: &[(P2, P2)], expect: P2) {
        let mut prev = None;
        for (k, (a, b)) in pairs.iter().enumerate() {
            let acc = if k + 1 == pairs.len() {
                Slot::Copy2(expect)
            } else {
                let id = self.push_phase2(P2Op::Mac { prev, a: *a, b: *b });
                prev = Some(id);
                Slot::Def2(id)
            };
            self.fold_step(&[*a, *b], SEL_MAC, k > 0, acc);
        }
    }

    /// Freivalds' test for acc[p][o] = bias[o] + sum_i (x[p][i] - z)(w[o][i] - 128), then each
    /// acc requantized. `x[p]` lists position p's inputs (the zero point's constant where a
    /// convolution pads), `w[o]` output o's weights. With challenges u, v drawn after the
    /// accumulators, inputs and weights are committed:
    ///   sum_p u^p' sum_o v^o' acc[p][o] = sum_i (sum_p u^p' (x[p][i] - z)) (sum_o v^o' (w[o][i] - 128))
    ///                                     + (sum_p u^p') (sum_o v^o' bias[o])
    /// (p' = P-1-p, o' = O-1-o); a wrong accumulator makes the two sides differ as polynomials of
    /// degree below P + O, so they agree with probability at most (P + O) / |F|.
    #[allow(clippy::too_many_arguments)]
    fn freivalds_layer(&mut self, layer: usize, x: &[Vec<Vid>], w: &[Vec<Vid>], bias: &[Vid], z: i64, mult: &[i64], offset: i64) -> Result<Vec<Vid>> {
        const U: usize = 0;
        const V: usize = 1;
        let (np, no, ni) = (x.len(), w.len(), w[0].len());
        let mut accs: Vec<(Vid, i128)> = Vec::with_capacity(np * no);
        for xp in x {
            for (o, wo) in w.iter().enumerate() {
                let mut acc = self.int(bias[o]) as i128;
                for (xi, wi) in xp.iter().zip(wo) {
                    acc += (self.int(*xi) - z) as i128 * (self.int(*wi) - WEIGHT_OFFSET) as i128;
                }
                accs.push((self.define(acc as i64), acc));
            }
        }
        let per_position: Vec<P2> = accs
            .chunks(no)
            .map(|row| self.horner(V, &row.iter().map(|a| a.0).collect::<Vec<_>>(), true, 0))
            .collect();
        let claimed = self.fold_u(&per_position);
        let mut pairs = Vec::with_capacity(ni + 1);
        for i in 0..ni {
            let inputs = self.horner(U, &x.iter().map(|xp| xp[i]).collect::<Vec<_>>(), false, z);
            let weights = self.horner(V, &w.iter().map(|wo| wo[i]).collect::<Vec<_>>(), false, WEIGHT_OFFSET);
            pairs.push((inputs, weights));
        }
        let one = self.constant(1);
        let ones = self.horner(U, &vec![one; np], false, 0);
        let biases = self.horner(V, bias, false, 0);
        pairs.push((ones, biases));
        self.mac_equals(&pairs, claimed);
        accs.iter()
            .enumerate()
            .map(|(k, (vid, acc))| self.requant(layer, *vid, *acc, mult[k % no], offset))
            .collect()
    }

    /// Lane B: q = floor((acc * mult + offset) / B), y = clip(q, 0, 255), remainder bytes in
    /// the next two rows (range-checked through the same table).
    fn requant(&mut self, layer: usize, acc_vid: Vid, acc: i128, mult: i64, offset: i64) -> Result<Vid> {
        let c = self.plan.cols;
        let t = acc * mult as i128 + offset as i128;
        let q = floor_div(t, B);
        let rem = t - q * B;
        let half = 1i128 << (self.plan.lookup_bits - 1);
        if q < -half || q >= half {
            return Err(ProverError::Range(format!(
                "layer {layer}: requantized value {q} outside the lookup table [-{half}, {half}); \
                 raise lookup_bits in the model"
            )));
        }
        let y = self.define(q.clamp(0, 255) as i64);
        let r = self.lane_b;
        let row = self.row(r);
        row.sel |= SEL_RESCALE;
        row.fixed[1] = fr(mult);
        row.fixed[2] = fr(offset);
        row.cells.push((c.a(), Slot::Copy(acc_vid)));
        row.cells.push((c.clip_x(), Slot::Plain(fr(q as i64))));
        row.cells.push((c.clip_y(), Slot::Def(y)));
        self.lane_b += 1;
        if c.pairs {
            // Low byte, high byte in one byte-pair row.
            let r = self.lane_b;
            self.lane_b += 1;
            let row = self.row(r);
            row.sel |= SEL_PAIR;
            row.cells.push((c.clip_x(), Slot::Plain(fr((rem & 255) as i64))));
            row.cells.push((c.clip_y(), Slot::Plain(fr((rem >> 8) as i64))));
        } else {
            for byte in [rem & 255, rem >> 8] {
                let vid = self.define(byte as i64);
                self.range_row(Slot::Def(vid), vid);
            }
        }
        Ok(y)
    }

    /// Residual add as a one-row dot chain: acc = m_a * a + m_b * b (multipliers as constant
    /// 'weights'); both zero points are folded into the requantization offset.
    fn add(&mut self, layer: usize, a: (&[Vid], i64), b: (&[Vid], i64), mult: [i64; 2], z_out: i64) -> Result<Vec<Vid>> {
        let offset = B / 2 + z_out as i128 * B - (mult[0] * a.1) as i128 - (mult[1] * b.1) as i128;
        let zero = self.constant(0);
        let (wa, wb) = (self.constant(mult[0] + WEIGHT_OFFSET), self.constant(mult[1] + WEIGHT_OFFSET));
        let mut out = Vec::with_capacity(a.0.len());
        for (va, vb) in a.0.iter().zip(b.0) {
            out.push(self.dot_requant(layer, &[(*va, wa), (*vb, wb)], zero, 0, 1, offset as i64)?);
        }
        Ok(out)
    }

    /// Defines byte values and packs them with the length marker (`commit::pack_bytes`), 31 per
    /// field element, in lane-B byte-pair rows: each row range-checks two bytes through the
    /// table and adds them to the running element, most significant first:
    /// `a = a_above * shift + 256 * clip_x + clip_y`.
    fn packed_bytes(&mut self, values: &[i64]) -> (Vec<Vid>, Vec<Vid>) {
        let c = self.plan.cols;
        let zero = self.constant(0);
        let marker = self.constant(crate::commit::LENGTH_MARKER);
        let vids: Vec<Vid> = values.iter().map(|v| self.define(*v)).collect();
        let mut slots: Vec<Slot> = vids.iter().map(|v| Slot::Def(*v)).collect();
        slots.push(Slot::Copy(marker));
        let mut elements = vec![];
        for chunk in slots.chunks(BYTES_PER_ELEMENT) {
            // Most significant byte first; one zero byte in front when the count is odd.
            let mut digits: Vec<Slot> = chunk.iter().rev().copied().collect();
            if digits.len() % 2 == 1 {
                digits.insert(0, Slot::Copy(zero));
            }
            let value = |p: &Planner, s: &Slot| match s {
                Slot::Def(v) | Slot::Copy(v) => p.plan.values[*v as usize],
                _ => unreachable!("bytes are values"),
            };
            let mut acc = Fr::ZERO;
            let rows = digits.len() / 2;
            for (i, pair) in digits.chunks(2).enumerate() {
                acc = acc * Fr::from(65536) + value(self, &pair[0]) * Fr::from(256) + value(self, &pair[1]);
                let slot = if i + 1 == rows {
                    let element = self.define_fr(acc, 0); // packed elements have no integer view
                    elements.push(element);
                    Slot::Def(element)
                } else {
                    Slot::Plain(acc)
                };
                let r = self.lane_b;
                self.lane_b += 1;
                let row = self.row(r);
                row.sel |= SEL_PAIR | SEL_PACK;
                row.fixed[1] = if i == 0 { Fr::ZERO } else { Fr::from(65536) };
                row.cells.push((c.clip_x(), pair[0]));
                row.cells.push((c.clip_y(), pair[1]));
                row.cells.push((c.a(), slot));
            }
        }
        (vids, elements)
    }

    /// Packs bytes and the length marker (`commit::pack_bytes`) little endian, 31 per field
    /// element, by Horner's rule in lane A.
    fn pack(&mut self, bytes: &[Vid]) -> Vec<Vid> {
        let c = self.plan.cols;
        let zero = self.constant(0);
        let mut marked = bytes.to_vec();
        marked.push(self.constant(crate::commit::LENGTH_MARKER));
        let mut elements = vec![];
        for chunk in marked.chunks(BYTES_PER_ELEMENT) {
            // Most significant byte first; left-pad with zero bytes to whole rows.
            let mut digits: Vec<Vid> = chunk.iter().rev().copied().collect();
            let pad = (c.m - digits.len() % c.m) % c.m;
            digits.splice(0..0, std::iter::repeat(zero).take(pad));
            let mut acc = Fr::ZERO;
            let rows = digits.len() / c.m;
            for (i, row_digits) in digits.chunks(c.m).enumerate() {
                for d in row_digits {
                    acc = acc * Fr::from(256) + self.plan.values[*d as usize];
                }
                let slot = if i + 1 == rows {
                    Slot::Def(self.define_fr(acc, 0)) // packed elements have no integer view
                } else {
                    Slot::Plain(acc)
                };
                let r = self.lane_a;
                self.lane_a += 1;
                let shift = if i == 0 { Fr::ZERO } else { Fr::from(256).pow_vartime([c.m as u64]) };
                let row = self.row(r);
                row.sel |= SEL_PACK;
                row.fixed[0] = shift;
                row.cells.extend(row_digits.iter().enumerate().map(|(j, d)| (c.x(j), Slot::Copy(*d))));
                row.cells.push((c.acc(), slot));
                if let Slot::Def(v) = slot {
                    elements.push(v);
                }
            }
        }
        elements
    }

    /// Lays out the Poseidon sponge over `inputs` (full-width rows after both lanes) and
    /// returns the hash cell. Matches `poseidon::hash`.
    fn poseidon(&mut self, inputs: &[Vid]) -> Vid {
        let c = self.plan.cols;
        let zero = self.constant(0);
        let mut state = poseidon::initial_state();
        let cap = self.constant_fr(state[0], 0);
        let values: Vec<Fr> = inputs.iter().map(|v| self.plan.values[*v as usize]).collect();
        let chunks = poseidon::absorb_chunks(&values);
        let mut input_iter = inputs.chunks(poseidon::RATE);
        let mut r = self.plan.rows.len().max(self.lane_a).max(self.lane_b);
        // The initial state, pinned to constants: capacity 2^64, then zeros.
        let row = self.row(r);
        row.cells.push((c.state(0), Slot::Copy(cap)));
        row.cells.push((c.state(1), Slot::Copy(zero)));
        row.cells.push((c.state(2), Slot::Copy(zero)));
        for (k, (vals, pad)) in chunks.iter().enumerate() {
            // Absorb row r: state in s, absorbed elements in the lookup pair (copies of the inputs).
            let absorbed = input_iter.next().unwrap_or(&[]);
            {
                let row = self.row(r);
                row.sel |= SEL_ABSORB;
                row.fixed[1] = pad[0];
                row.fixed[2] = pad[1];
                for i in 0..poseidon::RATE {
                    let slot = match absorbed.get(i) {
                        Some(v) => Slot::Copy(*v),
                        None => Slot::Copy(zero),
                    };
                    row.cells.push((c.absorbed(i), slot));
                }
                if k > 0 {
                    for i in 0..poseidon::WIDTH {
                        row.cells.push((c.state(i), Slot::Plain(state[i])));
                    }
                }
            }
            for i in 0..poseidon::RATE {
                state[i + 1] += vals[i] + pad[i];
            }
            for round in 0..poseidon::ROUNDS {
                r += 1;
                let (next, cubes) = poseidon::round(state, round);
                let rc = poseidon::constants().round[round];
                let row = self.row(r);
                row.sel |= if poseidon::is_full_round(round) { SEL_ROUND | SEL_FULL_ROUND } else { SEL_ROUND };
                row.fixed[..3].copy_from_slice(&rc);
                for i in 0..poseidon::WIDTH {
                    row.cells.push((c.state(i), Slot::Plain(state[i])));
                    row.cells.push((c.cube(i), Slot::Plain(cubes[i])));
                }
                state = next;
            }
            r += 1;
        }
        // Output row: the final state; its lane 1 is the hash.
        let out = self.define_fr(state[1], 0);
        let row = self.row(r);
        row.cells.push((c.state(0), Slot::Plain(state[0])));
        row.cells.push((c.state(1), Slot::Def(out)));
        row.cells.push((c.state(2), Slot::Plain(state[2])));
        (self.lane_a, self.lane_b) = (r + 1, r + 1);
        out
    }
}

/// A layer's weights flattened row-major, in commitment order (empty for parameter-free ops).
pub fn layer_weights_flat(layer: &Layer) -> Vec<i64> {
    match layer {
        Layer::Conv2d { weights, .. } => weights.iter().flatten().flatten().flatten().copied().collect(),
        Layer::FullyConnected { weights, .. } => weights.iter().flatten().copied().collect(),
        _ => vec![],
    }
}

pub fn layer_bias_of(layer: &Layer) -> &[i64] {
    match layer {
        Layer::Conv2d { bias, .. } | Layer::FullyConnected { bias, .. } => bias,
        _ => &[],
    }
}

pub fn first_argmax(v: &[i64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// A matrix product's dimensions (positions, outputs, inputs per output) and the lane-A rows of
/// its dot-product chains at width `m`.
#[derive(Clone, Copy, Debug)]
pub struct MatmulShape {
    pub positions: usize,
    pub outputs: usize,
    pub inputs: usize,
    direct_rows: usize,
}

impl MatmulShape {
    /// The layer as a matrix product, if it is one (convolutions with groups = 1, fully connected).
    pub fn of(layer: &Layer, in_shape: [usize; 3], out_shape: [usize; 3], m: usize) -> Option<Self> {
        match layer {
            Layer::Conv2d { kernel, groups: 1, stride, padding, .. } => {
                let [h, w, cin] = in_shape;
                let [oh, ow, oc] = out_shape;
                // A start row and one row per m products; padded taps are skipped.
                let inside = |o: usize, k: usize, pad: usize, n: usize| {
                    (0..k).filter(|j| (o * stride + j).checked_sub(pad).is_some_and(|i| i < n)).count()
                };
                let per_output: usize = (0..oh)
                    .flat_map(|oy| (0..ow).map(move |ox| (oy, ox)))
                    .map(|(oy, ox)| (inside(oy, kernel[0], padding[0], h) * inside(ox, kernel[1], padding[1], w) * cin).div_ceil(m) + 1)
                    .sum();
                Some(Self { positions: oh * ow, outputs: oc, inputs: kernel[0] * kernel[1] * cin, direct_rows: per_output * oc })
            }
            Layer::FullyConnected { out_features, .. } => {
                let inputs = in_shape.iter().product::<usize>();
                Some(Self { positions: 1, outputs: *out_features, inputs, direct_rows: out_features * (inputs.div_ceil(m) + 1) })
            }
            _ => None,
        }
    }
    /// Lane-A rows of dot-product chains.
    pub fn direct_rows(&self) -> usize {
        self.direct_rows
    }
    /// Lane-A rows of Freivalds' test: the folds, the fold by u over positions (two rows a
    /// step) and the products of the folds (three rows a step).
    pub fn freivalds_rows(&self, m: usize) -> usize {
        let rows = |n: usize| n.div_ceil(2 * m);
        let (p, o, i) = (self.positions, self.outputs, self.inputs);
        p * rows(o) + i * (rows(p) + rows(o)) + rows(p) + rows(o) + 2 * p + 3 * (i + 1)
    }
    pub fn uses_freivalds(&self, check: MatmulCheck, m: usize) -> bool {
        match check {
            MatmulCheck::Direct => false,
            MatmulCheck::Freivalds => true,
            MatmulCheck::Auto => self.freivalds_rows(m) < self.direct_rows,
        }
    }
}

/// Each layer as a matrix product, where it is one.
fn matmul_shapes(model: &QModel, m: usize) -> Result<Vec<Option<MatmulShape>>> {
    let infos = model.tensors()?;
    Ok(model
        .layers
        .iter()
        .map(|layer| {
            let in_shape = layer_input(layer).map_or([0; 3], |name| infos[name].shape);
            MatmulShape::of(layer, in_shape, infos[&layer.output().name].shape, m)
        })
        .collect())
}

/// Which layers are checked by Freivalds' test (true) under `check`.
pub fn freivalds_layers(model: &QModel, m: usize, check: MatmulCheck) -> Result<Vec<bool>> {
    Ok(matmul_shapes(model, m)?.iter().map(|s| s.is_some_and(|s| s.uses_freivalds(check, m))).collect())
}

/// Lane-A rows the matrix products alone take when checked directly: a lower bound on the
/// direct layout's height, known without planning it.
pub fn direct_product_rows(model: &QModel, m: usize) -> Result<usize> {
    Ok(matmul_shapes(model, m)?.iter().flatten().map(MatmulShape::direct_rows).sum())
}

fn layer_input(layer: &Layer) -> Option<&String> {
    match layer {
        Layer::Conv2d { input, .. } | Layer::FullyConnected { input, .. } | Layer::GlobalAvgPool { input, .. } => Some(input),
        Layer::Add { .. } => None,
    }
}

/// Plans the circuit for `model` on `input` (uint8, HWC, flattened) with `m` products per row.
/// `public_weights` holds the weight commitment when the weights are public: every weight and
/// bias is then a circuit constant and the commitment instance is pinned to that value; when
/// `None`, the weights are private witnesses hashed inside the circuit. `check` says how matrix
/// products are checked; `pairs` whether the table's byte-pair part range-checks and packs bytes
/// two per row.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    model: &QModel,
    input: &[i64],
    m: usize,
    output: OutputKind,
    public_weights: Option<Fr>,
    check: MatmulCheck,
    pairs: bool,
) -> Result<Plan> {
    let infos = model.tensors()?;
    if input.len() != model.input_len() {
        return Err(ProverError::Input(format!(
            "input has {} values, the model expects {:?} = {}",
            input.len(),
            model.input.shape,
            model.input_len()
        )));
    }
    if let Some(i) = input.iter().position(|v| !(0..=255).contains(v)) {
        return Err(ProverError::Input(format!("input[{i}] = {} is not a byte (0..=255)", input[i])));
    }
    if m < 2 {
        return Err(ProverError::Model("dot-product width must be at least 2".into()));
    }
    let freivalds = freivalds_layers(model, m, check)?;
    let plan = Plan {
        cols: Columns { m, two_phase: freivalds.contains(&true), pairs },
        lookup_bits: model.lookup_bits,
        rows: vec![],
        values: vec![],
        instance_vids: vec![],
        weight_vids: vec![],
        logits: vec![],
        class: 0,
        phase2: vec![],
        lane_rows: [0; 3],
    };
    let mut p = Planner { plan, lane_a: 0, lane_b: 0, consts: HashMap::new(), ints: vec![] };
    // With byte pairs, bytes are range-checked and packed in one place; else packed later.
    let (input_vids, packed_input) = if pairs {
        let (vids, elements) = p.packed_bytes(input);
        (vids, Some(elements))
    } else {
        (p.range_checked(input), None)
    };

    // Parameters in commitment order: all weights (as bytes w + 128), then all biases.
    let mut layer_weights: Vec<Vec<Vid>> = vec![];
    let mut packed_weights = None;
    if public_weights.is_none() && pairs {
        let all: Vec<i64> = model.layers.iter().flat_map(layer_weights_flat).map(|v| v + WEIGHT_OFFSET).collect();
        let (vids, elements) = p.packed_bytes(&all);
        packed_weights = Some(elements);
        let mut rest = &vids[..];
        for layer in &model.layers {
            let (mine, tail) = rest.split_at(layer_weights_flat(layer).len());
            layer_weights.push(mine.to_vec());
            rest = tail;
        }
        p.plan.weight_vids = vids;
    } else {
        for layer in &model.layers {
            let shifted: Vec<i64> = layer_weights_flat(layer).iter().map(|v| v + WEIGHT_OFFSET).collect();
            let vids = match public_weights {
                Some(_) => shifted.iter().map(|v| p.constant(*v)).collect(),
                None => p.range_checked(&shifted),
            };
            p.plan.weight_vids.extend(&vids);
            layer_weights.push(vids);
        }
    }
    let mut layer_bias: Vec<Vec<Vid>> = vec![];
    let mut bias_vids: Vec<Vid> = vec![];
    for layer in &model.layers {
        let vids: Vec<Vid> = layer_bias_of(layer)
            .iter()
            .map(|b| if public_weights.is_some() { p.constant(*b) } else { p.stored(fr(*b), *b) })
            .collect();
        bias_vids.extend(&vids);
        layer_bias.push(vids);
    }

    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let inp = &infos[&model.input.name];
    tensors.insert(model.input.name.clone(), Tensor { zero_point: inp.zero_point, shape: inp.shape, vids: input_vids.clone() });
    for (li, layer) in model.layers.iter().enumerate() {
        let out_info = infos[&layer.output().name].clone();
        let z_out = out_info.zero_point;
        let vids = match layer {
            Layer::Conv2d { input, kernel, stride, padding, groups, multiplier, .. } => {
                let x = &tensors[input];
                let [h, w, cin] = x.shape;
                let [oh, ow, oc] = out_info.shape;
                let [kh, kw] = *kernel;
                let depthwise = *groups != 1;
                let per_out = kh * kw * if depthwise { 1 } else { cin };
                let (xv, z) = (x.vids.clone(), x.zero_point);
                // The input feeding tap (ky, kx) of output position (oy, ox), None where padded.
                let tap = |oy: usize, ox: usize, ky: usize, kx: usize| {
                    let iy = (oy * stride + ky) as isize - padding[0] as isize;
                    let ix = (ox * stride + kx) as isize - padding[1] as isize;
                    (iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize).then(|| (iy as usize * w + ix as usize) * cin)
                };
                if freivalds[li] {
                    let z_const = p.constant(z);
                    let mut columns = Vec::with_capacity(oh * ow);
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut col = Vec::with_capacity(per_out);
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    match tap(oy, ox, ky, kx) {
                                        Some(base) => col.extend(&xv[base..base + cin]),
                                        None => col.extend(std::iter::repeat(z_const).take(cin)),
                                    }
                                }
                            }
                            columns.push(col);
                        }
                    }
                    let weights: Vec<Vec<Vid>> = layer_weights[li].chunks(per_out).map(<[Vid]>::to_vec).collect();
                    let bias = layer_bias[li].clone();
                    p.freivalds_layer(li, &columns, &weights, &bias, z, multiplier, requant_offset(z_out))?
                } else {
                    let mut out = vec![0; oh * ow * oc];
                    for oy in 0..oh {
                        for ox in 0..ow {
                            for o in 0..oc {
                                let mut taps = Vec::with_capacity(per_out);
                                for ky in 0..kh {
                                    for kx in 0..kw {
                                        // Padding holds the zero point: contributes 0.
                                        let Some(base) = tap(oy, ox, ky, kx) else { continue };
                                        if depthwise {
                                            taps.push((xv[base + o], layer_weights[li][o * per_out + ky * kw + kx]));
                                        } else {
                                            for ci in 0..cin {
                                                let wi = o * per_out + (ky * kw + kx) * cin + ci;
                                                taps.push((xv[base + ci], layer_weights[li][wi]));
                                            }
                                        }
                                    }
                                }
                                out[(oy * ow + ox) * oc + o] =
                                    p.dot_requant(li, &taps, layer_bias[li][o], z, multiplier[o], requant_offset(z_out))?;
                            }
                        }
                    }
                    out
                }
            }
            Layer::FullyConnected { input, out_features, multiplier, .. } => {
                let x = &tensors[input];
                let (xv, z) = (x.vids.clone(), x.zero_point);
                let n = xv.len();
                if freivalds[li] {
                    let weights: Vec<Vec<Vid>> = layer_weights[li].chunks(n).map(<[Vid]>::to_vec).collect();
                    let bias = layer_bias[li].clone();
                    p.freivalds_layer(li, &[xv], &weights, &bias, z, multiplier, requant_offset(z_out))?
                } else {
                    let mut out = vec![];
                    for o in 0..*out_features {
                        let taps: Vec<(Vid, Vid)> = (0..n).map(|i| (xv[i], layer_weights[li][o * n + i])).collect();
                        out.push(p.dot_requant(li, &taps, layer_bias[li][o], z, multiplier[o], requant_offset(z_out))?);
                    }
                    out
                }
            }
            Layer::GlobalAvgPool { input, multiplier, .. } => {
                let x = &tensors[input];
                let [h, w, ch] = x.shape;
                let (xv, z) = (x.vids.clone(), x.zero_point);
                let (zero, one_w) = (p.constant(0), p.constant(WEIGHT_OFFSET + 1));
                let mut out = vec![];
                for c in 0..ch {
                    let taps: Vec<(Vid, Vid)> = (0..h * w).map(|i| (xv[i * ch + c], one_w)).collect();
                    out.push(p.dot_requant(li, &taps, zero, z, *multiplier, requant_offset(z_out))?);
                }
                out
            }
            Layer::Add { inputs, multiplier, .. } => {
                let (a, b) = (&tensors[&inputs[0]], &tensors[&inputs[1]]);
                let (a, b) = ((a.vids.clone(), a.zero_point), (b.vids.clone(), b.zero_point));
                p.add(li, (&a.0, a.1), (&b.0, b.1), *multiplier, z_out)?
            }
        };
        tensors.insert(layer.output().name.clone(), Tensor { zero_point: z_out, shape: out_info.shape, vids });
    }

    let logit_vids = tensors[&model.output].vids.clone();
    let logits: Vec<i64> = logit_vids.iter().map(|v| p.int(*v)).collect();
    let class = first_argmax(&logits);
    let outputs = match output {
        OutputKind::Logits => logit_vids,
        OutputKind::Class => vec![p.first_argmax(&logit_vids, class)],
    };

    // Commitments: bytes packed in lane A, then the Poseidon sponges below everything.
    let packed_input = packed_input.unwrap_or_else(|| p.pack(&input_vids));
    let weight_preimage = public_weights.is_none().then(|| {
        let mut preimage = packed_weights.clone().unwrap_or_else(|| p.pack(&p.plan.weight_vids.clone()));
        preimage.extend(bias_vids.clone());
        preimage
    });
    p.plan.lane_rows = [p.lane_a, p.lane_b, 0];
    let hashing_from = p.plan.rows.len().max(p.lane_a).max(p.lane_b);
    let input_commitment = p.poseidon(&packed_input);
    let weight_commitment = match (weight_preimage, public_weights) {
        (Some(preimage), _) => p.poseidon(&preimage),
        (None, Some(wc)) => p.constant_fr(wc, 0),
        (None, None) => unreachable!("hidden weights always have a preimage"),
    };
    p.plan.lane_rows[2] = p.plan.rows.len().saturating_sub(hashing_from);
    p.plan.instance_vids = [input_commitment, weight_commitment].into_iter().chain(outputs).collect();
    p.plan.logits = logits;
    p.plan.class = class;
    Ok(p.plan)
}
