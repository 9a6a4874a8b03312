//! Evaluates a quantized model in integer arithmetic and lays the evaluation out as circuit rows.
//!
//! One code path computes both the outputs and the witness, so the native inference can never
//! disagree with what the circuit proves. The row layout depends only on the architecture, never
//! on the values, which is what lets a verifying key serve every input.
use crate::error::{ProverError, Result};
use crate::model::{Layer, QModel, TensorInfo};
use std::collections::HashMap;

/// The divisor shared by every requantization (`2^RESCALE_BITS`).
pub const B: i128 = 1 << crate::model::RESCALE_BITS;
/// Weights are stored shifted by this so every stored weight is a byte.
pub const WEIGHT_OFFSET: i64 = 128;

pub const SEL_DOT: u8 = 1;
pub const SEL_ADD: u8 = 2;
pub const SEL_RESCALE: u8 = 4;
pub const SEL_RANGE: u8 = 8;

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
    Plain(i64),
}

#[derive(Clone, Debug, Default)]
pub struct Row {
    pub sel: u8,
    /// Fixed columns: f0 zero point (dot) or m_a (add); f1 multiplier; f2 offset; f3 m_b (add).
    pub fixed: [i64; 4],
    pub cells: Vec<(u16, Slot)>,
}

/// Column indices of the CNN region for a dot-product width `m`.
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    pub m: usize,
}

impl Columns {
    pub fn x(&self, i: usize) -> u16 {
        i as u16
    }
    pub fn w(&self, i: usize) -> u16 {
        (self.m + i) as u16
    }
    pub fn acc_in(&self) -> u16 {
        (2 * self.m) as u16
    }
    pub fn acc(&self) -> u16 {
        (2 * self.m + 1) as u16
    }
    /// Lookup pair (q, clip(q)); in range rows both hold the same byte.
    pub fn clip_x(&self) -> u16 {
        (2 * self.m + 2) as u16
    }
    pub fn clip_y(&self) -> u16 {
        (2 * self.m + 3) as u16
    }
    /// Byte-range lookup columns (low and high byte of the rescale remainder).
    pub fn r0(&self) -> u16 {
        (2 * self.m + 4) as u16
    }
    pub fn r1(&self) -> u16 {
        (2 * self.m + 5) as u16
    }
    pub fn count(&self) -> usize {
        2 * self.m + 6
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub cols: Columns,
    pub lookup_bits: u32,
    pub rows: Vec<Row>,
    pub values: Vec<i64>,
    pub input_vids: Vec<Vid>,
    /// Weights as stored (w + 128), in commitment order.
    pub weight_vids: Vec<Vid>,
    pub bias_vids: Vec<Vid>,
    /// Cells holding the constants 128 (weight 0) and 129 (weight 1).
    pub const_vids: Vec<(Vid, i64)>,
    pub logit_vids: Vec<Vid>,
    pub logits: Vec<i64>,
    pub class: usize,
    /// For class outputs: y_class - y_j - [j < class], each range-checked to a byte.
    pub argmax_gap_vids: Vec<Vid>,
    /// Number of distinct lookup tables in the circuit (one: ClipAndScale, also used for ranges).
    pub num_tables: usize,
}

struct Tensor {
    info: TensorInfo,
    vids: Vec<Vid>,
}

struct Planner {
    plan: Plan,
    zero_w: Vid,
    one_w: Vid,
}

pub fn floor_div(a: i128, b: i128) -> i128 {
    a.div_euclid(b)
}

impl Planner {
    fn define(&mut self, v: i64) -> Vid {
        self.plan.values.push(v);
        (self.plan.values.len() - 1) as Vid
    }
    fn val(&self, vid: Vid) -> i64 {
        self.plan.values[vid as usize]
    }

    /// Defines byte values in range rows (three per row), each checked against the table.
    fn range_checked(&mut self, values: &[i64]) -> Vec<Vid> {
        let c = self.plan.cols;
        let vids: Vec<Vid> = values.iter().map(|v| self.define(*v)).collect();
        for chunk in vids.chunks(3) {
            let mut row = Row { sel: SEL_RANGE, ..Default::default() };
            let v0 = self.val(chunk[0]);
            row.cells.push((c.clip_x(), Slot::Def(chunk[0])));
            row.cells.push((c.clip_y(), Slot::Plain(v0)));
            if let Some(v) = chunk.get(1) {
                row.cells.push((c.r0(), Slot::Def(*v)));
            }
            if let Some(v) = chunk.get(2) {
                row.cells.push((c.r1(), Slot::Def(*v)));
            }
            self.plan.rows.push(row);
        }
        vids
    }

