"""A serving round (paper 5.3, ServingRound) for each party: MC commits its inputs and escrows
2KZ; MP joins (beta*K*Z), serves the predictions and signs their root (EIP-712); MC posts the
root and contests a subset; MP answers each contest with a proof; anyone settles."""

from __future__ import annotations

import random
from dataclasses import dataclass

from eth_account import Account

from .. import prover as zp
from ..chain.merkle import leaf, merkle
from .guarded_audit import GuardedMarket


@dataclass(frozen=True)
class RoundInputs:
    """MC's K inputs (raw bytes) with their Poseidon commitments and the inputs tree."""

    items: list[bytes]
    commitments: list[bytes]
    root: bytes
    proofs: list[list[bytes]]

    @classmethod
    def commit(cls, items: list[bytes]) -> "RoundInputs":
        commitments = [int(zp.commit_input(list(x)), 16).to_bytes(32, "big") for x in items]
        root, proofs = merkle([leaf(["uint256", "bytes32"], [i, c]) for i, c in enumerate(commitments)])
        return cls(list(items), commitments, root, proofs)


@dataclass(frozen=True)
class ServedPredictions:
    """MP's classes for the round's inputs, their tree and MP's signature over both roots."""

    classes: list[int]
    root: bytes
    proofs: list[list[bytes]]
    signature: bytes


class ServingConsumer:
    def __init__(self, market: GuardedMarket, rounds, inputs: RoundInputs):
        self.m, self.rounds, self.inputs = market, rounds, inputs

    def open(self, model_id: int, beta: int, duration: int) -> int:
        token = self.m.registry.functions.jobTerms(model_id).call()[1]
        z = self.m.registry.functions.prices(token).call()[1]
        k = len(self.inputs.items)
        receipt = self.m.send(self.rounds, "openRound", [model_id, k, beta, duration, self.inputs.root],
                              value=2 * k * z)
        return self.m.event(receipt, self.rounds, "RoundOpened")["roundId"]

    def commit_and_contest(self, round_id: int, served: ServedPredictions, count: int, rng: random.Random) -> list[int]:
        """Posts MP's signed root and contests `count` random predictions (the spot check)."""
        self.m.send(self.rounds, "commitPredictions", [round_id, served.root, served.signature])
        contested = sorted(rng.sample(range(len(self.inputs.items)), count))
        self.m.send(self.rounds, "contest", [round_id, contested])
        return contested

    def settle(self, round_id: int) -> dict:
        receipt = self.m.send(self.rounds, "settle", [round_id])
        (event,) = self.m.session.events(receipt, self.rounds, "RoundSettled")
        return {k: int(v) for k, v in event["args"].items()}


class ServingProvider:
    def __init__(self, market: GuardedMarket, rounds, model, circuit: zp.CompiledCircuit, keys: zp.Keys):
        self.m, self.rounds, self.model, self.circuit, self.keys = market, rounds, model, circuit, keys

    def join(self, round_id: int) -> None:
        r = self.rounds.functions.round(round_id).call()
        k, beta, z = r[1], r[5], r[12]
        self.m.send(self.rounds, "join", [round_id], value=beta * k * z)

    def serve(self, round_id: int, inputs: RoundInputs) -> ServedPredictions:
        """Runs the model on every input and signs the predictions root (EIP-712 typed data)."""
        classes = [zp.evaluate(self.model, list(x))[1] for x in inputs.items]
        root, proofs = merkle([leaf(["uint256", "bytes32", "uint256"], [i, c, y])
                               for i, (c, y) in enumerate(zip(inputs.commitments, classes))])
        signed = Account.sign_typed_data(
            self.m.account.private_key,
            domain_data={"name": "zkmarket ServingRound", "version": "1",
                         "chainId": self.m.session.w3.eth.chain_id, "verifyingContract": self.rounds.address},
            message_types={"Predictions": [{"name": "roundId", "type": "uint256"},
                                           {"name": "inputsRoot", "type": "bytes32"},
                                           {"name": "predictionsRoot", "type": "bytes32"}]},
            message_data={"roundId": round_id, "inputsRoot": inputs.root, "predictionsRoot": root})
        return ServedPredictions(classes, root, proofs, bytes(signed.signature))

    def answer(self, round_id: int, inputs: RoundInputs, served: ServedPredictions) -> int:
        """Proves every contested prediction and answers them in one transaction."""
        contested = [i for i in range(len(inputs.items)) if self.rounds.functions.isContested(round_id, i).call()
                     and not self.rounds.functions.isAnswered(round_id, i).call()]
        answers = []
        for i in contested:
            proof = zp.prove(self.circuit, self.keys, list(inputs.items[i]))
            answers.append((i, inputs.commitments[i], served.classes[i], inputs.proofs[i], served.proofs[i],
                            bytes.fromhex(proof.proof.removeprefix("0x"))))
        if answers:
            self.m.send(self.rounds, "answerBatch", [round_id, answers])
        return len(answers)
