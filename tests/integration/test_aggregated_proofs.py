"""Aggregated proofs on anvil: an appendix-B audit (GriefingResistantAudit, real DataTransferService)
of the digits CNN paid through a real aggregated proof, checked by the real generated aggregation
verifier registered beside the model's single-proof verifier.

An aggregation takes about two minutes here, so the module makes one: batch size B = 1 (the
smallest aggregation circuit whose verifier fits the EVM's code limit), MC commits N = 3 examples
and the registry's N1 = 2, so MP proves one example. The batch is refused with its class changed,
claimed for another example's index, and for a model registered with other weights; accepted
once, then refused when replayed (and, claimed for another index or example, by the index and
leaf checks); the audit pays exactly what it pays with single proofs; MC's own
check (eth_call of the registered aggregation verifier) accepts it and flags a forged one. An
audit opened before the aggregation verifier was registered (registered before MP joined) takes
no batch: the contract refuses it (AggregationNotInJobTerms) and so does MC's check.
Padding and the order of several examples are checked natively (prover/tests/aggregate.rs) and
against the exact calldata in Foundry (contracts/test/AggregatedProofs.t.sol).
"""

from __future__ import annotations

import json

import pytest
import test_contracts_guarded_audit as guarded

from zkmarket import prover as zp
from zkmarket.chain import deploy_verifier
from zkmarket.consumer.proofs import AggregatedBatch, AggregatedChecker
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.participants.audit_common import Aggregation, aggregated_batches
from zkmarket.participants.delivery import Delivery
from zkmarket.participants.guarded_audit import GuardedAuditConsumer, GuardedAuditProvider
from zkmarket.protocol import commit_test_set, subset_of
from zkmarket.protocol.merkle import b32, selector
from zkmarket.protocol.rules import GuardedOutcome, guarded_audit_payouts

pytestmark = pytest.mark.integration

# The appendix-B deployment (N1 = 2), its actors and helpers.
actors, contracts, deployed = guarded.actors, guarded.contracts, guarded.deployed
N1, PRICES, SEED, TARGET = guarded.N1, guarded.PRICES, guarded.SEED, guarded.TARGET
market_for, net_change, withdraw_all = guarded.market_for, guarded.net_change, guarded.withdraw_all

BATCH = 1
N = 3
REJECTED = selector("BatchProofRejected(uint256)")
NOT_IN_TERMS = selector("AggregationNotInJobTerms(uint256,uint64,uint64)")


@pytest.fixture(scope="module")
def test_set(digits_split):
    images = [digits_split.test_inputs[i] for i in range(N)]
    labels = [int(digits_split.test_labels[i]) for i in range(N)]
    assert [zp.evaluate(DIGITS_MODEL, image)[1] for image in images] == labels
    return commit_test_set([bytes(image.reshape(-1).tolist()) for image in images], labels)


@pytest.fixture(scope="module")
def aggregation(digits_circuit, digits_keys) -> Aggregation:
    return Aggregation(digits_circuit, digits_keys, zp.setup_aggregation(digits_circuit, digits_keys, BATCH))


@pytest.fixture(scope="module")
def agg_verifier(anvil, aggregation):
    return deploy_verifier(anvil.w3(), zp.export_aggregation_verifier(aggregation.agg),
                           private_key=anvil.accounts[0].private_key)


@pytest.fixture(scope="module")
def proven(aggregation, test_set):
    """The one N2 example (the seed fixes it), proved for aggregation and aggregated:
    (index, its AuditExample, the AggregatedProof struct)."""
    (index,) = sorted(set(range(N)) - set(subset_of(SEED, N, N1)))
    proof = zp.prove_for_aggregation(aggregation.circuit, aggregation.keys, list(test_set.items[index]))
    assert proof.transcript == "poseidon" and not zp.verify(aggregation.circuit, aggregation.keys, proof)
    ((examples, agg_proof),) = aggregated_batches(test_set.commitments, test_set.labels, {index: proof}, [index],
                                                  aggregation)
    return index, examples[0], agg_proof


def register_model(market, verifier, weights=DIGITS_MODEL) -> int:
    eth = "0x" + "00" * 20
    stake = market.registry.functions.requiredStake(eth).call()
    receipt = market.send(market.registry, "registerModel",
                          [verifier.address, b32(zp.commit_weights(weights)), "ipfs://digits", eth], value=stake)
    return market.event(receipt, market.registry, "ModelRegistered")["modelId"]


