//! The quantized model description (`docs/model-format.md`): parsing and validation.
//!
//! Validation happens here, once, so every later stage can index shapes without checks.
use crate::error::{ProverError, Result};
use serde::Deserialize;
use std::collections::HashMap;

pub const FORMAT: &str = "zkmarket-qmodel";
pub const RESCALE_BITS: u32 = 16;

#[derive(Clone, Debug, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    #[serde(default)]
    pub shape: Vec<usize>,
    #[serde(default)]
    pub scale: f64,
    pub zero_point: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "op")]
pub enum Layer {
    #[serde(rename = "conv2d")]
    Conv2d {
        input: String,
        kernel: [usize; 2],
        stride: usize,
        padding: [usize; 4],
        groups: usize,
        out_channels: usize,
        weights: Vec<Vec<Vec<Vec<i64>>>>,
        bias: Vec<i64>,
        multiplier: Vec<i64>,
        output: TensorSpec,
        #[serde(default)]
        activation: Option<String>,
    },
    #[serde(rename = "fully_connected")]
    FullyConnected {
        input: String,
        out_features: usize,
        weights: Vec<Vec<i64>>,
        bias: Vec<i64>,
        multiplier: Vec<i64>,
        output: TensorSpec,
        #[serde(default)]
        activation: Option<String>,
    },
    #[serde(rename = "add")]
    Add { inputs: [String; 2], multiplier: [i64; 2], output: TensorSpec },
    #[serde(rename = "global_avg_pool")]
    GlobalAvgPool { input: String, multiplier: i64, output: TensorSpec },
}