    /// Defines values that only gates elsewhere constrain (biases, constants): packed in rows.
    fn stored(&mut self, values: &[i64]) -> Vec<Vid> {
        let vids: Vec<Vid> = values.iter().map(|v| self.define(*v)).collect();
        for chunk in vids.chunks(self.plan.cols.count() - 4) {
            let cells = chunk.iter().enumerate().map(|(i, v)| (i as u16, Slot::Def(*v))).collect();
            self.plan.rows.push(Row { cells, ..Default::default() });
        }
        vids
    }

    /// Lays out acc = start + sum (x - z) * (u - 128) as a chain of dot rows and requantizes it.
    fn dot_requant(&mut self, layer: usize, taps: &[(Vid, Vid)], start: Vid, z: i64, mult: i64, z_out: i64) -> Result<Vid> {
        let c = self.plan.cols;
        let mut acc_vid = start;
        let mut acc = self.val(start) as i128;
        let chunks: Vec<&[(Vid, Vid)]> = if taps.is_empty() { vec![&[]] } else { taps.chunks(c.m).collect() };
        for chunk in chunks {
            let mut row = Row { sel: SEL_DOT, fixed: [z, 0, 0, 0], cells: Vec::with_capacity(c.count()) };
            for i in 0..c.m {
                match chunk.get(i) {
                    Some((x, w)) => {
                        acc += (self.val(*x) - z) as i128 * (self.val(*w) - WEIGHT_OFFSET) as i128;
                        row.cells.push((c.x(i), Slot::Copy(*x)));
                        row.cells.push((c.w(i), Slot::Copy(*w)));
                    }
                    None => row.cells.push((c.w(i), Slot::Copy(self.zero_w))),
                }
            }
            row.cells.push((c.acc_in(), Slot::Copy(acc_vid)));
            acc_vid = self.define(acc as i64);
            row.cells.push((c.acc(), Slot::Def(acc_vid)));
            self.plan.rows.push(row);
        }
        let last = self.plan.rows.len() - 1;
        self.requant(layer, last, acc, mult, (B / 2 + z_out as i128 * B) as i64)
    }

    /// Turns `row` into a rescale row: q = floor((acc * mult + offset) / B), y = clip(q, 0, 255).
    fn requant(&mut self, layer: usize, row: usize, acc: i128, mult: i64, offset: i64) -> Result<Vid> {
        let c = self.plan.cols;
        let t = acc * mult as i128 + offset as i128;
        let q = floor_div(t, B);
        let r = t - q * B;
        let half = 1i128 << (self.plan.lookup_bits - 1);
        if q < -half || q >= half {
            return Err(ProverError::Range(format!(
                "layer {layer}: requantized value {q} outside the lookup table [-{half}, {half}); \
                 raise lookup_bits in the model"
            )));
        }
        let y = self.define(q.clamp(0, 255) as i64);
        let row = &mut self.plan.rows[row];
        row.sel |= SEL_RESCALE;
        row.fixed[1] = mult;
        row.fixed[2] = offset;
        row.cells.push((c.clip_x(), Slot::Plain(q as i64)));
        row.cells.push((c.clip_y(), Slot::Def(y)));
        row.cells.push((c.r0(), Slot::Plain((r & 255) as i64)));
        row.cells.push((c.r1(), Slot::Plain((r >> 8) as i64)));
        Ok(y)
    }

