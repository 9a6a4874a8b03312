"""Ray proving benchmark (digits CNN, hidden-both, class): proofs per minute of the agent's
executors on this machine: the local pool (1 and 2 threads, the prover's own thread pool over
all cores) and a real Ray cluster started here with 1 and 2 one-CPU worker nodes (one prover
thread per task), Ray's per-task overhead (wall time beyond the tasks' own proving, tasks one
after another on one node), a direct one-thread proof and the peak memory of its process.
Prints JSON lines; the README's figures come from it.

Usage: python benchmarks/ray_bench.py [--proofs N]
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
from zkmarket import prover as zp
from zkmarket.model.data import DIGITS_MODEL, load_digits_split
split, n = load_digits_split(), int(sys.argv[1])
circuit = zp.compile_model(DIGITS_MODEL, "hidden-both", "class")
keys = zp.setup(circuit)
zp.prove(circuit, keys, split.test_inputs[0])  # warm: keys read, thread pool started
start = time.perf_counter()
for i in range(n):
    zp.prove(circuit, keys, split.test_inputs[i])
print(json.dumps({"seconds": (time.perf_counter() - start) / n,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def direct_proof(n: int) -> dict:
    """Seconds per proof and peak RSS of a fresh process proving with one prover thread."""
    out = subprocess.run([sys.executable, "-c", DIRECT, str(n)], env=dict(os.environ, RAYON_NUM_THREADS="1"),
                         capture_output=True, text=True, check=True)
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
    args = parser.parse_args()

    from ray_cluster import RayCluster

    from zkmarket import prover as zp
    from zkmarket.agent.executors import LocalProver, RayProver
    from zkmarket.agent.logs import get_logger
    from zkmarket.model.data import DIGITS_MODEL, load_digits_split

    split = load_digits_split()
    circuit = zp.compile_model(DIGITS_MODEL, "hidden-both", "class")
    keys = zp.setup(circuit)
    items = {i: bytes(split.test_inputs[i].reshape(-1).tolist()) for i in range(args.proofs)}
    warm = {i: items[i] for i in range(2)}
    cores = os.cpu_count()

    direct = direct_proof(args.proofs)
    print(json.dumps({"what": "direct proof, 1 prover thread", "seconds": round(direct["seconds"], 2),
                      "per_minute": round(60 / direct["seconds"], 2), "peak_mib": round(direct["peak_mib"])}))
    for workers in (1, 2):
        local = LocalProver(workers)
        throughput(local, circuit, keys, warm)
        rate = throughput(local, circuit, keys, items)
        print(json.dumps({"what": f"local pool, {workers} thread(s), {cores} cores", "per_minute": round(rate, 2)}))

    cluster = RayCluster(Path(os.environ.get("ZKMARKET_CACHE_DIR", ROOT / ".cache" / "zkmarket")))
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
                              "task_proving_s": round(sum(m.seconds for m in prover.made) / len(prover.made), 2)}))
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
