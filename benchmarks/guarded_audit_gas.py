"""Gas of an appendix-B accuracy audit (GriefingResistantAudit) on anvil with real proofs.

Runs the whole audit with zkmarket.participants: MC opens over N committed digits test images,
MP joins (the N1 subset from its seed), both data transfers (commit, acknowledge, reveal,
accept), MP proceeds, proves the N2 examples and submits them in batches, MC finalizes, both
withdraw. Prints the gas per transaction type for MP and MC and the totals.

With --aggregate B, MP registers an aggregation verifier of B proofs (levels: --levels or the
default tree) and submits the N2 examples as aggregated proofs, B at a time. Aggregating 90
distinct examples takes hours on 2 cores; --same-image makes every test item the same image, so
one inner proof stands for each example and the aggregation tree's nodes repeat (one node per
level is proved; the proof's instances carry no index: the chain binds each index through the
test-set Merkle leaf it checks). Every batch is still verified by the aggregation verifier.

Usage: python benchmarks/guarded_audit_gas.py [--n 100] [--n1 10] [--batch 10]
                                              [--aggregate 16 [--levels 4:22,4:22,1:22] --same-image]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ETH = "0x" + "00" * 20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="test set size N")
    ap.add_argument("--n1", type=int, default=10, help="subset size N1 (marketplace-wide)")
    ap.add_argument("--batch", type=int, default=10, help="proofs per submitProofs transaction")
    ap.add_argument("--aggregate", type=int, default=None, metavar="B", help="submit aggregated proofs of B examples")
    ap.add_argument("--levels", default=None, help="the aggregation tree, BATCH:K per level [default: per B]")
    ap.add_argument("--same-image", action="store_true", help="every test item is the first test image")
    args = ap.parse_args()
    if not 0 < args.n1 < args.n:
        raise SystemExit("need 0 < --n1 < --n")
    os.environ.setdefault("ZKMARKET_CACHE_DIR", str(ROOT / ".cache" / "zkmarket"))

    from zkmarket import prover as zp
    from zkmarket.chain import Anvil, deploy_verifier
    from zkmarket.chain.session import ContractSession
    from zkmarket.market import MarketParams, deploy_market
    from zkmarket.model.data import DIGITS_MODEL, load_digits_split
    from zkmarket.participants.connect import MarketConnection
    from zkmarket.participants.guarded_audit import GuardedAuditConsumer, GuardedAuditProvider
    from zkmarket.protocol import commit_test_set
    from zkmarket.protocol.merkle import b32

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gas_table import print_gas_table

    split = load_digits_split()
    if args.n > len(split.test_inputs):
        raise SystemExit(f"--n must be at most {len(split.test_inputs)}")
    which = [0] * args.n if args.same_image else list(range(args.n))
    test_set = commit_test_set([bytes(split.test_inputs[i].reshape(-1).tolist()) for i in which],
                               [int(split.test_labels[i]) for i in which])
    circuit = zp.compile_model(DIGITS_MODEL, "hidden-both", "class")
    keys = zp.setup(circuit)
    aggregation = None
    if args.aggregate:
        from zkmarket.participants.audit_common import Aggregation
        from zkmarket.prover.aggregation import parse_levels
        from zkmarket.prover.stages import cache_dir

        levels = parse_levels(args.levels) if args.levels else None
        agg = zp.setup_aggregation(circuit, keys, args.aggregate, levels=levels, progress=print)
        aggregation = Aggregation(circuit, keys, agg, work_dir=cache_dir("aggregation-work"))

    with Anvil() as node:
        w3 = node.w3()
        deployer, provider, consumer = node.accounts[5:8]
        deployment = deploy_market(w3, deployer, MarketParams(n1=args.n1))
        c = deployment.contracts(w3)
        verifier = deploy_verifier(w3, zp.export_verifier(circuit, keys), private_key=deployer.private_key)
        session = ContractSession(w3)

        def market(account):
            return MarketConnection(session, c["ModelRegistry"], c["GriefingResistantAudit"], c["DataTransferService"],
                                 account)

        mc = GuardedAuditConsumer(market(consumer), test_set)
        mp = GuardedAuditProvider(market(provider), DIGITS_MODEL, circuit, keys)
        stake = c["ModelRegistry"].functions.requiredStake(ETH).call()
        receipt = mp.m.send(c["ModelRegistry"], "registerModel",
                            [verifier.address, b32(zp.commit_weights(DIGITS_MODEL)), "ipfs://digits", ETH], value=stake)
        model_id = mp.m.event(receipt, c["ModelRegistry"], "ModelRegistered")["modelId"]
        if aggregation:
            agg_verifier = deploy_verifier(w3, zp.export_aggregation_verifier(aggregation.agg),
                                           private_key=deployer.private_key)
            mp.m.send(c["ModelRegistry"], "registerAggregationVerifier",
                      [model_id, agg_verifier.address, aggregation.agg.batch])
            # Only audits opened after the registration's block take aggregated proofs; anvil
            # may mine the next block in the same second.
            w3.provider.make_request("evm_increaseTime", [1])
        session.gas_used.clear()  # registration is once per model, not per audit

        target = (9, 10)
        audit_id = mc.open(model_id, *target)
        mp.join(audit_id)
        deliveries = {}
        for rest in (False, True):
            batch, delivery = mc.send_items(audit_id, rest)
            mp.acknowledge(audit_id, delivery, rest)
            mc.reveal(delivery.transfer_id, batch)
            items = mp.accept_or_contest(delivery)
            deliveries[rest] = (items, delivery)
            if not rest and not mp.decide(audit_id, items, delivery.labels):
                raise SystemExit("MP aborted at stage 4 (subset below the target)")
        items, delivery = deliveries[True]
        t0 = time.perf_counter()

        def progress(i, _proof):
            done = len(progress.seen) + 1
            progress.seen.add(i)
            print(f"\rproved {done}/{len(items)}  {time.perf_counter() - t0:.1f} s", end="", flush=True)

        progress.seen = set()
        if args.same_image:  # one proof of the one image stands for every example
            first = min(items)
            one = mp.prove({first: items[first]}, on_proof=progress, for_aggregation=bool(aggregation))[first]
            proofs = {i: one for i in items}
        else:
            proofs = mp.prove(items, on_proof=progress, for_aggregation=bool(aggregation))
        prove_s = time.perf_counter() - t0
        print()
        mp.submit(audit_id, proofs, delivery, args.batch, aggregation)
        settled = mc.finalize(audit_id)
        for party in (mc, mp):
            if c["GriefingResistantAudit"].functions.creditOf(party.m.account.address, ETH).call():
                party.m.send(c["GriefingResistantAudit"], "withdraw", [ETH])
        a = c["GriefingResistantAudit"].functions.audit(audit_id).call()

    outcome = ["Aborted", "Passed", "Failed", "ConsumerDefaulted"][settled["outcome"]]
    print(f"\nappendix-B audit: N={args.n}, N1={args.n1}, batch={args.batch}, {a.correct}/{args.n - args.n1} correct, "
          f"target {target[0]}/{target[1]} -> {outcome}; proving {prove_s:.1f} s ({prove_s / len(progress.seen):.2f} s/proof)"
          + (f"; aggregated B={aggregation.agg.batch}, levels {aggregation.agg.shape}" if aggregation else "")
          + (" (every item the same image)" if args.same_image else ""))
    print_gas_table(session.gas_used, {provider.address: "MP", consumer.address: "MC"})

if __name__ == "__main__":
    main()