    fn add(&mut self, layer: usize, a: &Tensor, b: &Tensor, mult: [i64; 2], z_out: i64) -> Result<Vec<Vid>> {
        let c = self.plan.cols;
        let (za, zb) = (a.info.zero_point, b.info.zero_point);
        let offset = B / 2 + z_out as i128 * B - (mult[0] * za) as i128 - (mult[1] * zb) as i128;
        let mut out = Vec::with_capacity(a.vids.len());
        for (va, vb) in a.vids.iter().zip(&b.vids) {
            let acc = mult[0] as i128 * self.val(*va) as i128 + mult[1] as i128 * self.val(*vb) as i128;
            let acc_vid = self.define(acc as i64);
            let row = Row {
                sel: SEL_ADD,
                fixed: [mult[0], 0, 0, mult[1]],
                cells: vec![(c.x(0), Slot::Copy(*va)), (c.x(1), Slot::Copy(*vb)), (c.acc(), Slot::Def(acc_vid))],
            };
            self.plan.rows.push(row);
            let last = self.plan.rows.len() - 1;
            out.push(self.requant(layer, last, acc, 1, offset as i64)?);
        }
        Ok(out)
    }
}

/// Plans the circuit for `model` on `input` (uint8, HWC, flattened) with dot products of width `m`.
pub fn plan(model: &QModel, input: &[i64], m: usize, output: OutputKind) -> Result<Plan> {
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
    if m == 0 {
        return Err(ProverError::Model("dot-product width must be positive".into()));
    }
    let plan = Plan {
        cols: Columns { m },
        lookup_bits: model.lookup_bits,
        rows: vec![],
        values: vec![],
        input_vids: vec![],
        weight_vids: vec![],
        bias_vids: vec![],
        const_vids: vec![],
        logit_vids: vec![],
        logits: vec![],
        class: 0,
        argmax_gap_vids: vec![],
        num_tables: 1,
    };
    let mut p = Planner { plan, zero_w: 0, one_w: 0 };
    let consts = p.stored(&[WEIGHT_OFFSET, WEIGHT_OFFSET + 1]);
    (p.zero_w, p.one_w) = (consts[0], consts[1]);
    p.plan.const_vids = vec![(consts[0], WEIGHT_OFFSET), (consts[1], WEIGHT_OFFSET + 1)];
    p.plan.input_vids = p.range_checked(input);

    // Parameters first, in commitment order: all weights, then all biases.
    let mut layer_weights: Vec<Vec<Vid>> = vec![];
    for layer in &model.layers {
        let shifted: Vec<i64> = layer_weights_flat(layer).iter().map(|v| v + WEIGHT_OFFSET).collect();
        let vids = p.range_checked(&shifted);
        p.plan.weight_vids.extend(&vids);
        layer_weights.push(vids);
    }
    let mut layer_bias: Vec<Vec<Vid>> = vec![];
    for layer in &model.layers {
        let vids = p.stored(layer_bias_of(layer));
        p.plan.bias_vids.extend(&vids);
        layer_bias.push(vids);
    }

    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    tensors.insert(
        model.input.name.clone(),
        Tensor { info: infos[&model.input.name].clone(), vids: p.plan.input_vids.clone() },
    );
    for (li, layer) in model.layers.iter().enumerate() {
        let out_info = infos[&layer.output().name].clone();
        let z_out = out_info.zero_point;
        let vids = match layer {
            Layer::Conv2d { input, kernel, stride, padding, groups, multiplier, .. } => {
                let x = &tensors[input];
                let [h, w, cin] = x.info.shape;
                let [oh, ow, oc] = out_info.shape;
                let [kh, kw] = *kernel;
                let depthwise = *groups != 1;
                let per_out = kh * kw * if depthwise { 1 } else { cin };
                let (xv, z) = (x.vids.clone(), x.info.zero_point);
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
                                        continue;
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
                            let y = p.dot_requant(li, &taps, layer_bias[li][o], z, multiplier[o], z_out)?;
                            out[(oy * ow + ox) * oc + o] = y;
                        }
                    }
                }
                out
            }
            Layer::FullyConnected { input, out_features, multiplier, .. } => {
                let x = &tensors[input];
                let (xv, z, n) = (x.vids.clone(), x.info.zero_point, x.info.len());
                let mut out = vec![];
                for o in 0..*out_features {
                    let taps: Vec<(Vid, Vid)> = (0..n).map(|i| (xv[i], layer_weights[li][o * n + i])).collect();
                    out.push(p.dot_requant(li, &taps, layer_bias[li][o], z, multiplier[o], z_out)?);
                }
                out
            }
            Layer::GlobalAvgPool { input, multiplier, .. } => {
                let x = &tensors[input];
                let [h, w, c] = x.info.shape;
                let (xv, z) = (x.vids.clone(), x.info.zero_point);
                let zero = p.stored(&[0])[0];
                let mut out = vec![];
                for ch in 0..c {
                    let taps: Vec<(Vid, Vid)> = (0..h * w).map(|i| (xv[i * c + ch], p.one_w)).collect();
                    out.push(p.dot_requant(li, &taps, zero, z, *multiplier, z_out)?);
                }
                p.plan.const_vids.push((zero, 0));
                out
            }
            Layer::Add { inputs, multiplier, .. } => {
                p.add(li, &tensors[&inputs[0]], &tensors[&inputs[1]], *multiplier, z_out)?
            }
        };
        tensors.insert(layer.output().name.clone(), Tensor { info: out_info, vids });
    }

    let logit_vids = tensors[&model.output].vids.clone();
    let logits: Vec<i64> = logit_vids.iter().map(|v| p.val(*v)).collect();
    let class = first_argmax(&logits);
    if output == OutputKind::Class {
        let best = logits[class];
        let gaps: Vec<i64> =
            logits.iter().enumerate().map(|(j, y)| best - y - i64::from(j < class)).collect();
        p.plan.argmax_gap_vids = p.range_checked(&gaps);
    }
    p.plan.logit_vids = logit_vids;
    p.plan.logits = logits;
    p.plan.class = class;
    Ok(p.plan)
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