def register_aggregation(market, model_id: int, agg_verifier) -> int:
    """Registers the aggregation verifier; returns its block's timestamp. Anvil may mine the next
    blocks in the same second: its clock is moved on, so jobs opened next are opened later."""
    receipt = market.send(market.registry, "registerAggregationVerifier", [model_id, agg_verifier.address, BATCH])
    registered = market.event(receipt, market.registry, "AggregationVerifierRegistered")
    assert (registered["verifier"], registered["batchSize"]) == (agg_verifier.address, BATCH)
    market.w3.provider.make_request("evm_increaseTime", [1])
    return int(market.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def register_aggregated(market, verifier, agg_verifier, weights=DIGITS_MODEL) -> int:
    model_id = register_model(market, verifier, weights)
    register_aggregation(market, model_id, agg_verifier)
    return model_id


def run_to_proving(mc: GuardedAuditConsumer, mp: GuardedAuditProvider, model_id: int, before_join=None):
    """Open, join, both data transfers and the decision: the audit waits for MP's one proof.
    `before_join(audit_id)` runs between the opening and MP's join. Returns the audit, the rest's
    delivery and its decrypted items."""
    audit_id = mc.open(model_id, *TARGET)
    if before_join:
        before_join(audit_id)
    mp.join(audit_id, SEED)
    for rest in (False, True):
        batch, delivery = mc.send_items(audit_id, rest)
        mp.acknowledge(audit_id, Delivery.from_json(delivery.to_json()), rest)
        mc.reveal(delivery.transfer_id, batch)
        items = mp.accept_or_contest(delivery)
        if not rest:
            assert mp.decide(audit_id, items, delivery.labels)
    return audit_id, delivery, items


def test_appendix_b_audit_paid_with_an_aggregated_proof(deployed, actors, verifier, agg_verifier, proven, test_set,
                                                        digits_circuit, digits_keys):
    session, c = deployed
    audits = c["GriefingResistantAudit"]
    mc = GuardedAuditConsumer(market_for(deployed, actors["consumer"]), test_set)
    mp = GuardedAuditProvider(market_for(deployed, actors["provider"]), DIGITS_MODEL, digits_circuit, digits_keys)
    model_id = register_aggregated(mp.m, verifier, agg_verifier)
    start = {who: session.balance(actors[who]) for who in ("consumer", "provider", "fees")}
    session.gas_cost.clear()
    audit_id, _, _ = run_to_proving(mc, mp, model_id)
    index, example, agg_proof = proven
    provider = actors["provider"].address

    def refused(examples, agg=agg_proof) -> bytes:
        return session.revert_data(audits, "submitAggregatedProofs", [audit_id, examples, agg], provider)[:4]

    changed = example[:3] + ((example[3] + 1) % 10,) + example[4:]
    assert refused([changed]) == REJECTED
    other = subset_of(SEED, N, N1)[0]  # the proof claimed for a committed example of the subset
    assert refused([(other, test_set.commitments[other], test_set.labels[other], example[3],
                     test_set.proofs[other])]) == selector("IndexInSubset(uint256,uint32)")
    swapped = (index, test_set.commitments[other], test_set.labels[other], example[3], test_set.proofs[other])
    assert refused([swapped]) == selector("ExampleNotCommitted(uint256,uint32,bytes32,uint256)")
    forged = ([x ^ 1 if i == 0 else x for i, x in enumerate(agg_proof[0])], agg_proof[1])
    assert refused([example], forged) == REJECTED
    assert refused([example, example]) == selector("BatchTooLarge(uint256,uint256)")

    # MC's own check before paying: the registered aggregation verifier by eth_call.
    checker = AggregatedChecker(mc.m, model_id, b32(zp.commit_weights(DIGITS_MODEL)), mc.m.audit(audit_id).openedAt)
    assert checker(AggregatedBatch(({"inputCommitment": example[1], "predictedClass": example[3]},),
                                   tuple(agg_proof[0]), agg_proof[1])) is None
    assert "rejects" in checker(AggregatedBatch(({"inputCommitment": example[1], "predictedClass": example[3]},),
                                                tuple(forged[0]), forged[1]))

    session.send(audits, "submitAggregatedProofs", [audit_id, [example], agg_proof], actors["provider"])
    assert audits.functions.isProven(audit_id, index).call()
    # Replayed: refused (every N2 example is in, so the audit no longer takes proofs; a replay
    # while others are missing is AlreadyProven, tested in Foundry).
    assert refused([example]) == selector("UnexpectedAuditState(uint256,uint8)")
    a = audits.functions.audit(audit_id).call()
    assert (a.submitted, a.correct) == (N - N1, N - N1)

    settled = GuardedAuditConsumer(market_for(deployed, actors["fees"]), test_set).finalize(audit_id)
    consumer_pay, provider_pay = guarded_audit_payouts(GuardedOutcome.PASSED, N, N1, PRICES)
    assert (settled["outcome"], settled["consumerPayout"], settled["providerPayout"]) == (
        GuardedOutcome.PASSED, consumer_pay, provider_pay)
    withdraw_all(session, audits, actors)
    net = net_change(session, actors, start)
    fee, eps = 2 * (N1 * PRICES.inference_p + (N - N1) * PRICES.proof_z), PRICES.fee_epsilon
    assert net == {"consumer": -fee - eps, "provider": fee - eps, "fees": 2 * eps}


def test_batch_of_the_registered_circuit_but_other_weights_is_refused(tmp_path, deployed, actors, verifier,
                                                                      agg_verifier, proven, test_set,
                                                                      digits_circuit, digits_keys):
    """A model registered with other weights (same hidden-weights circuit, same verifiers): the
    batch's inner proof carries the digits weight commitment, not the registered one."""
    session, c = deployed
    doc = json.loads(DIGITS_MODEL.read_text())
    doc["layers"][0]["bias"][0] += 1
    other = tmp_path / "other-weights.json"
    other.write_text(json.dumps(doc))
    mc = GuardedAuditConsumer(market_for(deployed, actors["consumer"]), test_set)
    mp = GuardedAuditProvider(market_for(deployed, actors["provider"]), other, digits_circuit, digits_keys)
    model_id = register_aggregated(mp.m, verifier, agg_verifier, weights=other)
    audit_id, _, _ = run_to_proving(mc, mp, model_id)
    _, example, agg_proof = proven
    assert session.revert_data(c["GriefingResistantAudit"], "submitAggregatedProofs", [audit_id, [example], agg_proof],
                               actors["provider"].address)[:4] == REJECTED


def test_batch_for_an_audit_opened_before_the_aggregation_verifier_is_refused(deployed, actors, verifier,
                                                                            agg_verifier, proven, test_set,
                                                                            digits_circuit, digits_keys):
    """MC opens an audit of a model without an aggregation verifier; MP registers one before it
    joins. The batch is refused by the contract and by MC's own check; single proofs still work."""
    session, c = deployed
    audits = c["GriefingResistantAudit"]
    mc = GuardedAuditConsumer(market_for(deployed, actors["consumer"]), test_set)
    mp = GuardedAuditProvider(market_for(deployed, actors["provider"]), DIGITS_MODEL, digits_circuit, digits_keys)
    model_id = register_model(mp.m, verifier)

    def register_after_opening(audit_id: int) -> None:
        registered_at = register_aggregation(mp.m, model_id, agg_verifier)
        assert registered_at >= mc.m.audit(audit_id).openedAt
        assert mp.m.registry.functions.aggregationTerms(model_id).call()[3] == registered_at

    audit_id, delivery, items = run_to_proving(mc, mp, model_id, before_join=register_after_opening)
    opened_at = mc.m.audit(audit_id).openedAt
    index, example, agg_proof = proven
    provider = actors["provider"].address
    assert session.revert_data(audits, "submitAggregatedProofs", [audit_id, [example], agg_proof],
                               provider)[:4] == NOT_IN_TERMS
    checker = AggregatedChecker(mc.m, model_id, b32(zp.commit_weights(DIGITS_MODEL)), opened_at)
    assert "not among the job's terms" in checker(AggregatedBatch(
        ({"inputCommitment": example[1], "predictedClass": example[3]},), tuple(agg_proof[0]), agg_proof[1]))
    # Single proofs (the keccak transcript) prove the audit.
    mp.submit(audit_id, mp.prove({index: items[index]}), delivery)
    assert audits.functions.isProven(audit_id, index).call()
