"""Ray proving benchmark (output = class): proofs per minute of the agent's executors on this
machine: the local pool (1 and 2 threads, the prover's own thread pool over all cores) and a real
Ray cluster started here with 1 and 2 one-CPU worker nodes (one prover thread per task), Ray's
per-task overhead (wall time beyond the tasks' own proving, tasks one after another on one node),
a direct one-thread proof and the peak memory of its process. The model is the digits CNN or a
MobileNet v2 benchmark model (seeded random weights and images, as in mobilenet_bench.py).
Prints JSON lines; the README's figures come from it.

Usage: python benchmarks/ray_bench.py [--proofs N] [--model digits | mobilenet:ALPHA,RES,CLASSES]
       [--mode hidden-both | hidden-input | public] [--no-local]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))  # the tests' local cluster (ray start processes)

DIRECT = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from ray_bench import workload
from zkmarket import prover as zp
circuit, items = workload(sys.argv[2], sys.argv[3], int(sys.argv[4]))
keys = zp.setup(circuit)
zp.prove(circuit, keys, list(items[0]))  # warm: keys read, thread pool started
start = time.perf_counter()
for i in sorted(items):
    zp.prove(circuit, keys, list(items[i]))
print(json.dumps({"seconds": (time.perf_counter() - start) / len(items),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def workload(model: str, mode: str, n: int):
    """The compiled circuit and `n` inputs (bytes by index) of `model`: ``digits`` (its test
    images) or ``mobilenet:ALPHA,RES,CLASSES`` (seeded random images)."""
    import numpy as np

    from zkmarket import prover as zp

    if model == "digits":
        from zkmarket.model.data import DIGITS_MODEL, load_digits_split

        split = load_digits_split()
        items = {i: bytes(split.test_inputs[i].reshape(-1).tolist()) for i in range(n)}
        return zp.compile_model(DIGITS_MODEL, mode, "class"), items
    if not model.startswith("mobilenet:"):
        raise SystemExit(f"--model: digits or mobilenet:ALPHA,RES,CLASSES, not {model!r}")
    from mobilenet_bench import _model

    alpha, resolution, classes = model.removeprefix("mobilenet:").split(",")
    path, _ = _model(float(alpha), int(resolution), int(classes))
    rng = np.random.default_rng(0)
    items = {i: rng.integers(0, 256, int(resolution) ** 2 * 3, dtype=np.uint8).tobytes() for i in range(n)}
    return zp.compile_model(path, mode, "class"), items


def direct_proof(model: str, mode: str, n: int) -> dict:
    """Seconds per proof and peak RSS of a fresh process proving with one prover thread."""
    out = subprocess.run([sys.executable, "-c", DIRECT, str(Path(__file__).parent), model, mode, str(n)],
                         env=dict(os.environ, RAYON_NUM_THREADS="1"), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def throughput(prover, circuit, keys, items) -> float:
    """Proofs per minute of `prover` over `items` (after one warm-up proof per worker)."""
    start = time.perf_counter()
    results = list(prover.prove(circuit, keys, items))
    elapsed = time.perf_counter() - start
    failed = [r for _, r in results if isinstance(r, Exception)]
    if failed:
        raise SystemExit(f"benchmark proof failed: {failed[0]}")
    return len(results) * 60 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proofs", type=int, default=4, help="proofs per configuration")
    parser.add_argument("--model", default="digits", help="digits or mobilenet:ALPHA,RES,CLASSES")
    parser.add_argument("--mode", default="hidden-both", choices=["hidden-both", "hidden-input", "public"])
    parser.add_argument("--no-local", action="store_true", help="only the Ray figures (and the direct proof)")
    parser.add_argument("--object-store-mb", type=int, default=100, help="Ray object store per node (MB)")
    args = parser.parse_args()

    from ray_cluster import RayCluster

    from zkmarket import prover as zp
    from zkmarket.agent.executors import LocalProver, RayProver
    from zkmarket.agent.logs import get_logger

    print(json.dumps({"what": "workload", "model": args.model, "mode": args.mode, "proofs": args.proofs}), flush=True)
    circuit, items = workload(args.model, args.mode, args.proofs)
    start = time.perf_counter()
    keys = zp.setup(circuit)
    print(json.dumps({"what": "keys", "seconds": round(time.perf_counter() - start, 1),
                      "pk_mib": round(keys.pk_path.stat().st_size / 2**20)}), flush=True)
    warm = {i: items[i] for i in range(min(2, len(items)))}
    cores = os.cpu_count()

    direct = direct_proof(args.model, args.mode, min(args.proofs, 2))
    print(json.dumps({"what": "direct proof, 1 prover thread", "seconds": round(direct["seconds"], 2),
                      "per_minute": round(60 / direct["seconds"], 2), "peak_mib": round(direct["peak_mib"])}),
          flush=True)
    for workers in () if args.no_local else (1, 2):
        local = LocalProver(workers)
        throughput(local, circuit, keys, warm)
        rate = throughput(local, circuit, keys, items)
        print(json.dumps({"what": f"local pool, {workers} thread(s), {cores} cores", "per_minute": round(rate, 2)}),
              flush=True)

    cluster = RayCluster(Path(os.environ.get("ZKMARKET_CACHE_DIR", ROOT / ".cache" / "zkmarket")),
                         object_store_bytes=args.object_store_mb * 10**6)
    os.environ.update(cluster.auth)
    prover = None
    try:
        cluster.start(workers=0)
        prover = RayProver(cluster.address, LocalProver(1), get_logger())
        rates = {}
        for nodes in (1, 2):
            if nodes == 2:
                cluster.start_worker()
            throughput(prover, circuit, keys, {i: items[i] for i in range(nodes)})  # keys to each worker
            prover.made.clear()
            rates[nodes] = throughput(prover, circuit, keys, items)
            print(json.dumps({"what": f"ray, {nodes} one-CPU node(s)", "per_minute": round(rates[nodes], 2),
                              "task_proving_s": round(sum(m.seconds for m in prover.made) / len(prover.made), 2)}),
                  flush=True)
            if nodes == 1:  # tasks one after another: wall time beyond the tasks' own proving is Ray's
                proving = sum(m.seconds for m in prover.made)
                overhead = (len(items) * 60 / rates[1] - proving) / proving
        print(json.dumps({"what": "ray scaling 2 vs 1 nodes", "speedup": round(rates[2] / rates[1], 2),
                          "of_linear": round(rates[2] / rates[1] / 2, 3)}))
        print(json.dumps({"what": "ray overhead per task (wall beyond proving, 1 node)",
                          "fraction": round(overhead, 4)}))
    finally:
        if prover:
            prover.close()
        cluster.stop()


if __name__ == "__main__":
    main()
