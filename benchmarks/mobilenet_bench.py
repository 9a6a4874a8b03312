"""MobileNet v2 benchmark, the paper's Table 1 on this machine: per configuration and visibility
mode, parameters, multiply-accumulates, circuit size, key generation, proving and verifying
time, peak memory, proof size, verifier code size and gas.

Models are the exact architecture with seeded random weights (benchmark models), quantized by
the project's quantizer; the input is a seeded random image. Every stage runs in a fresh child
process whose resident memory is watched: a stage that passes the memory budget is killed and
reported with where it stopped, never skipped silently; the row's later stages are then not
run. Progress goes to stderr. Development SRS files are generated once per k and cached.

Usage: python benchmarks/mobilenet_bench.py [--config 0.35,96 ...] [--mode hidden-input ...]
       [--classes 1000] [--memory-gib 22] [--compile-only]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from prover_bench import StepFailed, _gas, _in_child, _keygen, _prove, _verify  # noqa: E402

PAPER_CONFIGS = ["0.35,96", "0.5,224", "0.75,192", "1.0,224"]


def _model(alpha: float, resolution: int, classes: int):
    """Writes the benchmark model once into the cache; returns its path and its costs."""
    from zkmarket.model import qmodel
    from zkmarket.model.mobilenet import costs, mobilenet_v2
    from zkmarket.prover import stages

    path = stages.cache_dir("bench-models") / f"mobilenet-v2-{alpha}-{resolution}-{classes}.json"
    c = costs(mobilenet_v2(alpha, resolution, classes))
    if not path.exists():
        from zkmarket.model.mobilenet import benchmark_model

        qmodel.save(benchmark_model(alpha, resolution, classes), path)
    return path, c


def _compile(path, visibility, output):
    from zkmarket import prover as zp
    from zkmarket.prover import stages

    circuit = zp.compile_model(path, visibility, output)
    return circuit.settings_json, stages.stats(circuit)


def _image(resolution: int) -> list[int]:
    import numpy as np

    return np.random.default_rng(0).integers(0, 256, resolution * resolution * 3).tolist()


def _progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", nargs="*", default=PAPER_CONFIGS, help="alpha,resolution pairs")
    ap.add_argument("--mode", nargs="*", default=["hidden-input", "hidden-both"])
    ap.add_argument("--output", default="class", choices=["class", "logits"])
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--memory-gib", type=float, default=20.0,
                    help="memory budget per stage (this machine has 23 GiB and no swap)")
    ap.add_argument("--compile-only", action="store_true", help="circuit sizes only (no keys or proofs)")
    args = ap.parse_args()
    limit = args.memory_gib * 1024

    print(f"{'config':<10}{'mode':<14}{'params':>10}{'MACs':>12}{'k':>4}{'rows used':>11}{'lanes A/B/hash':>24}"
          f"{'adv':>4}{'fix':>4}{'freiv':>6}{'compile s':>10}{'keygen s':>9}{'prove s':>8}{'verify ms':>10}"
          f"{'peak MiB':>9}{'proof B':>8}{'code B':>7}{'gas':>10}", flush=True)
    measured: dict[str, tuple] = {}  # mode -> (config, k, keygen s, prove s, peak MiB) of the largest proved
    projections: list[str] = []
    for config in args.config:
        alpha, resolution = float(config.split(",")[0]), int(config.split(",")[1])
        path, c = _model(alpha, resolution, args.classes)
        for mode in args.mode:
            row = f"{config:<10}{mode:<14}{c.parameters:>10,}{c.macs:>12,}"
            k = None
            try:
                _progress(f"{config} {mode}: compiling")
                (settings_json, s), t_compile, peak = _in_child(_compile, path, mode, args.output, limit_mib=limit)
                lanes = "/".join(f"{r / 1e6:.2f}M" for r in s["lane_rows"])
                row += (f"{s['k']:>4}{s['rows_used']:>11,}{lanes:>24}{s['advice_columns']:>4}{s['fixed_columns']:>4}"
                        f"{s['freivalds_layers']:>6}{t_compile:>10.1f}")
                k = s["k"]
                if args.compile_only:
                    print(f"{row}{'(compile only)':>20}  peak {peak:.0f} MiB", flush=True)
                    continue
                _progress(f"{config} {mode}: 2^{s['k']} rows; generating keys")
                (_, keys_dir), t_keygen, p = _in_child(_keygen, settings_json, limit_mib=limit)
                peak = max(peak, p)
                row += f"{t_keygen:>9.1f}"
                _progress(f"{config} {mode}: keys in {t_keygen:.0f} s; proving")
                proof, t_prove, p = _in_child(_prove, settings_json, keys_dir, _image(resolution), limit_mib=limit)
                _progress(f"{config} {mode}: proved in {t_prove:.0f} s; verifying natively and on anvil")
                peak = max(peak, p)
                ok, t_verify, _ = _in_child(_verify, settings_json, keys_dir, proof, limit_mib=limit)
                if not ok:
                    raise StepFailed("the proof did not verify")
                (code, gas), _, _ = _in_child(_gas, settings_json, keys_dir, proof, limit_mib=limit)
                print(f"{row}{t_prove:>8.1f}{t_verify * 1000:>10.1f}{peak:>9.0f}{len(proof['proof']) // 2 - 1:>8}"
                      f"{code:>7}{f'{gas:,}' if gas else 'too big':>10}", flush=True)
                if mode not in measured or measured[mode][1] <= k:
                    measured[mode] = (config, k, t_keygen, t_prove, peak)
            except StepFailed as e:
                print(f"{row}  FAILED: {e}", flush=True)
                if k is not None and mode in measured:
                    projections.append(_projection(config, mode, k, measured[mode]))
    for line in projections:
        print(line)


def _projection(config: str, mode: str, k: int, reference: tuple) -> str:
    """A PROJECTION, not a measurement: time and memory scaled from the largest configuration
    proved in this run by the row count (2^k; the circuits have the same columns and gates), a
    slight underestimate for time (FFTs grow as n log n)."""
    ref_config, ref_k, t_keygen, t_prove, peak = reference
    f = 2 ** (k - ref_k)
    return (f"projection for {config} {mode} at 2^{k} (scaled x{f} from {ref_config} at 2^{ref_k}, measured here): "
            f"keygen ~{t_keygen * f / 60:.0f} min, proving ~{t_prove * f / 60:.0f} min, peak ~{peak * f / 1024:.0f} GiB "
            f"on 2 cores; a machine with that memory and more cores divides the times by about its core count / 2")


if __name__ == "__main__":
    main()