impl Layer {
    pub fn output(&self) -> &TensorSpec {
        match self {
            Layer::Conv2d { output, .. }
            | Layer::FullyConnected { output, .. }
            | Layer::Add { output, .. }
            | Layer::GlobalAvgPool { output, .. } => output,
        }
    }
    fn inputs(&self) -> Vec<&str> {
        match self {
            Layer::Conv2d { input, .. }
            | Layer::FullyConnected { input, .. }
            | Layer::GlobalAvgPool { input, .. } => vec![input.as_str()],
            Layer::Add { inputs, .. } => inputs.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct QModel {
    pub format: String,
    pub version: u32,
    #[serde(default)]
    pub name: String,
    pub rescale_bits: u32,
    pub lookup_bits: u32,
    pub input: TensorSpec,
    pub layers: Vec<Layer>,
    pub output: String,
}

/// A tensor known to the model: its shape (H, W, C) and zero point.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub shape: [usize; 3],
    pub zero_point: i64,
}

impl TensorInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

fn err(layer: usize, msg: impl std::fmt::Display) -> ProverError {
    ProverError::Model(format!("layer {layer}: {msg}"))
}

fn check_range(what: &str, values: &[i64], lo: i64, hi: i64) -> std::result::Result<(), String> {
    match values.iter().position(|v| *v < lo || *v > hi) {
        Some(i) => Err(format!("{what}[{i}] = {} outside [{lo}, {hi}]", values[i])),
        None => Ok(()),
    }
}

impl QModel {
    pub fn from_json(text: &str) -> Result<Self> {
        let model: QModel =
            serde_json::from_str(text).map_err(|e| ProverError::Model(format!("malformed JSON: {e}")))?;
        model.validate()?;
        Ok(model)
    }

    /// Checks every field the circuit relies on and returns the shapes of all tensors.
    pub fn tensors(&self) -> Result<HashMap<String, TensorInfo>> {
        let mut tensors = HashMap::new();
        let s = &self.input.shape;
        if s.len() != 3 || s.iter().any(|d| *d == 0) {
            return Err(ProverError::Model(format!("input shape must be [H, W, C] > 0, got {s:?}")));
        }
        check_zp(&self.input).map_err(ProverError::Model)?;
        tensors.insert(
            self.input.name.clone(),
            TensorInfo { shape: [s[0], s[1], s[2]], zero_point: self.input.zero_point },
        );
        for (i, layer) in self.layers.iter().enumerate() {
            let ins: Vec<TensorInfo> = layer
                .inputs()
                .iter()
                .map(|n| tensors.get(*n).cloned().ok_or_else(|| err(i, format!("unknown input tensor '{n}'"))))
                .collect::<Result<_>>()?;
            let shape = layer_shape(i, layer, &ins)?;
            let out = layer.output();
            check_zp(out).map_err(|e| err(i, e))?;
            if tensors.contains_key(&out.name) {
                return Err(err(i, format!("output tensor '{}' defined twice", out.name)));
            }
            tensors.insert(out.name.clone(), TensorInfo { shape, zero_point: out.zero_point });
        }
        if !tensors.contains_key(&self.output) {
            return Err(ProverError::Model(format!("output tensor '{}' is not defined", self.output)));
        }
        Ok(tensors)
    }

    fn validate(&self) -> Result<()> {
        if self.format != FORMAT || self.version != 1 {
            return Err(ProverError::Model(format!(
                "expected format '{FORMAT}' version 1, got '{}' version {}",
                self.format, self.version
            )));
        }
        if self.rescale_bits != RESCALE_BITS {
            return Err(ProverError::Model(format!(
                "rescale_bits must be {RESCALE_BITS} (one shared divisor), got {}",
                self.rescale_bits
            )));
        }
        if !(9..=20).contains(&self.lookup_bits) {
            return Err(ProverError::Model(format!("lookup_bits must be in 9..=20 (the table must hold every byte), got {}", self.lookup_bits)));
        }
        self.tensors().map(|_| ())
    }

    pub fn input_len(&self) -> usize {
        self.input.shape.iter().product()
    }
}

fn check_zp(t: &TensorSpec) -> std::result::Result<(), String> {
    if !(0..=255).contains(&t.zero_point) {
        return Err(format!("tensor '{}' zero point {} outside [0, 255]", t.name, t.zero_point));
    }
    Ok(())
}

const MAX_MULT: i64 = 1 << 24;

fn layer_shape(i: usize, layer: &Layer, ins: &[TensorInfo]) -> Result<[usize; 3]> {
    match layer {
        Layer::Conv2d { kernel, stride, padding, groups, out_channels, weights, bias, multiplier, .. } => {
            let [h, w, c] = ins[0].shape;
            let [kh, kw] = *kernel;
            if *stride == 0 || kh == 0 || kw == 0 {
                return Err(err(i, "kernel and stride must be positive"));
            }
            let cin = if *groups == 1 {
                c
            } else if *groups == c && *out_channels == c {
                1
            } else {
                return Err(err(i, format!("groups must be 1 or equal to input and output channels ({c})")));
            };
            let (hp, wp) = (h + padding[0] + padding[2], w + padding[1] + padding[3]);
            if hp < kh || wp < kw {
                return Err(err(i, "kernel larger than padded input"));
            }
            let shape_ok = weights.len() == *out_channels
                && weights.iter().all(|o| {
                    o.len() == kh && o.iter().all(|r| r.len() == kw && r.iter().all(|t| t.len() == cin))
                });
            if !shape_ok {
                return Err(err(i, format!("weights must have shape [{out_channels}][{kh}][{kw}][{cin}]")));
            }
            let flat: Vec<i64> = weights.iter().flatten().flatten().flatten().copied().collect();
            check_params(i, &flat, bias, multiplier, *out_channels)?;
            Ok([(hp - kh) / stride + 1, (wp - kw) / stride + 1, *out_channels])
        }
        Layer::FullyConnected { out_features, weights, bias, multiplier, .. } => {
            let n = ins[0].len();
            if weights.len() != *out_features || weights.iter().any(|r| r.len() != n) {
                return Err(err(i, format!("weights must have shape [{out_features}][{n}]")));
            }
            let flat: Vec<i64> = weights.iter().flatten().copied().collect();
            check_params(i, &flat, bias, multiplier, *out_features)?;
            Ok([1, 1, *out_features])
        }
        Layer::Add { multiplier, .. } => {
            if ins[0].shape != ins[1].shape {
                return Err(err(i, format!("add of shapes {:?} and {:?}", ins[0].shape, ins[1].shape)));
            }
            check_range("multiplier", multiplier, 0, MAX_MULT).map_err(|e| err(i, e))?;
            Ok(ins[0].shape)
        }
        Layer::GlobalAvgPool { multiplier, .. } => {
            check_range("multiplier", &[*multiplier], 0, MAX_MULT).map_err(|e| err(i, e))?;
            Ok([1, 1, ins[0].shape[2]])
        }
    }
}

fn check_params(i: usize, weights: &[i64], bias: &[i64], mult: &[i64], n: usize) -> Result<()> {
    if bias.len() != n || mult.len() != n {
        return Err(err(i, format!("bias and multiplier must have {n} entries")));
    }
    check_range("weights", weights, -128, 127).map_err(|e| err(i, e))?;
    check_range("bias", bias, i32::MIN as i64, i32::MAX as i64).map_err(|e| err(i, e))?;
    check_range("multiplier", mult, 0, MAX_MULT).map_err(|e| err(i, e))
}
