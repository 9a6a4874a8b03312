"""zkmarket.protocol's encodings equal the contracts' own: the appendix-B subset, test-set
leaves, ciphertext digests (multi-chunk) and leaves, key commitments, serving-round leaves."""

from __future__ import annotations

import random

import pytest

from zkmarket.chain.merkle import leaf
from zkmarket.market import MarketParams, deploy_market
from zkmarket.protocol import ciphertext_digest, ciphertext_leaf, key_commitment, subset_of, example_leaf
from zkmarket.protocol.transfer import CONTEST_CHUNK_BYTES

pytestmark = pytest.mark.integration


@pytest.fixture
def contracts(chain, anvil):
    return deploy_market(chain, anvil.accounts[5], MarketParams(n1=2)).contracts(chain)


def test_python_mirror_equals_contract_views(contracts):
    rng = random.Random(11)
    audits, transfers = contracts["GriefingResistantAudit"], contracts["DataTransferService"]
    for n, n1 in [(3, 2), (10, 3), (100, 10), (257, 256)]:
        seed = rng.randbytes(32)
        assert audits.functions.subsetOf(seed, n, n1).call() == subset_of(seed, n, n1)
    for _ in range(3):
        index, commitment, label = rng.randrange(2**32), rng.randbytes(32), rng.randrange(1000)
        expected = example_leaf(index, commitment, label)
        assert contracts["AccuracyAudit"].functions.testLeaf(index, commitment, label).call() == expected
        assert transfers.functions.plaintextLeaf(index, commitment, label).call() == expected
        assert contracts["ServingRound"].functions.predictionLeaf(index, commitment, label).call() == expected
        assert contracts["ServingRound"].functions.inputLeaf(index, commitment).call() == leaf(
            ["uint256", "bytes32"], [index, commitment])
    for size in (0, 1, 64, CONTEST_CHUNK_BYTES, CONTEST_CHUNK_BYTES + 1, 2 * CONTEST_CHUNK_BYTES + 33):
        data = rng.randbytes(size)
        assert transfers.functions.ciphertextDigest(data).call() == ciphertext_digest(data)
        assert transfers.functions.ciphertextLeaf(7, data).call() == ciphertext_leaf(7, data)
    key, salt = rng.randbytes(32), rng.randbytes(32)
    assert transfers.functions.keyCommitmentOf(key, salt).call() == key_commitment(key, salt)
