"""Aggregation benchmark (digits CNN, hidden-both, class): per batch size B, the aggregation
tree's levels and their columns, key generation, aggregation proving time and peak memory (each
in a fresh child process whose resident memory is watched against a budget; per level times on
the lines below the row), native verification, and on anvil the aggregation verifier's code size,
the gas of one verifier call and the gas of a real AccuracyAudit `submitAggregatedProofs`
transaction of B examples (per example: that over B). Inner proofs are made once per B (seconds
each) and not timed. Keys already in the cache are reused (their level shows "cached"). Every
native call runs in a child process: the prover's thread pool does not survive a fork.

Usage: python benchmarks/aggregation_bench.py [--batch 1 2 4 16] [--levels 4:22,4:22,1:22] [--memory-gib 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from prover_bench import StepFailed, _in_child  # noqa: E402

ETH = "0x" + "00" * 20


def _circuit():
    from zkmarket import prover as zp
    from zkmarket.model.data import DIGITS_MODEL

    circuit = zp.compile_model(DIGITS_MODEL, "hidden-both", "class")
    return circuit, zp.setup(circuit)


def _timed_steps() -> tuple[list[tuple[str, float]], object]:
    """A progress callback that records each step's message and when the step ended."""
    steps: list[tuple[str, float]] = []
    start = [time.monotonic()]

    def progress(message: str) -> None:
        now = time.monotonic()
        if steps:
            steps[-1] = (steps[-1][0], now - start[0])
        steps.append((message, 0.0))
        start[0] = now

    def close() -> None:
        if steps:
            steps[-1] = (steps[-1][0], time.monotonic() - start[0])
    progress.close = close
    return steps, progress


def _keys(batch: int, levels):
    from zkmarket import prover as zp

    circuit, keys = _circuit()
    return circuit, keys, zp.setup_aggregation(circuit, keys, batch, levels=levels)


def _agg_setup(batch: int, levels):
    from zkmarket import prover as zp

    circuit, keys = _circuit()
    steps, progress = _timed_steps()
    agg = zp.setup_aggregation(circuit, keys, batch, levels=levels, progress=progress)
    progress.close()
    return [level.settings for level in agg.levels], steps


def _aggregate(batch: int, levels, inner: list[dict]):
    from zkmarket import prover as zp

    circuit, keys, agg = _keys(batch, levels)
    steps, progress = _timed_steps()
    out = zp.aggregate(circuit, keys, agg, [zp.Proof(**p) for p in inner], progress=progress)
    progress.close()
    return out.to_json(), steps


def _inner(batch: int) -> list[dict]:
    from zkmarket import prover as zp
    from zkmarket.model.data import load_digits_split

    circuit, keys = _circuit()
    split = load_digits_split()
    return [json.loads(zp.prove_for_aggregation(circuit, keys, split.test_inputs[i].reshape(-1).tolist()).to_json())
            for i in range(batch)]


def _verify(batch: int, levels, aggregated: str) -> bool:
    from zkmarket import prover as zp

    _, _, agg = _keys(batch, levels)
    return zp.verify_aggregated(agg, zp.AggregatedProof(**json.loads(aggregated)))


