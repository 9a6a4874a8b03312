"""A serving round (paper 5.3, ServingRound) for each party: MC commits its inputs and escrows
2KZ; MP joins (beta*K*Z), checks MC's inputs against the committed inputs root, serves the
predictions and signs their root (EIP-712); MC checks the signature and posts the root, then
contests a subset; MP answers each contest with a proof; anyone settles.

What MP serves travels as JSON (`ServedPredictions.to_json`): the classes, the predictions root
with a Merkle proof per prediction and MP's signature over (roundId, inputsRoot,
predictionsRoot), so every response binds MP on chain as soon as anyone posts it."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Callable

from eth_account import Account
from eth_account.messages import encode_typed_data

from .. import prover as zp
from ..protocol.merkle import keccak, leaf, merkle
from ..protocol.states import ROUND_STATES
from .connect import MarketConnection
from .errors import ParticipantError


class ServingError(ParticipantError):
    """A serving request refused, with the reason; `status` is the HTTP status an agent answers
    with (400: the request is wrong, 404: no such round of this provider, 409: not now)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _unhex(s: str) -> bytes:
    if not isinstance(s, str):
        raise TypeError(f"expected a hex string, got {type(s).__name__}")
    return bytes.fromhex(s.removeprefix("0x"))


def commitment_of(item: bytes) -> bytes:
    """The circuit's Poseidon commitment to one input, as a 32-byte word."""
    return int(zp.commit_input(list(item)), 16).to_bytes(32, "big")


def input_leaf(index: int, commitment: bytes) -> bytes:
    """ServingRound.inputLeaf (also Retrieval.documentLeaf)."""
    return leaf(["uint256", "bytes32"], [index, commitment])


def prediction_leaf(index: int, commitment: bytes, predicted_class: int) -> bytes:
    """ServingRound.predictionLeaf (also Retrieval.resultLeaf)."""
    return leaf(["uint256", "bytes32", "uint256"], [index, commitment, predicted_class])


def verify_proof(leaf_: bytes, proof: list[bytes], root: bytes) -> bool:
    """OpenZeppelin MerkleProof.verify: sorted-pair hashing from the leaf up."""
    node = leaf_
    for sibling in proof:
        node = keccak(b"".join(sorted((node, sibling))))
    return node == root


@dataclass(frozen=True)
class RoundInputs:
    """MC's K inputs (raw bytes) with their Poseidon commitments and the inputs tree."""

    items: list[bytes]
    commitments: list[bytes]
    root: bytes
    proofs: list[list[bytes]]

    @classmethod
    def commit(cls, items: list[bytes]) -> "RoundInputs":
        items = [bytes(x) for x in items]
        commitments = [commitment_of(x) for x in items]
        root, proofs = merkle([input_leaf(i, c) for i, c in enumerate(commitments)])
        return cls(items, commitments, root, proofs)

    def to_json(self) -> str:
        """The body MC posts to MP's agent: `{"inputs": [hex, ...]}`."""
        return json.dumps({"inputs": [x.hex() for x in self.items]})

    @staticmethod
    def items_from_json(text: str | bytes) -> list[bytes]:
        """The raw inputs of a posted body; raises ServingError when it is malformed."""
        try:
            items = json.loads(text)["inputs"]
            if not isinstance(items, list) or not items:
                raise ValueError("inputs must be a non-empty list")
            return [_unhex(x) for x in items]
        except (ValueError, KeyError, TypeError) as e:
            raise ServingError(f"malformed inputs: {e}") from e


def predictions_typed_data(chain_id: int, contract: str, round_id: int, inputs_root: bytes,
                           predictions_root: bytes) -> dict:
    """The EIP-712 message MP signs (ServingRound.predictionsDigest), as eth-account takes it."""
    return {"domain_data": {"name": "zkmarket ServingRound", "version": "1", "chainId": chain_id,
                            "verifyingContract": contract},
            "message_types": {"Predictions": [{"name": "roundId", "type": "uint256"},
                                              {"name": "inputsRoot", "type": "bytes32"},
                                              {"name": "predictionsRoot", "type": "bytes32"}]},
            "message_data": {"roundId": round_id, "inputsRoot": inputs_root, "predictionsRoot": predictions_root}}


