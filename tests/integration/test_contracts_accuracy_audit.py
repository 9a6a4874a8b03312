"""AccuracyAudit (paper 5.2, simple audit) on anvil with the real generated halo2 verifier and real
proofs of the digits CNN.

MC commits N = 4 test examples (the model classifies 3 of them correctly) and a target of 3/4.
An honest provider proves all four and passes: after withdrawing, MC is 2NZ + eps poorer and MP
2NZ - eps richer (MC gets 2NE - 2NZ back, MP 2NE + 2NZ, the fee recipient 2 eps), measured in wei
from balances net of gas. A provider that registered the digits weights but proves with other
weights has every proof refused and fails at the proof deadline (MC gets 4NE). With labels under
which the model's accuracy is below the target, an audit with all proofs accepted still fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3 import Web3

from zkmarket import prover as zp
from zkmarket.chain import compile_file, deploy
from zkmarket.chain.session import ContractSession
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.protocol.merkle import b32, merkle, selector

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

ETH = "0x" + "00" * 20
E, Z, P, FEE = 10**15, 10**14, 10**13, 10**12
N1 = 2
UNBONDING = 86_400
MAX_N, PROOF_TIME_PER_EXAMPLE = 128, 60
JOIN_WINDOW, DECISION_WINDOW, PROOF_WINDOW = 3_600, 3_600, 3_600
# Test-split indices: the model is wrong on example 56 only (checked below), so 3 of 4 correct.
TEST_INDICES = [0, 1, 56, 2]
N = len(TEST_INDICES)
TARGET = (3, 4)

OUTCOME_PASSED, OUTCOME_FAILED = 1, 2  # AuditOutcome
RECORD_PASSED, RECORD_FAILED = 0, 1  # ModelRecord fields


class Audits(ContractSession):
    """The deployed registry and AccuracyAudit."""

    def __init__(self, w3: Web3, registry, audits):
        super().__init__(w3)
        self.registry, self.audits = registry, audits


@pytest.fixture(scope="module")
def contracts():
    return (compile_file(ROOT / "contracts/src/ModelRegistry.sol", "ModelRegistry"),
            compile_file(ROOT / "contracts/src/AccuracyAudit.sol", "AccuracyAudit"))


@pytest.fixture
def actors(anvil):
    deployer, provider, consumer, fees = anvil.accounts[5:9]
    return {"deployer": deployer, "provider": provider, "consumer": consumer, "fees": fees}


@pytest.fixture
def market(chain, contracts, actors) -> Audits:
    registry_c, audit_c = contracts
    key = actors["deployer"].private_key
    registry = deploy(chain, registry_c, private_key=key,
                      args=([(ETH, (E, Z, P, FEE))], N1, actors["fees"].address, UNBONDING))
    audits = deploy(chain, audit_c, private_key=key,
                    args=(registry.address,
                          (MAX_N, PROOF_TIME_PER_EXAMPLE, JOIN_WINDOW, DECISION_WINDOW, PROOF_WINDOW)))
    m = Audits(chain, chain.eth.contract(address=registry.address, abi=registry_c.abi, decode_tuples=True),
               chain.eth.contract(address=audits.address, abi=audit_c.abi, decode_tuples=True))
    m.send(m.registry, "setProtocols", [[audits.address]], actors["deployer"])
    return m


@pytest.fixture(scope="module")
def test_set(digits_split):
    images = [digits_split.test_inputs[i] for i in TEST_INDICES]
    labels = [int(digits_split.test_labels[i]) for i in TEST_INDICES]
    classes = [zp.evaluate(DIGITS_MODEL, image)[1] for image in images]
    correct = sum(c == y for c, y in zip(classes, labels))
    assert correct == 3 and correct * TARGET[1] >= TARGET[0] * N
    return images, labels, classes


@pytest.fixture(scope="module")
def honest_proofs(digits_circuit, digits_keys, test_set):
    """Real proofs of the registered model, made once for the module."""
    images, _, classes = test_set
    proofs = [zp.prove(digits_circuit, digits_keys, image) for image in images]
    assert [int(p.instances[2], 16) for p in proofs] == [p.predicted_class for p in proofs] == classes
    return proofs


def register(market: Audits, verifier_address: str, provider) -> int:
    stake = market.registry.functions.requiredStake(ETH).call()
    receipt = market.send(market.registry, "registerModel",
                          [verifier_address, b32(zp.commit_weights(DIGITS_MODEL)), "ipfs://digits", ETH],
                          provider, value=stake)
    (event,) = market.events(receipt, market.registry, "ModelRegistered")
    return event["args"]["modelId"]


def open_audit(market: Audits, model_id: int, actors, images, labels, target=TARGET):
    """MC commits the test set and opens; MP joins and proceeds. Returns (auditId, makeProof)."""
    commitments = [b32(zp.commit_input(image)) for image in images]
    leaves = [market.audits.functions.testLeaf(i, c, y).call() for i, (c, y) in enumerate(zip(commitments, labels))]
    root, leaf_proofs = merkle(leaves)
    escrow = market.audits.functions.escrowFor(len(images), E, FEE).call()
    assert escrow == 2 * len(images) * E + FEE
    receipt = market.send(market.audits, "openAudit", [model_id, len(images), *target, root],
                          actors["consumer"], value=escrow)
    (opened,) = market.events(receipt, market.audits, "AuditOpened")
    audit_id = opened["args"]["auditId"]
    market.send(market.audits, "join", [audit_id], actors["provider"], value=escrow)
    market.send(market.audits, "proceed", [audit_id], actors["provider"])

    def make_proof(index: int, proof: zp.Proof) -> tuple:
        return (index, commitments[index], labels[index], int(proof.instances[2], 16), leaf_proofs[index],
                bytes.fromhex(proof.proof.removeprefix("0x")))

    return audit_id, make_proof


def finalize(market: Audits, audit_id: int, caller):
    receipt = market.send(market.audits, "finalize", [audit_id], caller)
    (settled,) = market.events(receipt, market.audits, "AuditSettled")
    return settled["args"]


def withdraw_all(market: Audits, actors) -> None:
    for who in ("consumer", "provider", "fees"):
        if market.audits.functions.creditOf(actors[who].address, ETH).call():
            market.send(market.audits, "withdraw", [ETH], actors[who])
    assert market.audits.functions.totalOwed(ETH).call() == 0
    assert market.w3.eth.get_balance(market.audits.address) == 0


# ---------------------------------------------------------------------------- tests

def test_honest_provider_passes_and_is_paid_2nz(market, actors, verifier, test_set, honest_proofs):
    consumer, provider, fees = actors["consumer"], actors["provider"], actors["fees"]
    model_id = register(market, verifier.address, provider)
    images, labels, _ = test_set
    start = {who: market.balance(actors[who]) for who in ("consumer", "provider", "fees")}
    market.gas_cost.clear()

    audit_id, make_proof = open_audit(market, model_id, actors, images, labels)
    # A valid proof for another example does not prove index 1.
    wrong = market.revert_data(market.audits, "submitProofs", [audit_id, [make_proof(1, honest_proofs[0])]],
                               provider.address)
    assert wrong[:4] == selector("ProofRejected(uint256,uint32)")
    receipt = market.send(market.audits, "submitProofs", [audit_id, [make_proof(0, honest_proofs[0])]], provider)
    assert len(market.events(receipt, market.audits, "ProofAccepted")) == 1
    receipt = market.send(market.audits, "submitProofs",
                          [audit_id, [make_proof(i, honest_proofs[i]) for i in range(1, N)]], provider)
    accepted = market.events(receipt, market.audits, "ProofAccepted")
    assert [e["args"]["isCorrect"] for e in accepted] == [True, False, True]  # index 2 is test example 56
    audit = market.audits.functions.audit(audit_id).call()
    assert (audit[1], audit[2], audit[3]) == (N, N, 3)  # n, submitted, correct

    settled = finalize(market, audit_id, fees)  # anyone may finalize
    assert settled["outcome"] == OUTCOME_PASSED
    assert settled["consumerPayout"] == 2 * N * E - 2 * N * Z
    assert settled["providerPayout"] == 2 * N * E + 2 * N * Z
    credit = market.audits.functions.creditOf
    assert credit(consumer.address, ETH).call() == 2 * N * E - 2 * N * Z
    assert credit(provider.address, ETH).call() == 2 * N * E + 2 * N * Z
    assert credit(fees.address, ETH).call() == 2 * FEE
    record = market.registry.functions.record(model_id).call()
    assert (record[RECORD_PASSED], record[RECORD_FAILED]) == (1, 0)

    withdraw_all(market, actors)
    # Net of gas, each party's balance moved by exactly the paper's amounts.
    net = {who: market.balance(actors[who]) - start[who] + market.gas_cost.get(actors[who].address, 0)
           for who in start}
    assert net["consumer"] == -(2 * N * E + FEE) + (2 * N * E - 2 * N * Z)  # MC pays 2NZ + eps
    assert net["provider"] == -(2 * N * E + FEE) + (2 * N * E + 2 * N * Z)  # MP earns 2NZ - eps
    assert net["fees"] == 2 * FEE


def test_provider_proving_other_weights_is_refused_and_fails(tmp_path, market, actors, verifier, test_set):
    consumer, provider = actors["consumer"], actors["provider"]
    model_id = register(market, verifier.address, provider)
    # MP proves with a model whose weights differ from the registered ones (same architecture).
    doc = json.loads(DIGITS_MODEL.read_text())
    w = doc["layers"][0]["weights"][0][0][0]
    w[0] = w[0] + 1 if w[0] < 127 else w[0] - 1
    other = tmp_path / "other-weights.json"
    other.write_text(json.dumps(doc))
    assert zp.commit_weights(other) != zp.commit_weights(DIGITS_MODEL)
    circuit = zp.compile_model(other, "hidden-both", "class")
    keys = zp.setup(circuit)

    images, labels, _ = test_set
    start = market.balance(consumer)
    market.gas_cost.clear()
    audit_id, make_proof = open_audit(market, model_id, actors, images, labels)
    proof = zp.prove(circuit, keys, images[0])
    assert zp.verify(circuit, keys, proof)  # a valid proof, but for other weights
    data = market.revert_data(market.audits, "submitProofs", [audit_id, [make_proof(0, proof)]], provider.address)
    assert data[:4] == selector("ProofRejected(uint256,uint32)")
    # Before the deadline the audit cannot be finalized.
    early = market.revert_data(market.audits, "finalize", [audit_id], consumer.address)
    assert early[:4] == selector("UnexpectedAuditState(uint256,uint8)")

    market.warp(PROOF_WINDOW + N * PROOF_TIME_PER_EXAMPLE)
    late = market.revert_data(market.audits, "submitProofs", [audit_id, [make_proof(0, proof)]], provider.address)
    assert late[:4] == selector("UnexpectedAuditState(uint256,uint8)")
    settled = finalize(market, audit_id, consumer)
    assert settled["outcome"] == OUTCOME_FAILED
    assert (settled["consumerPayout"], settled["providerPayout"]) == (4 * N * E, 0)
    assert market.audits.functions.creditOf(provider.address, ETH).call() == 0
    record = market.registry.functions.record(model_id).call()
    assert (record[RECORD_PASSED], record[RECORD_FAILED]) == (0, 1)

    withdraw_all(market, actors)
    net = market.balance(consumer) - start + market.gas_cost[consumer.address]
    assert net == -(2 * N * E + FEE) + 4 * N * E  # MC wins MP's 2NE (its own eps went to the fees)


def test_target_not_met_fails_even_with_all_proofs_in(market, actors, verifier, test_set, honest_proofs):
    provider = actors["provider"]
    model_id = register(market, verifier.address, provider)
    images, labels, classes = test_set
    # MC's labels disagree with the model on two examples: 2/4 correct < 3/4.
    labels = list(labels)
    labels[0] = (classes[0] + 1) % 10
    audit_id, make_proof = open_audit(market, model_id, actors, images, labels)
    market.send(market.audits, "submitProofs",
                [audit_id, [make_proof(i, honest_proofs[i]) for i in range(N)]], provider)
    audit = market.audits.functions.audit(audit_id).call()
    assert (audit[2], audit[3]) == (N, 2)
    assert not market.audits.functions.targetMet(2, N, *TARGET).call()

    settled = finalize(market, audit_id, provider)
    assert settled["outcome"] == OUTCOME_FAILED
    assert (settled["consumerPayout"], settled["providerPayout"]) == (4 * N * E, 0)
    assert market.audits.functions.creditOf(actors["consumer"].address, ETH).call() == 4 * N * E
    record = market.registry.functions.record(model_id).call()
    assert (record[RECORD_PASSED], record[RECORD_FAILED]) == (0, 1)
    withdraw_all(market, actors)
