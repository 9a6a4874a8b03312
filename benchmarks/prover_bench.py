"""Prover benchmark: for the digits CNN in each visibility mode, print rows (2^k), columns, key
generation, proving and verifying time, peak memory, proof size and on-chain verifier gas.

Each measurement runs in a fresh child process so peak memory (max RSS) is that stage's own.
Usage: python benchmarks/prover_bench.py [--dot-width M ...] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import queue
import resource
import statistics
import time

MODES = [("hidden-input", "class"), ("hidden-weights", "class"), ("hidden-both", "class"), ("hidden-both", "logits")]


class StepFailed(Exception):
    """A benchmark step that failed or ran out of its memory budget; the message says how."""


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def _in_child(fn, *args, limit_mib: float | None = None):
    """Runs fn(*args) in a fresh process; returns (result, seconds, peak RSS in MiB).

    With `limit_mib`, the child is killed as soon as its resident memory passes the limit
    (sampled every 0.2 s) and StepFailed says so; any exception in the child is StepFailed too.
    """
    def target(q, *a):
        start = time.perf_counter()
        try:
            out = fn(*a)
        except Exception as e:  # reported by the parent
            q.put(e)
            return
        q.put((out, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    q: mp.Queue = mp.Queue()
    p = mp.get_context("fork").Process(target=target, args=(q, *args))
    started = time.perf_counter()
    p.start()
    peak = 0.0
    while True:
        try:
            result = q.get(timeout=0.2)
            break
        except queue.Empty:
            peak = max(peak, _rss_mib(p.pid))
            if limit_mib is not None and peak > limit_mib:
                p.kill()
                p.join()
                raise StepFailed(f"{fn.__name__.strip('_')} exceeded {limit_mib / 1024:.0f} GiB after "
                                 f"{time.perf_counter() - started:.0f} s") from None
            if not p.is_alive() and q.empty():
                raise StepFailed(f"{fn.__name__.strip('_')} died (exit code {p.exitcode})")
    p.join()
    if isinstance(result, Exception):
        raise StepFailed(f"{fn.__name__.strip('_')} failed: {result}")
    return result


def _setup(visibility, output, width):
    from zkmarket import prover as zp
    from zkmarket.model.data import DIGITS_MODEL

    circuit = zp.compile_model(DIGITS_MODEL, visibility, output, width)
    return _keygen(circuit.settings_json)


def _keygen(settings_json):
    """Proving and verifying keys for a compiled circuit, under the benchmark's key cache."""
    import zkmarket_prover as native
    from zkmarket.prover import stages
    from zkmarket.prover.artifacts import CompiledCircuit

    circuit = CompiledCircuit(settings_json)
    keys_dir = stages.cache_dir("bench-keys", circuit.id)
    srs = stages.dev_srs(circuit.k)
    native.setup(settings_json, str(srs.path), srs.sha256, str(keys_dir / "pk"), str(keys_dir / "vk"))
    return settings_json, str(keys_dir)


def _prove(settings_json, keys_dir, image):
    import zkmarket_prover as native
    from zkmarket.prover import stages
    from zkmarket.prover.artifacts import CompiledCircuit

    circuit = CompiledCircuit(settings_json)
    srs = stages.dev_srs(circuit.k)
    return json.loads(native.prove(settings_json, str(srs.path), srs.sha256, f"{keys_dir}/pk", image))


def _verify(settings_json, keys_dir, proof):
    import zkmarket_prover as native
    from zkmarket.prover import stages
    from zkmarket.prover.artifacts import CompiledCircuit

    circuit = CompiledCircuit(settings_json)
    srs = stages.dev_srs(circuit.k)
    return native.verify(settings_json, str(srs.path), srs.sha256, f"{keys_dir}/vk", proof["proof"], proof["instances"])


def _gas(settings_json, keys_dir, proof):
    from pathlib import Path

    from zkmarket import prover as zp
    from zkmarket.chain import EIP170_CODE_SIZE_LIMIT, Anvil, deploy_verifier, verify_onchain
    from zkmarket.chain.verifier import compile_verifier
    from zkmarket.prover.artifacts import CompiledCircuit, Keys, Proof

    circuit = CompiledCircuit(settings_json)
    keys = Keys(Path(keys_dir) / "pk", Path(keys_dir) / "vk", zp.dev_srs(circuit.k))
    p = Proof(proof["proof"], proof["instances"], proof["logits"], proof["class"], circuit.id)
    size = compile_verifier(zp.export_verifier(circuit, keys)).deployed_size
    if size > EIP170_CODE_SIZE_LIMIT:
        return size, None  # cannot be deployed: no gas figure
    with Anvil() as node:
        w3, key = node.w3(), node.accounts[0].private_key
        dep = deploy_verifier(w3, zp.export_verifier(circuit, keys), private_key=key)
        result = verify_onchain(w3, dep.address, zp.stages.calldata(p), private_key=key)
    return dep.code_size, result.gas_used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dot-width", type=int, nargs="*", default=[2])
    ap.add_argument("--repeat", type=int, default=3, help="proofs per mode (median reported)")
    args = ap.parse_args()
    try:
        _table(args)
    except StepFailed as e:
        raise SystemExit(f"benchmark step failed: {e}") from None


def _table(args) -> None:
    from zkmarket.model.data import load_digits_split
    from zkmarket.prover import stages
    from zkmarket.prover.artifacts import CompiledCircuit

    image = load_digits_split().test_inputs[0].reshape(-1).tolist()
    header = (f"{'mode':<22}{'m':>2}{'rows':>7}{'adv':>5}{'fix':>5}{'lookup':>7}{'keygen s':>9}{'prove s':>8}"
              f"{'verify ms':>10}{'peak MiB':>9}{'proof B':>8}{'code B':>7}{'gas':>9}")
    print(header, flush=True)
    for width in args.dot_width:
        for visibility, output in MODES:
            (settings_json, keys_dir), t_setup, _ = _in_child(_setup, visibility, output, width)
            s = stages.stats(CompiledCircuit(settings_json))
            runs = [_in_child(_prove, settings_json, keys_dir, image) for _ in range(args.repeat)]
            proof = runs[0][0]
            t_prove = statistics.median(r[1] for r in runs)
            peak = max(r[2] for r in runs)
            ok, t_verify, _ = _in_child(_verify, settings_json, keys_dir, proof)
            assert ok, "benchmark proof did not verify"
            (code, gas), _, _ = _in_child(_gas, settings_json, keys_dir, proof)
            print(f"{visibility + '/' + output:<22}{width:>2}{'2^' + str(s['k']):>7}{s['advice_columns']:>5}"
                  f"{s['fixed_columns']:>5}{s['lookup_tables']:>7}{t_setup:>9.1f}{t_prove:>8.2f}{t_verify * 1000:>10.1f}"
                  f"{peak:>9.0f}{len(proof['proof']) // 2 - 1:>8}{code:>7}{f'{gas:,}' if gas else 'too big':>9}", flush=True)


if __name__ == "__main__":
    main()
