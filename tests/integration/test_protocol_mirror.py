"""zkmarket.protocol's encodings equal the contracts' own: the appendix-B subset, test-set
leaves, ciphertext digests (multi-chunk) and leaves, key commitments, serving-round leaves; and
the proof of delivery: the root DataTransfer rebuilds from published leaves is zkmarket.chain's
Merkle root for any number of leaves, and published_items' proofs are the committed tree's."""

from __future__ import annotations

import random

import pytest
from eth_abi import decode as abi_decode

from zkmarket.chain import deploy
from zkmarket.chain.session import ContractSession
from zkmarket.chain.solidity import compile_sources
from zkmarket.market import MarketParams, deploy_market
from zkmarket.protocol import ciphertext_digest, ciphertext_leaf, example_leaf, key_commitment, subset_of
from zkmarket.protocol.merkle import leaf, merkle, selector
from zkmarket.protocol.transfer import (
    CONTEST_CHUNK_BYTES,
    PUBLISH_TX_GAS,
    encrypt_batch,
    publish_batches,
    publish_item_gas,
    published_items,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def contracts(chain, anvil):
    return deploy_market(chain, anvil.accounts[5], MarketParams(n1=2)).contracts(chain)


# The smallest client of the DataTransferService: opens transfers with given roots (any index
# below 1000 is an item), so the proof-of-delivery checks can be called directly.
MIRROR_CLIENT = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
interface ITransferService {
    function openTransfer(address, address, bytes32, bytes32, bytes32, uint32) external returns (uint256);
}
contract MirrorClient {
    function open(ITransferService s, address receiver, bytes32 croot, bytes32 proot, uint32 count)
        external returns (uint256)
    {
        return s.openTransfer(msg.sender, receiver, croot, bytes32(uint256(7)), proot, count);
    }
    function onTransferResolved(uint256, uint8) external {}
    function isTransferItem(uint256, uint32 index) external pure returns (bool) { return index < 1000; }
}
"""


@pytest.fixture
def mirror_client(chain, anvil):
    compiled = compile_sources({"MirrorClient.sol": MIRROR_CLIENT}, remappings=())["MirrorClient.sol:MirrorClient"]
    address = deploy(chain, compiled, private_key=anvil.accounts[6].private_key).address
    return chain.eth.contract(address=address, abi=compiled.abi, decode_tuples=True)


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


def test_published_leaves_rebuild_zkmarket_merkle_root(contracts, mirror_client, chain, anvil):
    """DataTransfer's on-chain rebuild of the plaintext root (publishPlaintextLeaves) equals
    zkmarket.chain.merkle.merkle for 1..9 leaves (lone nodes at every level); the mismatch error
    reports the root the contract built, so a wrong set shows it too."""
    transfers, client = contracts["DataTransferService"], mirror_client
    account = anvil.accounts[6]
    session = ContractSession(chain)
    rng = random.Random(5)
    mismatch = selector("PlaintextLeavesMismatch(uint256,bytes32,bytes32)")
    for n in range(1, 10):
        commitments = [rng.randbytes(32) for _ in range(n)]
        labels = [rng.randrange(10) for _ in range(n)]
        root, _ = merkle([example_leaf(i, c, y) for i, (c, y) in enumerate(zip(commitments, labels))])
        receipt = session.send(client, "open", [transfers.address, anvil.accounts[7].address, b"\x01" * 32, root, n],
                               account)
        (committed,) = session.events(receipt, transfers, "TransferCommitted")
        tid = committed["args"]["transferId"]
        transfers.functions.publishPlaintextLeaves(tid, commitments, labels).call()  # rebuilds `root`
        other = list(labels)
        other[rng.randrange(n)] += 1
        expected, _ = merkle([example_leaf(i, c, y) for i, (c, y) in enumerate(zip(commitments, other))])
        data = session.revert_data(transfers, "publishPlaintextLeaves", [tid, commitments, other], account.address)
        assert data[:4] == mismatch
        assert abi_decode(["uint256", "bytes32", "bytes32"], data[4:]) == (tid, root, expected), n


def test_published_items_are_accepted_and_fit_their_gas_estimate(contracts, mirror_client, chain, anvil):
    """published_items' (index, ciphertext, proof) triples pass publishItems against the batch's
    root, and publish_item_gas bounds the real cost (64-byte and 96x96x3 items)."""
    transfers, client = contracts["DataTransferService"], mirror_client
    account = anvil.accounts[6]
    session = ContractSession(chain)
    rng = random.Random(6)
    for size, count in ((64, 9), (96 * 96 * 3, 3)):
        batch = encrypt_batch({i * 3 + 1: rng.randbytes(size) for i in range(count)})
        receipt = session.send(client, "open", [transfers.address, anvil.accounts[7].address, batch.root,
                                                b"\x02" * 32, count], account)
        tid = session.events(receipt, transfers, "TransferCommitted")[0]["args"]["transferId"]
        items = published_items(batch)
        assert [i for i, _, _ in items] == sorted(batch.ciphertexts)
        (one_batch,) = publish_batches(items)
        gas = transfers.functions.publishItems(tid, one_batch).estimate_gas({"from": account.address})
        bound = PUBLISH_TX_GAS + sum(publish_item_gas(item) for item in items)
        assert gas <= bound, (size, gas)
        session.send(transfers, "publishItems", [tid, one_batch[:1]], account)
        rest = published_items(batch, skip={items[0][0]})
        assert rest == items[1:]
        session.send(transfers, "publishItems", [tid, rest], account)
        assert transfers.functions.getTransfer(tid).call().published == count
