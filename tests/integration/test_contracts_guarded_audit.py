"""GriefingResistantAudit (paper appendix B) on anvil with the real DataTransferService, the real
generated halo2 verifier and real proofs of the digits CNN, driven by zkmarket.participants.

MC commits N = 6 test examples; the registry's N1 = 2. MP picks the subset with its seed, the
examples travel encrypted through two data transfers (acknowledge, reveal, accept), MP checks
the subset by local inference, proves the N2 = 4 others and is paid exactly 2(N1*P + N2*Z).
A provider proving with other weights than it registered is refused and fails at the proof
deadline (MC gets 4NE). An MC whose ciphertext does not decrypt to its committed input is caught
by an on-chain contest and loses its 2NE to MP.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkmarket import prover as zp
from zkmarket.chain import compile_file, deploy
from zkmarket.chain.session import ContractSession
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.connect import MarketConnection
from zkmarket.participants.delivery import Delivery
from zkmarket.participants.guarded_audit import GuardedAuditConsumer, GuardedAuditProvider
from zkmarket.protocol import commit_test_set, encrypt_batch, subset_of
from zkmarket.protocol.merkle import b32, selector
from zkmarket.protocol.rules import GuardedOutcome, Prices, guarded_audit_payouts
from zkmarket.protocol.states import GUARDED_STATES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ETH = "0x" + "00" * 20
PRICES = Prices(example_e=10**15, proof_z=10**14, inference_p=10**13, fee_epsilon=10**12)
N1 = 2
UNBONDING = 86_400
MAX_N, PROOF_TIME_PER_EXAMPLE = 128, 60
JOIN, SEND, DECISION, PROOF = 3_600, 3_600, 3_600, 3_600
ACK, REVEAL, CONTEST = 3_600, 3_600, 3_600
TEST_INDICES = [0, 1, 2, 3, 4, 5]  # the model classifies all six correctly (checked below)
N = len(TEST_INDICES)
TARGET = (3, 4)
SEED = bytes.fromhex("5eed" * 16)
RECORD_PASSED, RECORD_FAILED = 0, 1


@pytest.fixture(scope="module")
def contracts():
    return {name: compile_file(ROOT / f"contracts/src/{name}.sol", name)
            for name in ("ModelRegistry", "DataTransferService", "GriefingResistantAudit")}


@pytest.fixture
def actors(anvil):
    deployer, provider, consumer, fees = anvil.accounts[5:9]
    return {"deployer": deployer, "provider": provider, "consumer": consumer, "fees": fees}


@pytest.fixture
def deployed(chain, contracts, actors):
    key = actors["deployer"].private_key
    p = PRICES
    registry = deploy(chain, contracts["ModelRegistry"], private_key=key,
                      args=([(ETH, (p.example_e, p.proof_z, p.inference_p, p.fee_epsilon))], N1,
                            actors["fees"].address, UNBONDING))
    service = deploy(chain, contracts["DataTransferService"], private_key=key, args=(ACK, REVEAL, CONTEST))
    audits = deploy(chain, contracts["GriefingResistantAudit"], private_key=key,
                    args=(registry.address, service.address,
                          (MAX_N, PROOF_TIME_PER_EXAMPLE, JOIN, SEND, DECISION, PROOF)))
    session = ContractSession(chain)
    c = {name: chain.eth.contract(address=d.address, abi=contracts[name].abi, decode_tuples=True)
         for name, d in (("ModelRegistry", registry), ("DataTransferService", service),
                         ("GriefingResistantAudit", audits))}
    session.send(c["ModelRegistry"], "setProtocols", [[audits.address]], actors["deployer"])
    return session, c


def market_for(deployed, account) -> MarketConnection:
    session, c = deployed
    return MarketConnection(session, c["ModelRegistry"], c["GriefingResistantAudit"], c["DataTransferService"], account)


@pytest.fixture(scope="module")
def test_set(digits_split):
    images = [digits_split.test_inputs[i] for i in TEST_INDICES]
    labels = [int(digits_split.test_labels[i]) for i in TEST_INDICES]
    assert [zp.evaluate(DIGITS_MODEL, image)[1] for image in images] == labels
    return commit_test_set([bytes(image.reshape(-1).tolist()) for image in images], labels)


def register(market: MarketConnection, verifier_address: str) -> int:
    stake = market.registry.functions.requiredStake(ETH).call()
    receipt = market.send(market.registry, "registerModel",
                          [verifier_address, b32(zp.commit_weights(DIGITS_MODEL)), "ipfs://digits", ETH], value=stake)
    return market.event(receipt, market.registry, "ModelRegistered")["modelId"]


def transfer(consumer: GuardedAuditConsumer, provider: GuardedAuditProvider, audit_id: int, rest: bool):
    """One data transfer end to end; returns MP's decrypted items (None if it contested)."""
    batch, delivery = consumer.send_items(audit_id, rest)
    provider.acknowledge(audit_id, Delivery.from_json(delivery.to_json()), rest)
    consumer.reveal(delivery.transfer_id, batch)
    return provider.accept_or_contest(delivery), delivery