def _on_chain(batch: int, levels, inner: list[dict], aggregated: str) -> dict:
    """Deploys the market and both verifiers on anvil, registers the model with its aggregation
    verifier, runs a simple audit of the B examples and submits them in one aggregated batch."""
    from zkmarket import prover as zp
    from zkmarket.chain import Anvil, deploy_verifier, verify_onchain
    from zkmarket.chain.session import ContractSession
    from zkmarket.market import MarketParams, deploy_market
    from zkmarket.model.data import DIGITS_MODEL, load_digits_split
    from zkmarket.participants.audit_common import proof_batches
    from zkmarket.participants.connect import MarketConnection
    from zkmarket.protocol import commit_test_set
    from zkmarket.protocol.merkle import b32
    from zkmarket.protocol.rules import Prices, audit_escrow

    circuit, keys, agg = _keys(batch, levels)
    proof = zp.AggregatedProof(**json.loads(aggregated))
    split = load_digits_split()
    test_set = commit_test_set([bytes(split.test_inputs[i].reshape(-1).tolist()) for i in range(batch)],
                               [int(split.test_labels[i]) for i in range(batch)])
    with Anvil() as node:
        w3 = node.w3()
        deployer, provider, consumer = node.accounts[5:8]
        c = deploy_market(w3, deployer, MarketParams()).contracts(w3)
        verifier = deploy_verifier(w3, zp.export_verifier(circuit, keys), private_key=deployer.private_key)
        agg_verifier = deploy_verifier(w3, zp.export_aggregation_verifier(agg), private_key=deployer.private_key)
        call = verify_onchain(w3, agg_verifier.address, zp.aggregation.aggregated_calldata(proof),
                              private_key=deployer.private_key)
        session = ContractSession(w3)
        mp, mc = (MarketConnection(session, c["ModelRegistry"], c["AccuracyAudit"], c["DataTransferService"], a)
                  for a in (provider, consumer))
        audits = c["AccuracyAudit"]
        stake = c["ModelRegistry"].functions.requiredStake(ETH).call()
        receipt = mp.send(c["ModelRegistry"], "registerModel",
                          [verifier.address, b32(zp.commit_weights(DIGITS_MODEL)), "ipfs://digits", ETH], value=stake)
        model_id = mp.event(receipt, c["ModelRegistry"], "ModelRegistered")["modelId"]
        mp.send(c["ModelRegistry"], "registerAggregationVerifier", [model_id, agg_verifier.address, batch])
        # Only audits opened after the registration's block take aggregated proofs; anvil may
        # mine the next block in the same second.
        w3.provider.make_request("evm_increaseTime", [1])
        escrow = audit_escrow(batch, Prices(*c["ModelRegistry"].functions.prices(ETH).call()))
        receipt = mc.send(audits, "openAudit", [model_id, batch, 1, 10, test_set.root], value=escrow)
        audit_id = mc.event(receipt, audits, "AuditOpened")["auditId"]
        mp.send(audits, "join", [audit_id], value=escrow)
        mp.send(audits, "proceed", [audit_id])
        proofs = {i: zp.Proof(**p) for i, p in enumerate(inner)}
        (entries,) = proof_batches(test_set.commitments, test_set.labels, proofs, list(range(batch)), batch)
        examples = [entry[:5] for entry in entries]
        before = dict(session.gas_used)
        receipt = mp.send(audits, "submitAggregatedProofs",
                          [audit_id, examples, (proof.accumulator, bytes.fromhex(proof.proof[2:]))])
        submit_gas = receipt["gasUsed"]
        assert session.gas_used != before
    return {"code_bytes": agg_verifier.code_size, "verifier_call_gas": call.gas_used, "submit_gas": submit_gas}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="*", default=[1, 2, 4, 16])
    ap.add_argument("--levels", default=None, help="BATCH:K per level, first first (one --batch only) "
                                                   "[default: zkmarket.prover.aggregation.default_levels]")
    ap.add_argument("--memory-gib", type=float, default=20.0, help="memory budget per stage")
    args = ap.parse_args()
    os.environ.setdefault("ZKMARKET_CACHE_DIR", str(ROOT / ".cache" / "zkmarket"))
    limit = args.memory_gib * 1024

    from zkmarket.prover.aggregation import default_levels, parse_levels

    if args.levels and len(args.batch) != 1:
        ap.error("--levels goes with one --batch")
    print(f"{'B':>3} {'levels':<18}{'advice':>9}{'keygen s':>10}{'keygen MiB':>11}{'aggregate s':>12}"
          f"{'aggregate MiB':>14}{'verify':>7}{'code B':>8}{'verifier gas':>13}{'submit gas':>11}{'gas/example':>12}",
          flush=True)
    for batch in args.batch:
        levels = parse_levels(args.levels) if args.levels else default_levels(batch)
        row = f"{batch:>3} {','.join(f'{b}:{k}' for b, k in levels):<18}"
        detail = []
        try:
            (settings, steps), t_setup, p_setup = _in_child(_agg_setup, batch, levels, limit_mib=limit)
            detail += [f"    keys: {m}: {t:.1f} s" for m, t in steps]
            advice = "/".join(str(s["params"]["num_advice"]) for s in settings)
            keygen = f"{t_setup:>10.1f}{p_setup:>11.0f}" if steps else f"{'cached':>10}{'':>11}"
            row += f"{advice:>9}{keygen}"
            inner, _, _ = _in_child(_inner, batch, limit_mib=limit)
            (aggregated, steps), t_agg, p_agg = _in_child(_aggregate, batch, levels, inner, limit_mib=limit)
            detail += [f"    {m}: {t:.1f} s" for m, t in steps]
            if not _in_child(_verify, batch, levels, aggregated, limit_mib=limit)[0]:
                raise StepFailed("the aggregated proof did not verify")
            chain, _, _ = _in_child(_on_chain, batch, levels, inner, aggregated, limit_mib=limit)
            print(f"{row}{t_agg:>12.1f}{p_agg:>14.0f}{'ok':>7}{chain['code_bytes']:>8}{chain['verifier_call_gas']:>13,}"
                  f"{chain['submit_gas']:>11,}{chain['submit_gas'] // batch:>12,}", flush=True)
        except StepFailed as e:
            print(f"{row}  FAILED: {e}", flush=True)
        print("\n".join(detail), flush=True)


if __name__ == "__main__":
    main()
