"""Gas of an appendix-B accuracy audit (GriefingResistantAudit) on anvil with real proofs.

Runs the whole audit with zkmarket.participants: MC opens over N committed digits test images,
MP joins (the N1 subset from its seed), both data transfers (commit, acknowledge, reveal,
accept), MP proceeds, proves the N2 examples and submits them in batches, MC finalizes, both
withdraw. Prints the gas per transaction type for MP and MC and the totals.

Usage: python benchmarks/guarded_audit_gas.py [--n 100] [--n1 10] [--batch 10]
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
    test_set = commit_test_set([bytes(split.test_inputs[i].reshape(-1).tolist()) for i in range(args.n)],
                               [int(split.test_labels[i]) for i in range(args.n)])
    circuit = zp.compile_model(DIGITS_MODEL, "hidden-both", "class")
    keys = zp.setup(circuit)

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
        proofs = mp.prove(items, on_proof=progress)
        prove_s = time.perf_counter() - t0
        print()
        mp.submit(audit_id, proofs, delivery, args.batch)
        settled = mc.finalize(audit_id)
        for party in (mc, mp):
            if c["GriefingResistantAudit"].functions.creditOf(party.m.account.address, ETH).call():
                party.m.send(c["GriefingResistantAudit"], "withdraw", [ETH])
        a = c["GriefingResistantAudit"].functions.audit(audit_id).call()

    outcome = ["Aborted", "Passed", "Failed", "ConsumerDefaulted"][settled["outcome"]]
    print(f"\nappendix-B audit: N={args.n}, N1={args.n1}, batch={args.batch}, {a.correct}/{args.n - args.n1} correct, "
          f"target {target[0]}/{target[1]} -> {outcome}; proving {prove_s:.1f} s ({prove_s / len(items):.2f} s/proof)")
    print_gas_table(session.gas_used, {provider.address: "MP", consumer.address: "MC"})

if __name__ == "__main__":
    main()