def run_to_proving(mc, mp, model_id):
    audit_id = mc.open(model_id, *TARGET)
    mp.join(audit_id, SEED)
    subset, delivery = transfer(mc, mp, audit_id, rest=False)
    assert sorted(subset) == sorted(subset_of(SEED, N, N1))
    assert mp.decide(audit_id, subset, delivery.labels)
    rest, delivery = transfer(mc, mp, audit_id, rest=True)
    assert set(rest) == set(range(N)) - set(subset)
    return audit_id, rest, delivery


def withdraw_all(session, audits, actors) -> None:
    for who in ("consumer", "provider", "fees"):
        if audits.functions.creditOf(actors[who].address, ETH).call():
            session.send(audits, "withdraw", [ETH], actors[who])
    assert audits.functions.totalOwed(ETH).call() == 0
    assert session.w3.eth.get_balance(audits.address) == 0


def net_change(session, actors, start) -> dict:
    return {who: session.balance(actors[who]) - start[who] + session.gas_cost.get(actors[who].address, 0)
            for who in start}


def test_honest_provider_passes_appendix_b_audit_and_is_paid_exactly(deployed, actors, verifier, test_set,
                                                                      digits_circuit, digits_keys):
    session, c = deployed
    audits = c["GriefingResistantAudit"]
    mc = GuardedAuditConsumer(market_for(deployed, actors["consumer"]), test_set)
    mp = GuardedAuditProvider(market_for(deployed, actors["provider"]), DIGITS_MODEL, digits_circuit, digits_keys)
    model_id = register(mp.m, verifier.address)
    start = {who: session.balance(actors[who]) for who in ("consumer", "provider", "fees")}
    session.gas_cost.clear()

    audit_id, rest, delivery = run_to_proving(mc, mp, model_id)
    assert audits.functions.subsetIndices(audit_id).call() == subset_of(SEED, N, N1)
    proofs = mp.prove(rest)
    # An example of the subset is not proven: only the N2 examples count.
    subset_index = subset_of(SEED, N, N1)[0]
    bad = session.revert_data(audits, "submitProofs", [audit_id, [
        (subset_index, test_set.commitments[subset_index], test_set.labels[subset_index], 0,
         test_set.proofs[subset_index], b"")]], actors["provider"].address)
    assert bad[:4] == selector("IndexInSubset(uint256,uint32)")
    mp.submit(audit_id, proofs, delivery, batch_size=3)  # two transactions
    a = audits.functions.audit(audit_id).call()
    assert (a.submitted, a.correct) == (N - N1, N - N1)

    settled = GuardedAuditConsumer(market_for(deployed, actors["fees"]), test_set).finalize(audit_id)  # anyone
    consumer_pay, provider_pay = guarded_audit_payouts(GuardedOutcome.PASSED, N, N1, PRICES)
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        GuardedOutcome.PASSED, consumer_pay, provider_pay)
    fee = 2 * (N1 * PRICES.inference_p + (N - N1) * PRICES.proof_z)
    assert provider_pay == 2 * N * PRICES.example_e + fee
    assert c["ModelRegistry"].functions.record(model_id).call()[RECORD_PASSED] == 1

    withdraw_all(session, audits, actors)
    net = net_change(session, actors, start)
    eps = PRICES.fee_epsilon
    assert net == {"consumer": -fee - eps, "provider": fee - eps, "fees": 2 * eps}