@dataclass(frozen=True)
class ServedPredictions:
    """MP's classes for a round's inputs, their tree and MP's signature over both roots."""

    round_id: int
    inputs_root: bytes
    classes: list[int]
    root: bytes
    proofs: list[list[bytes]]
    signature: bytes

    @classmethod
    def build(cls, round_id: int, inputs: RoundInputs, classes: list[int], sign: Callable[[bytes], bytes]):
        root, proofs = merkle([prediction_leaf(i, c, y) for i, (c, y) in enumerate(zip(inputs.commitments, classes))])
        return cls(round_id, inputs.root, list(classes), root, proofs, sign(root))

    def to_json(self, provider: str = "") -> str:
        return json.dumps({"roundId": self.round_id, "provider": provider, "inputsRoot": _hex(self.inputs_root),
                           "predictionsRoot": _hex(self.root), "classes": self.classes,
                           "proofs": [[_hex(p) for p in proof] for proof in self.proofs],
                           "signature": _hex(self.signature)})

    @classmethod
    def from_json(cls, text: str | bytes) -> "ServedPredictions":
        try:
            d = json.loads(text)
            return cls(int(d["roundId"]), _unhex(d["inputsRoot"]), [int(y) for y in d["classes"]],
                       _unhex(d["predictionsRoot"]), [[_unhex(p) for p in proof] for proof in d["proofs"]],
                       _unhex(d["signature"]))
        except (ValueError, KeyError, TypeError) as e:
            raise ServingError(f"malformed predictions: {e}") from e

    def signer(self, chain_id: int, contract: str) -> str:
        """The address that signed the predictions root (EIP-712 recovery)."""
        message = encode_typed_data(**predictions_typed_data(chain_id, contract, self.round_id, self.inputs_root,
                                                             self.root))
        return Account.recover_message(message, signature=self.signature)


class ServingConsumer:
    def __init__(self, market: MarketConnection, rounds, inputs: RoundInputs):
        self.m, self.rounds, self.inputs = market, rounds, inputs

    def open(self, model_id: int, beta: int, duration: int) -> int:
        token = self.m.registry.functions.jobTerms(model_id).call().token
        z = self.m.registry.functions.prices(token).call().proofZ
        k = len(self.inputs.items)
        receipt = self.m.send(self.rounds, "openRound", [model_id, k, beta, duration, self.inputs.root],
                              value=2 * k * z)
        return self.m.event(receipt, self.rounds, "RoundOpened")["roundId"]

    def check(self, round_id: int, served: ServedPredictions) -> None:
        """Raises ServingError unless `served` is for this round and these inputs, its tree holds
        one class per input, and the round's provider signed it: then it binds MP on chain."""
        r = self.rounds.functions.round(round_id).call()
        if served.round_id != round_id or served.inputs_root != self.inputs.root:
            raise ServingError(f"predictions are for round {served.round_id} with inputs root "
                               f"{_hex(served.inputs_root)}, not round {round_id} with {_hex(self.inputs.root)}")
        if len(served.classes) != len(self.inputs.items):
            raise ServingError(f"{len(served.classes)} classes for {len(self.inputs.items)} inputs")
        leaves = [prediction_leaf(i, c, y) for i, (c, y) in enumerate(zip(self.inputs.commitments, served.classes))]
        if merkle(leaves)[0] != served.root:
            raise ServingError(f"the classes rebuild another root than the signed {_hex(served.root)}")
        if not all(verify_proof(lf, p, served.root) for lf, p in zip(leaves, served.proofs)):
            raise ServingError("a Merkle proof of a prediction does not lead to the signed root")
        signer = served.signer(self.m.session.w3.eth.chain_id, self.rounds.address)
        if signer != r.provider:
            raise ServingError(f"predictions signed by {signer}, not by the round's provider {r.provider}")

    def commit(self, round_id: int, served: ServedPredictions) -> None:
        self.m.send(self.rounds, "commitPredictions", [round_id, served.root, served.signature])

    def contest(self, round_id: int, indices: list[int]) -> None:
        self.m.send(self.rounds, "contest", [round_id, sorted(indices)])

    def commit_and_contest(self, round_id: int, served: ServedPredictions, count: int, rng: random.Random) -> list[int]:
        """Posts MP's signed root and contests `count` random predictions (the spot check)."""
        self.commit(round_id, served)
        contested = sorted(rng.sample(range(len(self.inputs.items)), count))
        self.contest(round_id, contested)
        return contested

    def settle(self, round_id: int) -> dict:
        return settle(self.m, self.rounds, round_id)


def settle(market: MarketConnection, rounds, round_id: int) -> dict:
    """Ends a settleable round (anyone may); returns the RoundSettled fields, if any."""
    return market.end_job(rounds, "settle", round_id, "RoundSettled")


def unanswered(contract, job_id: int, size: int, is_checked: str) -> list[int]:
    """The indices of a round / request that MC contested (``is_checked``: the contract's
    isContested / isChallenged) and MP has not answered yet."""
    f = contract.functions
    return [i for i in range(size)
            if getattr(f, is_checked)(job_id, i).call() and not f.isAnswered(job_id, i).call()]


