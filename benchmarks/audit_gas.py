"""Gas of a simple accuracy audit (paper 5.2) on anvil with the real verifier and real proofs.

Proves N distinct digits test images (hidden-both, class output), then runs the whole audit:
MP registers the model, MC opens the audit over the committed test set, MP joins, proceeds and
submits the proofs in batches, MC finalizes, everyone withdraws. Prints the gas per transaction
type for MP and for MC, and the totals.

Usage: python benchmarks/audit_gas.py [--n 100] [--batch 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ETH = "0x" + "00" * 20
E, Z, P, FEE = 10**15, 10**14, 10**13, 10**12


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="test set size N (distinct test images)")
    ap.add_argument("--batch", type=int, default=10, help="proofs per submitProofs transaction")
    ap.add_argument("--target", type=float, default=0.9, help="accuracy target (as targetNum/1000)")
    args = ap.parse_args()
    os.environ.setdefault("ZKMARKET_CACHE_DIR", str(ROOT / ".cache" / "zkmarket"))

    from web3.logs import DISCARD

    from zkmarket import prover as zp
    from zkmarket.chain import Anvil, compile_file, deploy, deploy_verifier, send_raw
    from zkmarket.model.data import DIGITS_MODEL, load_digits_split
    from zkmarket.protocol.merkle import b32, merkle

    split = load_digits_split()
    if not 0 < args.n <= len(split.test_inputs):
        raise SystemExit(f"--n must be in 1..{len(split.test_inputs)}")
    if args.batch < 1:
        raise SystemExit("--batch must be >= 1")
    images = [split.test_inputs[i] for i in range(args.n)]
    labels = [int(split.test_labels[i]) for i in range(args.n)]

    t0 = time.perf_counter()
    circuit = zp.compile_model(DIGITS_MODEL, "hidden-both", "class")
    keys = zp.setup(circuit)
    print(f"circuit and keys ready ({time.perf_counter() - t0:.1f} s)", flush=True)

    t0 = time.perf_counter()
    proofs = []
    for i, image in enumerate(images):
        proofs.append(zp.prove(circuit, keys, image))
        done = i + 1
        if done % 5 == 0 or done == args.n:
            elapsed = time.perf_counter() - t0
            print(f"\rproved {done}/{args.n}  {elapsed:.1f} s  ({elapsed / done:.2f} s/proof)",
                  end="", flush=True)
    prove_s = time.perf_counter() - t0
    print(flush=True)
    correct = sum(p.predicted_class == y for p, y in zip(proofs, labels))

    gas: dict[tuple[str, str], list[int]] = defaultdict(list)  # (party, tx type) -> gas per tx
    with Anvil() as node:
        w3 = node.w3()
        deployer, provider, consumer, fees = node.accounts[5:9]
        parties = {provider.address: "MP", consumer.address: "MC"}

        def send(contract, fn, fn_args, account, value=0, label=None, track=True):
            data = bytes.fromhex(contract.encode_abi(fn, args=fn_args)[2:])
            receipt = send_raw(w3, contract.address, data, private_key=account.private_key, value=value)
            if track and account.address in parties:
                gas[(parties[account.address], label or fn)].append(int(receipt["gasUsed"]))
            return receipt

        registry_c = compile_file(ROOT / "contracts/src/ModelRegistry.sol", "ModelRegistry")
        audit_c = compile_file(ROOT / "contracts/src/AccuracyAudit.sol", "AccuracyAudit")
        verifier = deploy_verifier(w3, zp.export_verifier(circuit, keys), private_key=deployer.private_key)
        reg = deploy(w3, registry_c, private_key=deployer.private_key,
                     args=([(ETH, (E, Z, P, FEE))], 2, fees.address, 86_400))
        aud = deploy(w3, audit_c, private_key=deployer.private_key,
                     args=(reg.address, (max(args.n, 1), 60, 3_600, 3_600, 3_600)))
        registry = w3.eth.contract(address=reg.address, abi=registry_c.abi, decode_tuples=True)
        audits = w3.eth.contract(address=aud.address, abi=audit_c.abi, decode_tuples=True)
        send(registry, "setProtocols", [[aud.address]], deployer)

        stake = registry.functions.requiredStake(ETH).call()
        receipt = send(registry, "registerModel",
                       [verifier.address, b32(zp.commit_weights(DIGITS_MODEL)), "ipfs://digits", ETH],
                       provider, value=stake, track=False)  # once per model, not per audit
        register_gas = int(receipt["gasUsed"])
        model_id = registry.events.ModelRegistered().process_receipt(receipt, errors=DISCARD)[0]["args"]["modelId"]

        commitments = [b32(p.instances[0]) for p in proofs]
        leaves = [audits.functions.testLeaf(i, c, y).call() for i, (c, y) in enumerate(zip(commitments, labels))]
        root, leaf_proofs = merkle(leaves)
        target = (round(args.target * 1000), 1000)
        escrow = audits.functions.escrowFor(args.n, E, FEE).call()
        receipt = send(audits, "openAudit", [model_id, args.n, *target, root], consumer, value=escrow)
        audit_id = audits.events.AuditOpened().process_receipt(receipt, errors=DISCARD)[0]["args"]["auditId"]
        send(audits, "join", [audit_id], provider, value=escrow)
        send(audits, "proceed", [audit_id], provider)
        for start in range(0, args.n, args.batch):
            batch = [(i, commitments[i], labels[i], int(proofs[i].instances[2], 16), leaf_proofs[i],
                      bytes.fromhex(proofs[i].proof.removeprefix("0x")))
                     for i in range(start, min(start + args.batch, args.n))]
            send(audits, "submitProofs", [audit_id, batch], provider)
        receipt = send(audits, "finalize", [audit_id], consumer)
        settled = audits.events.AuditSettled().process_receipt(receipt, errors=DISCARD)[0]["args"]
        for account in (consumer, provider):
            if audits.functions.creditOf(account.address, ETH).call():
                send(audits, "withdraw", [ETH], account)
        outcome = ["Aborted", "Passed", "Failed"][settled["outcome"]]

    print(f"\nsimple audit: N={args.n}, batch={args.batch}, {correct}/{args.n} correct, "
          f"target {target[0]}/{target[1]} -> {outcome}; proving {prove_s:.1f} s "
          f"({prove_s / args.n:.2f} s/proof)")
    print(f"{'party':<6}{'transaction':<16}{'txs':>5}{'gas total':>14}{'gas/tx':>12}")
    for party in ("MP", "MC"):
        total = 0
        for (who, fn), values in gas.items():
            if who != party:
                continue
            total += sum(values)
            print(f"{party:<6}{fn:<16}{len(values):>5}{sum(values):>14,}{sum(values) // len(values):>12,}")
        print(f"{party:<6}{'TOTAL':<16}{'':>5}{total:>14,}")
    everything = sum(sum(v) for v in gas.values())
    proof_gas = sum(gas[("MP", "submitProofs")])
    print(f"{'all':<6}{'TOTAL':<16}{'':>5}{everything:>14,}")
    print(f"(not in the totals: MP's one-time registerModel, {register_gas:,} gas)")
    print(f"submitProofs per proof: {proof_gas / args.n:,.0f} gas")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
