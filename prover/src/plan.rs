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
pub const SEL_PACK: u16 = 4;
pub const SEL_FULL_ROUND: u16 = 8;
pub const SEL_PARTIAL_ROUND: u16 = 16;
pub const SEL_ABSORB: u16 = 32;
pub const SEL_CONST: u16 = 64;

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

/// Column indices for a dot-product width `m` (multiply-accumulates per row).
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    pub m: usize,
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
    pub fn count(&self) -> usize {
        2 * self.m + 4
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

    /// Proves `class` is the first index of the largest logit with dot chains and byte range
    /// checks: one-hot bytes e_j summing to 1, class = sum j e_j, best = sum y_j e_j, and
    /// best - y_j - [j < class] >= 0 for every j.
    fn first_argmax(&mut self, logits: &[Vid], class: usize) -> Vid {
        let n = logits.len();
        let onehot: Vec<i64> = (0..n).map(|j| WEIGHT_OFFSET + i64::from(j == class)).collect();
        let e = self.range_checked(&onehot.iter().map(|v| v - WEIGHT_OFFSET).collect::<Vec<_>>());
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
        // gap_j = best - y_j - sum_{i > j} e_i, with zero point 2: (y - 2)(127 - 128) = 2 - y,
        // (1 - 2)(w_i - 128) = -e_i, and (1 - 2)(130 - 128) = -2 cancels the 2.
        let (minus_one, plus_two) = (self.constant(WEIGHT_OFFSET - 1), self.constant(WEIGHT_OFFSET + 2));
        for j in 0..n {
            let mut taps = vec![(logits[j], minus_one), (one, plus_two)];
            taps.extend(w[j + 1..].iter().map(|wi| (one, *wi)));
            let gap = self.dot(&taps, best, 2, None).0;
            self.range_row(Slot::Copy(gap), gap);
        }
        class_vid
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
        for byte in [rem & 255, rem >> 8] {
            let vid = self.define(byte as i64);
            self.range_row(Slot::Def(vid), vid);
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
                row.sel |= if poseidon::is_full_round(round) { SEL_FULL_ROUND } else { SEL_PARTIAL_ROUND };
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

/// Plans the circuit for `model` on `input` (uint8, HWC, flattened) with `m` products per row.
/// `public_weights` holds the weight commitment when the weights are public: every weight and
/// bias is then a circuit constant and the commitment instance is pinned to that value; when
/// `None`, the weights are private witnesses hashed inside the circuit.
pub fn plan(model: &QModel, input: &[i64], m: usize, output: OutputKind, public_weights: Option<Fr>) -> Result<Plan> {
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
    let plan = Plan {
        cols: Columns { m },
        lookup_bits: model.lookup_bits,
        rows: vec![],
        values: vec![],
        instance_vids: vec![],
        weight_vids: vec![],
        logits: vec![],
        class: 0,
    };
    let mut p = Planner { plan, lane_a: 0, lane_b: 0, consts: HashMap::new(), ints: vec![] };
    let input_vids = p.range_checked(input);

    // Parameters in commitment order: all weights (as bytes w + 128), then all biases.
    let mut layer_weights: Vec<Vec<Vid>> = vec![];
    for layer in &model.layers {
        let shifted: Vec<i64> = layer_weights_flat(layer).iter().map(|v| v + WEIGHT_OFFSET).collect();
        let vids = match public_weights {
            Some(_) => shifted.iter().map(|v| p.constant(*v)).collect(),
            None => p.range_checked(&shifted),
        };
        p.plan.weight_vids.extend(&vids);
        layer_weights.push(vids);
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
                let mut out = vec![0; oh * ow * oc];
                for oy in 0..oh {
                    for ox in 0..ow {
                        for o in 0..oc {
                            let mut taps = Vec::with_capacity(per_out);
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * stride + ky) as isize - padding[0] as isize;
                                    let ix = (ox * stride + kx) as isize - padding[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue; // padding holds the zero point: contributes 0
                                    }
                                    let base = (iy as usize * w + ix as usize) * cin;
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
            Layer::FullyConnected { input, out_features, multiplier, .. } => {
                let x = &tensors[input];
                let (xv, z) = (x.vids.clone(), x.zero_point);
                let n = xv.len();
                let mut out = vec![];
                for o in 0..*out_features {
                    let taps: Vec<(Vid, Vid)> = (0..n).map(|i| (xv[i], layer_weights[li][o * n + i])).collect();
                    out.push(p.dot_requant(li, &taps, layer_bias[li][o], z, multiplier[o], requant_offset(z_out))?);
                }
                out
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
    let packed_input = p.pack(&input_vids);
    let weight_preimage = public_weights.is_none().then(|| {
        let mut preimage = p.pack(&p.plan.weight_vids.clone());
        preimage.extend(bias_vids.clone());
        preimage
    });
    let input_commitment = p.poseidon(&packed_input);
    let weight_commitment = match (weight_preimage, public_weights) {
        (Some(preimage), _) => p.poseidon(&preimage),
        (None, Some(wc)) => p.constant_fr(wc, 0),
        (None, None) => unreachable!("hidden weights always have a preimage"),
    };
    p.plan.instance_vids = [input_commitment, weight_commitment].into_iter().chain(outputs).collect();
    p.plan.logits = logits;
    p.plan.class = class;
    Ok(p.plan)
}