def send_answers(market: MarketConnection, contract, job_id: int, pending: list[int], inputs: RoundInputs, signed,
                 proofs: dict[int, zp.Proof]) -> int:
    """answerBatch for the ``pending`` indices with a proof: each answer carries the input's
    commitment and Merkle proof (``inputs``: RoundInputs / Dataset), MP's class and its Merkle
    proof (``signed``: ServedPredictions / SignedResults) and the halo2 proof."""
    answers = [(i, inputs.commitments[i], signed.classes[i], inputs.proofs[i], signed.proofs[i],
                _unhex(proofs[i].proof)) for i in pending if i in proofs]
    if answers:
        market.send(contract, "answerBatch", [job_id, answers])
    return len(answers)


class ServingProvider:
    def __init__(self, market: MarketConnection, rounds, model, circuit: zp.CompiledCircuit, keys: zp.Keys):
        self.m, self.rounds, self.model, self.circuit, self.keys = market, rounds, model, circuit, keys

    def round(self, round_id: int) -> list:
        return self.rounds.functions.round(round_id).call()

    def state(self, round_id: int) -> str:
        return ROUND_STATES[self.rounds.functions.state(round_id).call()]

    def join(self, round_id: int) -> None:
        r = self.round(round_id)
        self.m.send(self.rounds, "join", [round_id], value=r.beta * r.k * r.proofZ)

    def check_inputs(self, round_id: int, items: list[bytes]) -> RoundInputs:
        """MP's check of MC's inputs (paper 5.3 step 2): a round of this provider it joined and
        still serves, K inputs, and their commitments rebuild the inputs root MC committed.
        Raises ServingError with the reason otherwise."""
        r = self.round(round_id)
        if r.status == 0:
            raise ServingError(f"no round {round_id}", 404)
        if r.provider != self.m.account.address:
            raise ServingError(f"round {round_id} is for provider {r.provider}, not {self.m.account.address}", 404)
        current = self.state(round_id)
        if current == "Open":
            raise ServingError(f"round {round_id} is not joined yet; retry once it is", 409)
        if current != "Serving":
            raise ServingError(f"round {round_id} is {current}: it no longer serves predictions", 409)
        if len(items) != r.k:
            raise ServingError(f"round {round_id} has K={r.k} inputs, got {len(items)}")
        try:
            inputs = RoundInputs.commit(items)
        except zp.ProverError as e:
            raise ServingError(f"cannot commit the inputs: {e}") from e
        if inputs.root != r.inputsRoot:
            raise ServingError(f"the inputs rebuild inputs root {_hex(inputs.root)}, but round {round_id} "
                               f"commits {_hex(r.inputsRoot)}")
        return inputs

    def sign(self, round_id: int, inputs_root: bytes, predictions_root: bytes) -> bytes:
        """MP's EIP-712 signature over (roundId, inputsRoot, predictionsRoot) in ServingRound's domain."""
        signed = Account.sign_typed_data(self.m.account.private_key, **predictions_typed_data(
            self.m.session.w3.eth.chain_id, self.rounds.address, round_id, inputs_root, predictions_root))
        return bytes(signed.signature)

    def classify(self, items: list[bytes]) -> list[int]:
        """The model's class for each input (the circuit's own integer inference, no proof)."""
        classes = []
        for i, x in enumerate(items):
            try:
                classes.append(zp.evaluate(self.model, list(x))[1])
            except zp.ProverError as e:
                raise ServingError(f"input {i}: the model cannot run on it: {e}") from e
        return classes

    def serve(self, round_id: int, inputs: RoundInputs, classes: list[int] | None = None) -> ServedPredictions:
        """Runs the model on every input (unless `classes` were computed already) and signs the
        predictions root (EIP-712 typed data)."""
        classes = self.classify(inputs.items) if classes is None else classes
        return ServedPredictions.build(round_id, inputs, classes,
                                       lambda root: self.sign(round_id, inputs.root, root))

    def pending(self, round_id: int) -> list[int]:
        """Contested indices not answered yet (one call when there are none)."""
        r = self.round(round_id)
        if r.answered >= r.contested:
            return []
        return unanswered(self.rounds, round_id, r.k, "isContested")

    def submit_answers(self, round_id: int, inputs: RoundInputs, served: ServedPredictions,
                       proofs: dict[int, zp.Proof]) -> int:
        """answerBatch with the given proofs for the still-unanswered contested indices."""
        return send_answers(self.m, self.rounds, round_id, self.pending(round_id), inputs, served, proofs)

    def answer(self, round_id: int, inputs: RoundInputs, served: ServedPredictions) -> int:
        """Proves every contested prediction and answers them in one transaction."""
        proofs = {i: zp.prove(self.circuit, self.keys, list(inputs.items[i])) for i in self.pending(round_id)}
        return self.submit_answers(round_id, inputs, served, proofs)

    def settle(self, round_id: int) -> dict:
        return settle(self.m, self.rounds, round_id)
