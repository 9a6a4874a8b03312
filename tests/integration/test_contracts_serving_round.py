"""ServingRound on anvil with the real generated halo2 verifier and real proofs of the digits CNN.

An honest provider answers the consumer's contests with proofs whose public instances the
contract builds itself ([input commitment committed by MC, weight commitment registered by MP,
class signed by MP]) and is paid exactly 2*K1*Z; a provider serving with other weights than it
registered cannot answer and loses beta*K*Z. The provider's EIP-712 signature is made with
eth-account's typed-data signing, so the domain (name, version, chain id, contract) is checked
against an independent implementation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from zkmarket import prover as zp
from zkmarket.chain import compile_file, deploy
from zkmarket.chain.session import ContractSession
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.protocol.merkle import b32, leaf, merkle, selector

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

ETH = "0x" + "00" * 20
E, Z, P, FEE = 10**15, 10**14, 10**13, 10**12
N1 = 2
UNBONDING = 86_400
MIN_BETA, MAX_BETA, MAX_K, MAX_DURATION = 2, 10, 64, 86_400
PROOF_WINDOW, JOIN_WINDOW, ANSWER_WINDOW = 600, 3_600, 3_600
K, BETA, DURATION = 4, 3, 3_600


# ---------------------------------------------------------------------------- helpers

class Market(ContractSession):
    """The deployed registry and serving-round contracts."""

    def __init__(self, w3: Web3, registry, rounds):
        super().__init__(w3)
        self.registry, self.rounds = registry, rounds


@pytest.fixture(scope="module")
def contracts():
    return (compile_file(ROOT / "contracts/src/ModelRegistry.sol", "ModelRegistry"),
            compile_file(ROOT / "contracts/src/ServingRound.sol", "ServingRound"))


@pytest.fixture
def actors(anvil):
    deployer, provider, consumer, stranger = anvil.accounts[5:9]
    return {"deployer": deployer, "provider": provider, "consumer": consumer, "stranger": stranger}


@pytest.fixture
def market(chain, contracts, actors) -> Market:
    registry_c, rounds_c = contracts
    key = actors["deployer"].private_key
    registry = deploy(chain, registry_c, private_key=key,
                      args=([(ETH, (E, Z, P, FEE))], N1, actors["stranger"].address, UNBONDING))
    rounds = deploy(chain, rounds_c, private_key=key,
                    args=(registry.address,
                          (MIN_BETA, MAX_BETA, MAX_K, MAX_DURATION, PROOF_WINDOW, JOIN_WINDOW, ANSWER_WINDOW)))
    m = Market(chain, chain.eth.contract(address=registry.address, abi=registry_c.abi, decode_tuples=True),
               chain.eth.contract(address=rounds.address, abi=rounds_c.abi, decode_tuples=True))
    m.send(m.registry, "setProtocols", [[rounds.address]], actors["deployer"])
    return m


def register(market: Market, verifier_address: str, provider) -> int:
    stake = market.registry.functions.requiredStake(ETH).call()
    assert stake == 1000 * N1 * E
    weights = b32(zp.commit_weights(DIGITS_MODEL))
    receipt = market.send(market.registry, "registerModel", [verifier_address, weights, "ipfs://digits", ETH],
                          provider, value=stake)
    (event,) = market.events(receipt, market.registry, "ModelRegistered")
    return event["args"]["modelId"]


def sign_predictions(market: Market, provider, round_id: int, inputs_root: bytes, predictions_root: bytes) -> bytes:
    """MP's EIP-712 signature, made from the typed data (not from the contract's digest)."""
    signed = Account.sign_typed_data(
        provider.private_key,
        domain_data={"name": "zkmarket ServingRound", "version": "1",
                     "chainId": market.w3.eth.chain_id, "verifyingContract": market.rounds.address},
        message_types={"Predictions": [{"name": "roundId", "type": "uint256"},
                                       {"name": "inputsRoot", "type": "bytes32"},
                                       {"name": "predictionsRoot", "type": "bytes32"}]},
        message_data={"roundId": round_id, "inputsRoot": inputs_root, "predictionsRoot": predictions_root},
    )
    assert bytes(signed.message_hash) == market.rounds.functions.predictionsDigest(
        round_id, inputs_root, predictions_root).call()
    return bytes(signed.signature)


def run_round_until_contested(market: Market, model_id: int, actors, images, classes, contested: list[int]):
    """Opens a round of K over `images`, MP joins and signs `classes`, MC posts it and contests."""
    commitments = [b32(zp.commit_input(image)) for image in images]
    input_leaves = [leaf(["uint256", "bytes32"], [i, c]) for i, c in enumerate(commitments)]
    prediction_leaves = [leaf(["uint256", "bytes32", "uint256"], [i, c, cls])
                         for i, (c, cls) in enumerate(zip(commitments, classes))]
    for i in range(len(images)):
        assert input_leaves[i] == market.rounds.functions.inputLeaf(i, commitments[i]).call()
        assert prediction_leaves[i] == market.rounds.functions.predictionLeaf(i, commitments[i], classes[i]).call()
    inputs_root, input_proofs = merkle(input_leaves)
    predictions_root, prediction_proofs = merkle(prediction_leaves)

    consumer, provider = actors["consumer"], actors["provider"]
    receipt = market.send(market.rounds, "openRound", [model_id, K, BETA, DURATION, inputs_root],
                          consumer, value=2 * K * Z)
    (opened,) = market.events(receipt, market.rounds, "RoundOpened")
    round_id = opened["args"]["roundId"]
    market.send(market.rounds, "join", [round_id], provider, value=BETA * K * Z)
    signature = sign_predictions(market, provider, round_id, inputs_root, predictions_root)
    market.send(market.rounds, "commitPredictions", [round_id, predictions_root, signature], consumer)
    market.send(market.rounds, "contest", [round_id, contested], consumer)

    def answer(index: int, proof: zp.Proof) -> tuple:
        return (index, commitments[index], classes[index], input_proofs[index], prediction_proofs[index],
                bytes.fromhex(proof.proof.removeprefix("0x")))

    return round_id, answer


# ---------------------------------------------------------------------------- tests

def test_contest_answered_with_real_proofs_costs_consumer_2_k1_z(market, actors, verifier, digits_circuit,
                                                                 digits_keys, digits_split):
    model_id = register(market, verifier.address, actors["provider"])
    images = list(digits_split.test_inputs[:K])
    classes = [zp.evaluate(DIGITS_MODEL, image)[1] for image in images]
    contested = [1, 3]
    round_id, answer = run_round_until_contested(market, model_id, actors, images, classes, contested)

    provider = actors["provider"]
    first = zp.prove(digits_circuit, digits_keys, images[1])
    receipt = market.send(market.rounds, "answer", [round_id, answer(1, first)], provider)
    (event,) = market.events(receipt, market.rounds, "ContestAnswered")
    assert (event["args"]["index"], event["args"]["predictedClass"]) == (1, classes[1])
    # A valid proof for another input does not answer index 3.
    wrong = market.revert_data(market.rounds, "answer", [round_id, answer(3, first)], provider.address)
    assert wrong[:4] == selector("ProofRejected(uint256,uint32)")
    second = zp.prove(digits_circuit, digits_keys, images[3])
    market.send(market.rounds, "answerBatch", [round_id, [answer(3, second)]], provider)

    market.warp(DURATION)
    receipt = market.send(market.rounds, "settle", [round_id], actors["stranger"])
    (settled,) = market.events(receipt, market.rounds, "RoundSettled")
    k1 = len(contested)
    assert settled["args"]["outcome"] == 2  # ContestsAnswered
    assert settled["args"]["consumerPayout"] == 2 * K * Z - 2 * k1 * Z
    assert settled["args"]["providerPayout"] == BETA * K * Z + 2 * k1 * Z
    rounds = market.rounds.functions
    assert rounds.creditOf(actors["consumer"].address, ETH).call() == 2 * K * Z - 2 * k1 * Z
    assert rounds.creditOf(provider.address, ETH).call() == BETA * K * Z + 2 * k1 * Z
    assert market.registry.functions.record(model_id).call().roundsCompleted == 1

    for who in (actors["consumer"], provider):
        market.send(market.rounds, "withdraw", [ETH], who)
    assert market.w3.eth.get_balance(market.rounds.address) == 0
    assert rounds.totalOwed(ETH).call() == 0


def test_provider_serving_other_weights_cannot_answer_and_loses_beta_k_z(tmp_path, market, actors, verifier,
                                                                          digits_split):
    model_id = register(market, verifier.address, actors["provider"])
    # MP serves a model whose weights differ from the registered ones (same architecture).
    doc = json.loads(DIGITS_MODEL.read_text())
    w = doc["layers"][0]["weights"][0][0][0]
    w[0] = w[0] + 1 if w[0] < 127 else w[0] - 1
    other = tmp_path / "other-weights.json"
    other.write_text(json.dumps(doc))
    assert zp.commit_weights(other) != zp.commit_weights(DIGITS_MODEL)
    circuit = zp.compile_model(other, "hidden-both", "class")
    keys = zp.setup(circuit)

    images = list(digits_split.test_inputs[:K])
    classes = [zp.evaluate(other, image)[1] for image in images]
    round_id, answer = run_round_until_contested(market, model_id, actors, images, classes, [2])
    proof = zp.prove(circuit, keys, images[2])
    assert zp.verify(circuit, keys, proof)  # a valid proof, but for other weights
    assert proof.instances[1] != zp.commit_weights(DIGITS_MODEL)
    data = market.revert_data(market.rounds, "answer", [round_id, answer(2, proof)], actors["provider"].address)
    assert data[:4] == selector("ProofRejected(uint256,uint32)")

    market.warp(DURATION + ANSWER_WINDOW + PROOF_WINDOW)
    receipt = market.send(market.rounds, "settle", [round_id], actors["stranger"])
    (settled,) = market.events(receipt, market.rounds, "RoundSettled")
    assert settled["args"]["outcome"] == 3  # ContestsUnanswered
    assert settled["args"]["consumerPayout"] == 2 * K * Z + BETA * K * Z
    assert settled["args"]["providerPayout"] == 0
    assert market.registry.functions.record(model_id).call().roundsFailed == 1