def test_provider_proving_other_weights_fails_and_loses_its_escrow(tmp_path, deployed, actors, verifier,
                                                                   test_set, digits_circuit, digits_keys):
    session, c = deployed
    audits = c["GriefingResistantAudit"]
    doc = json.loads(DIGITS_MODEL.read_text())
    w = doc["layers"][0]["weights"][0][0][0]
    w[0] = w[0] + 1 if w[0] < 127 else w[0] - 1
    other = tmp_path / "other-weights.json"
    other.write_text(json.dumps(doc))
    circuit = zp.compile_model(other, "hidden-both", "class")
    keys = zp.setup(circuit)
    mc = GuardedAuditConsumer(market_for(deployed, actors["consumer"]), test_set)
    # MP registered the digits weights but runs (and proves) the other ones.
    mp = GuardedAuditProvider(market_for(deployed, actors["provider"]), other, circuit, keys)
    model_id = register(mp.m, verifier.address)
    start = {who: session.balance(actors[who]) for who in ("consumer", "provider")}
    session.gas_cost.clear()

    audit_id, rest, delivery = run_to_proving(mc, mp, model_id)
    proofs = mp.prove(dict(list(rest.items())[:1]))
    (index, proof), = proofs.items()
    assert zp.verify(circuit, keys, proof)  # a valid proof, but of other weights
    refused = session.revert_data(audits, "submitProofs", [audit_id, [
        (index, test_set.commitments[index], test_set.labels[index], proof.predicted_class, test_set.proofs[index],
         bytes.fromhex(proof.proof.removeprefix("0x")))]], actors["provider"].address)
    assert refused[:4] == selector("ProofRejected(uint256,uint32)")

    session.warp(PROOF + (N - N1) * PROOF_TIME_PER_EXAMPLE)
    settled = mc.finalize(audit_id)
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        GuardedOutcome.FAILED, *guarded_audit_payouts(GuardedOutcome.FAILED, N, N1, PRICES))
    assert c["ModelRegistry"].functions.record(model_id).call()[RECORD_FAILED] == 1
    withdraw_all(session, audits, actors)
    net = net_change(session, actors, start)
    assert net["consumer"] == 2 * N * PRICES.example_e - PRICES.fee_epsilon  # wins MP's 2NE
    assert net["provider"] == -(2 * N * PRICES.example_e + PRICES.fee_epsilon)


def _reversed(item: bytes) -> bytes:
    return bytes(reversed(item))


def _without_trailing_zero(item: bytes) -> bytes:
    # The length attack: before commitments bound the length, this 63-byte item shared the
    # 64-byte item's commitment, MP acknowledged and accepted it, then could not prove it.
    assert item[-1] == 0
    return item[:-1]


@pytest.mark.parametrize("tamper", [_reversed, _without_trailing_zero], ids=["other-image", "trailing-byte-dropped"])
def test_consumer_sending_wrong_data_is_caught_by_contest_and_loses_its_escrow(deployed, actors, verifier,
                                                                              test_set, digits_circuit,
                                                                              digits_keys, tamper):
    session, c = deployed
    mc = GuardedAuditConsumer(market_for(deployed, actors["consumer"]), test_set)
    mp = GuardedAuditProvider(market_for(deployed, actors["provider"]), DIGITS_MODEL, digits_circuit, digits_keys)
    model_id = register(mp.m, verifier.address)
    audit_id = mc.open(model_id, *TARGET)
    mp.join(audit_id, SEED)
    # MC encrypts a tampered subset item 0 (its commitment stays the committed one).
    subset = subset_of(SEED, N, N1)
    items = {i: test_set.items[i] for i in subset}
    items[subset[0]] = tamper(items[subset[0]])
    batch = encrypt_batch(items)
    receipt = mc.m.send(mc.m.audits, "sendSubset", [audit_id, batch.root, batch.key_commitment])
    transfer_id = mc.m.event(receipt, mc.m.audits, "SubsetSent")["transferId"]
    delivery = Delivery(transfer_id, batch.ciphertexts, test_set.commitments, test_set.labels)
    mp.acknowledge(audit_id, delivery, rest=False)  # the ciphertexts do match their commitment
    mc.reveal(transfer_id, batch)
    assert mp.accept_or_contest(delivery) is None  # MP contested on chain
    assert GUARDED_STATES[c["GriefingResistantAudit"].functions.state(audit_id).call()] == "Settled"
    credit = c["GriefingResistantAudit"].functions.creditOf
    assert credit(actors["consumer"].address, ETH).call() == 0
    assert credit(actors["provider"].address, ETH).call() == 4 * N * PRICES.example_e
