//! A tiny model that uses every operation, with deterministic pseudo-random weights.
use serde_json::json;

pub fn lcg(seed: &mut u64) -> i64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*seed >> 33) as i64
}

fn weights(seed: &mut u64, n: usize) -> Vec<i64> {
    (0..n).map(|_| lcg(seed) % 255 - 127).collect()
}

fn nest4(v: Vec<i64>, o: usize, kh: usize, kw: usize, c: usize) -> serde_json::Value {
    let mut it = v.into_iter();
    json!((0..o).map(|_| (0..kh).map(|_| (0..kw).map(|_| (0..c).map(|_| it.next().unwrap()).collect::<Vec<_>>()).collect::<Vec<_>>()).collect::<Vec<_>>()).collect::<Vec<_>>())
}

pub fn tiny_model() -> String {
    let mut s = 7u64;
    let t = |name: &str, zp: i64| json!({"name": name, "scale": 0.05, "zero_point": zp});
    json!({
        "format": "zkmarket-qmodel", "version": 1, "name": "tiny", "rescale_bits": 16, "lookup_bits": 12,
        "input": {"name": "input", "shape": [4, 4, 1], "scale": 0.0039, "zero_point": 3},
        "layers": [
            {"op": "conv2d", "input": "input", "kernel": [3, 3], "stride": 1, "padding": [1, 1, 1, 1], "groups": 1,
             "out_channels": 2, "weights": nest4(weights(&mut s, 18), 2, 3, 3, 1), "bias": [100, -250],
             "multiplier": [300, 420], "output": t("c1", 0), "activation": "relu"},
            {"op": "conv2d", "input": "c1", "kernel": [3, 3], "stride": 2, "padding": [1, 1, 1, 1], "groups": 2,
             "out_channels": 2, "weights": nest4(weights(&mut s, 18), 2, 3, 3, 1), "bias": [7, -9],
             "multiplier": [500, 610], "output": t("dw", 0), "activation": "relu6"},
            {"op": "conv2d", "input": "dw", "kernel": [1, 1], "stride": 1, "padding": [0, 0, 0, 0], "groups": 1,
             "out_channels": 2, "weights": nest4(weights(&mut s, 4), 2, 1, 1, 2), "bias": [0, 33],
             "multiplier": [700, 800], "output": t("pw", 128), "activation": "none"},
            {"op": "add", "inputs": ["pw", "dw"], "multiplier": [40000, 30000], "output": t("sum", 120)},
            {"op": "global_avg_pool", "input": "sum", "multiplier": 16384, "output": t("gap", 110)},
            {"op": "fully_connected", "input": "gap", "out_features": 3, "weights": [[5, -7], [100, 3], [-40, 60]],
             "bias": [10, -20, 30], "multiplier": [9000, 9100, 9200], "output": t("logits", 128), "activation": "none"}
        ],
        "output": "logits"
    })
    .to_string()
}

pub fn tiny_input(seed: u64) -> Vec<i64> {
    let mut s = seed;
    (0..16).map(|_| lcg(&mut s) % 256).collect()
}
