"""zkmarket.protocol in pure Python: the amounts and decisions mirror the contracts (paper 5.2,
5.3, appendix B); the encodings are checked against the contracts' own views in
tests/integration/test_protocol_mirror.py."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from zkmarket.protocol import ciphertext_digest, encrypt_batch, key_commitment, subset_of
from zkmarket.protocol.rules import (
    AuditOutcome,
    GuardedOutcome,
    Prices,
    audit_escrow,
    guarded_audit_payouts,
    serving_round_payouts,
    should_proceed,
    simple_audit_payouts,
    target_met,
)
from zkmarket.protocol.transfer import CONTEST_CHUNK_BYTES, open_batch

pytestmark = pytest.mark.unit

PRICES = Prices(example_e=1000, proof_z=100, inference_p=10, fee_epsilon=1)


@pytest.mark.parametrize("outcome", list(GuardedOutcome))
@pytest.mark.parametrize("n,n1", [(2, 1), (100, 10), (7, 6)])
def test_guarded_payouts_conserve_the_held_4ne(outcome, n, n1):
    consumer, provider = guarded_audit_payouts(outcome, n, n1, PRICES)
    assert consumer >= 0 and provider >= 0
    assert consumer + provider == 4 * n * PRICES.example_e  # both 2NE; the fees went out at join


def test_guarded_payouts_are_the_papers_amounts():
    n, n1, e, z, p = 100, 10, PRICES.example_e, PRICES.proof_z, PRICES.inference_p
    assert guarded_audit_payouts(GuardedOutcome.PASSED, n, n1, PRICES) == (
        2 * n * e - 2 * (n1 * p + (n - n1) * z), 2 * n * e + 2 * (n1 * p + (n - n1) * z))
    assert guarded_audit_payouts(GuardedOutcome.ABORTED, n, n1, PRICES) == (2 * n * e - n1 * p, 2 * n * e + n1 * p)
    assert guarded_audit_payouts(GuardedOutcome.FAILED, n, n1, PRICES) == (4 * n * e, 0)
    assert guarded_audit_payouts(GuardedOutcome.CONSUMER_DEFAULTED, n, n1, PRICES) == (0, 4 * n * e)


@pytest.mark.parametrize("outcome", list(AuditOutcome))
def test_simple_payouts_conserve_and_match_the_paper(outcome):
    n, e = 10, PRICES.example_e
    consumer, provider = simple_audit_payouts(outcome, n, PRICES)
    assert consumer + provider == 4 * n * e
    expected_fee = {AuditOutcome.ABORTED: n * PRICES.inference_p, AuditOutcome.PASSED: 2 * n * PRICES.proof_z}
    if outcome in expected_fee:
        assert provider - 2 * n * e == expected_fee[outcome]
    else:
        assert provider == 0


def test_audit_escrow_is_2ne_plus_eps():
    assert audit_escrow(7, PRICES) == 2 * 7 * 1000 + 1


@pytest.mark.parametrize("answered", [True, False])
def test_serving_round_payouts_conserve_both_escrows(answered):
    k, k1, beta, z = 16, 3, 4, 100
    consumer, provider = serving_round_payouts(answered, k1, k, beta, z)
    assert consumer + provider == 2 * k * z + beta * k * z
    if answered:
        assert consumer == 2 * k * z - 2 * k1 * z  # MC pays 2*K1*Z
    else:
        assert provider == 0  # MP loses beta*K*Z


def test_prices_need_e_greater_z_greater_p_and_integers():
    with pytest.raises(ValueError, match="E > Z > P"):
        Prices(100, 100, 10, 1)
    with pytest.raises(ValueError, match="integer"):
        Prices(1000, 100.0, 10, 1)
    with pytest.raises(ValueError, match="integer"):
        Prices(1000, 100, 10, -1)


def test_target_met_is_exact_at_the_boundary():
    assert target_met(9, 10, 9, 10)
    assert not target_met(8, 10, 9, 10)
    assert target_met(2, 3, 2, 3) and not target_met(1, 3, 2, 3)


def test_should_proceed_needs_the_target_plus_margin_on_the_subset():
    assert should_proceed(9, 10, 9, 10)
    assert not should_proceed(8, 10, 9, 10)
    assert not should_proceed(9, 10, 9, 10, 1, 20)  # 0.9 < 0.9 + 0.05
    assert should_proceed(10, 10, 9, 10, 1, 20)
    with pytest.raises(ValueError):
        should_proceed(0, 0, 1, 2)


def test_subset_is_n1_distinct_indices_and_deterministic():
    seed = bytes(range(32))
    s = subset_of(seed, 50, 10)
    assert len(s) == len(set(s)) == 10 and all(0 <= i < 50 for i in s)
    assert subset_of(seed, 50, 10) == s
    assert subset_of(bytes(32), 50, 10) != s
    assert sorted(subset_of(seed, 5, 5)) == [0, 1, 2, 3, 4]
    assert subset_of(seed, 5, 0) == []
    with pytest.raises(ValueError):
        subset_of(seed, 5, 6)
    with pytest.raises(ValueError):
        subset_of(b"short", 5, 1)


def test_ciphertext_digest_is_a_hash_chain_over_chunks():
    small = b"x" * 100
    assert ciphertext_digest(small) == keccak(small)
    assert ciphertext_digest(b"") == keccak(b"")
    big = bytes(range(256)) * ((CONTEST_CHUNK_BYTES * 2 + 5) // 256 + 1)
    big = big[:CONTEST_CHUNK_BYTES * 2 + 5]
    last = keccak(big[2 * CONTEST_CHUNK_BYTES:])
    middle = keccak(big[CONTEST_CHUNK_BYTES:2 * CONTEST_CHUNK_BYTES] + last)
    assert ciphertext_digest(big) == keccak(big[:CONTEST_CHUNK_BYTES] + middle)
    exact = big[:CONTEST_CHUNK_BYTES]
    assert ciphertext_digest(exact) == keccak(exact)  # one whole chunk: no chain


def test_encrypted_batch_round_trips_and_uses_fresh_keys():
    items = {3: b"abc" * 20, 9: b"\x00" * 64}
    a, b = encrypt_batch(items), encrypt_batch(items)
    assert a.key != b.key and a.root != b.root
    assert open_batch(a.ciphertexts, a.key) == items
    assert a.key_commitment == key_commitment(a.key, a.salt)
    assert open_batch(a.ciphertexts, b.key) != items
    with pytest.raises(ValueError):
        encrypt_batch({})


def test_published_items_and_batches_fit_the_gas_limit():
    from zkmarket.protocol.transfer import (
        PUBLISH_GAS_CAP,
        PUBLISH_TX_GAS,
        publish_batches,
        publish_item_gas,
        published_items,
    )

    batch = encrypt_batch({i * 2: bytes([i]) * 64 for i in range(20)})
    items = published_items(batch)
    assert [i for i, _, _ in items] == sorted(batch.ciphertexts)
    assert all(c == batch.ciphertexts[i] and p == batch.proofs[i] for i, c, p in items)
    assert [i for i, _, _ in published_items(batch, skip={0, 6})] == [i for i, _, _ in items if i not in (0, 6)]
    assert publish_batches(items) == [items]  # small items: one transaction
    limit = PUBLISH_TX_GAS + 3 * publish_item_gas(items[0])
    chunks = publish_batches(items, limit)
    assert [item for chunk in chunks for item in chunk] == items  # in order, each once
    assert all(PUBLISH_TX_GAS + sum(publish_item_gas(x) for x in chunk) <= limit for chunk in chunks)
    assert len(chunks) == 7 and publish_batches([], limit) == []
    big = published_items(encrypt_batch({0: bytes(96 * 96 * 3), 1: bytes(96 * 96 * 3)}))
    assert [len(c) for c in publish_batches(big, 10**9)] == [2]  # capped at PUBLISH_GAS_CAP, both fit
    assert PUBLISH_TX_GAS + 2 * publish_item_gas(big[0]) <= PUBLISH_GAS_CAP
    with pytest.raises(ValueError, match="item 0 .* does not fit"):
        publish_batches(big, 1_000_000)
