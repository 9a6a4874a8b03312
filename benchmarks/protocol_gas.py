"""Gas of a serving round (paper 5.3) and a retrieval request (5.4) on anvil with real proofs.

A round of K digits predictions with K1 contests answered by proofs, and a retrieval over D
documents with C1 challenges answered by proofs, each settled and withdrawn. Prints the gas per
transaction type for MP (provider / responder) and MC (consumer / requester).

Usage: python benchmarks/protocol_gas.py [--k 16] [--k1 2] [--documents 16] [--challenges 2]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ETH = "0x" + "00" * 20
BETA, SECONDS = 2, 3_600


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=16, help="predictions per round K")
    ap.add_argument("--k1", type=int, default=2, help="contested predictions K1")
    ap.add_argument("--documents", type=int, default=16, help="documents D in the dataset")
    ap.add_argument("--challenges", type=int, default=2, help="challenged results C1")
    args = ap.parse_args()
    if not (0 < args.k1 <= args.k and 0 < args.challenges <= args.documents):
        raise SystemExit("need 0 < --k1 <= --k and 0 < --challenges <= --documents")
    os.environ.setdefault("ZKMARKET_CACHE_DIR", str(ROOT / ".cache" / "zkmarket"))

    from zkmarket import prover as zp
    from zkmarket.chain import Anvil, deploy_verifier
    from zkmarket.chain.session import ContractSession
    from zkmarket.market import MarketParams, deploy_market
    from zkmarket.model.data import DIGITS_MODEL, load_digits_split
    from zkmarket.participants.connect import MarketConnection
    from zkmarket.participants.retrieval import Dataset, RetrievalRequester, RetrievalResponder
    from zkmarket.participants.serving_round import RoundInputs, ServingConsumer, ServingProvider
    from zkmarket.protocol.merkle import b32

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gas_table import print_gas_table

    split = load_digits_split()
    images = [bytes(x.reshape(-1).tolist()) for x in split.test_inputs[:max(args.k, args.documents)]]
    circuit = zp.compile_model(DIGITS_MODEL, "hidden-both", "class")
    keys = zp.setup(circuit)
    rng = random.Random(7)

    with Anvil() as node:
        w3 = node.w3()
        deployer, provider, consumer = node.accounts[5:8]
        deployment = deploy_market(w3, deployer, MarketParams(n1=2))
        c = deployment.contracts(w3)
        verifier = deploy_verifier(w3, zp.export_verifier(circuit, keys), private_key=deployer.private_key)
        session = ContractSession(w3)
        mp = MarketConnection(session, c["ModelRegistry"], c["GriefingResistantAudit"], c["DataTransferService"], provider)
        mc = MarketConnection(session, c["ModelRegistry"], c["GriefingResistantAudit"], c["DataTransferService"], consumer)
        receipt = mp.send(c["ModelRegistry"], "registerModel",
                          [verifier.address, b32(zp.commit_weights(DIGITS_MODEL)), "ipfs://digits", ETH],
                          value=c["ModelRegistry"].functions.requiredStake(ETH).call())
        model_id = mp.event(receipt, c["ModelRegistry"], "ModelRegistered")["modelId"]

        session.gas_used.clear()
        rounds = c["ServingRound"]
        inputs = RoundInputs.commit(images[:args.k])
        buyer, seller = ServingConsumer(mc, rounds, inputs), ServingProvider(mp, rounds, DIGITS_MODEL, circuit, keys)
        round_id = buyer.open(model_id, BETA, SECONDS)
        seller.join(round_id)
        buyer.commit_and_contest(round_id, seller.serve(round_id, inputs), args.k1, rng)
        seller.answer(round_id, inputs, seller.serve(round_id, inputs))
        session.warp(SECONDS + 1)
        buyer.settle(round_id)
        for m in (mc, mp):
            m.send(rounds, "withdraw", [ETH])
        print(f"serving round: K={args.k}, K1={args.k1} contests answered with real proofs")
        print_gas_table(session.gas_used, {provider.address: "MP", consumer.address: "MC"})

        session.gas_used.clear()
        retrieval = c["Retrieval"]
        dataset = Dataset.commit(images[:args.documents])
        responder = RetrievalResponder(mp, retrieval, DIGITS_MODEL, circuit, keys)
        requester = RetrievalRequester(mc, retrieval)
        dataset_id = responder.commit_dataset(dataset)
        request_id = requester.open(dataset_id, model_id, args.challenges, BETA, SECONDS)
        responder.join(request_id)
        results = responder.results(request_id, dataset)
        responder.commit_results(request_id, results)
        challenged = sorted(rng.sample(range(args.documents), args.challenges))
        mc.send(retrieval, "challenge", [request_id, challenged])
        responder.answer(request_id, dataset, results)
        session.warp(2 * SECONDS + 1)
        responder.settle(request_id)
        for m in (mc, mp):
            if retrieval.functions.creditOf(m.account.address, ETH).call():
                m.send(retrieval, "withdraw", [ETH])
        print(f"\nretrieval: D={args.documents}, C1={args.challenges} challenges answered with real proofs")
        print_gas_table(session.gas_used, {provider.address: "responder", consumer.address: "requester"})


if __name__ == "__main__":
    main()
