"""A data transfer's ciphertexts through the content store: the manifest's digests must rebuild
the on-chain ciphertext root, and a missing or tampered object is named by transfer and item."""

from __future__ import annotations

import os
import stat

import pytest

from zkmarket.participants.delivery import Delivery, DeliveryError, fetch, publish
from zkmarket.protocol import encrypt_batch
from zkmarket.store import LocalStore

pytestmark = pytest.mark.unit


@pytest.fixture
def sent(tmp_path):
    store = LocalStore(tmp_path / "store")
    batch = encrypt_batch({2: b"a" * 64, 5: b"b" * 64, 7: b"c" * 10})
    delivery = Delivery(9, batch.ciphertexts, [bytes(32)] * 8, [0] * 8)
    return store, batch, delivery, publish(store, delivery)


def test_published_delivery_fetches_back_exactly(sent):
    store, batch, delivery, manifest = sent
    assert fetch(store, manifest, batch.root) == delivery


def test_tampered_object_is_named(sent):
    store, batch, _, manifest = sent
    path = store.path_of(manifest["items"]["5"]["cid"])
    os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
    path.write_bytes(b"x" * 64)
    with pytest.raises(DeliveryError, match="transfer 9 item 5.*tampered"):
        fetch(store, manifest, batch.root)


def test_missing_object_is_named(sent):
    store, batch, _, manifest = sent
    store.path_of(manifest["items"]["7"]["cid"]).unlink()
    with pytest.raises(DeliveryError, match="transfer 9 item 7.*missing"):
        fetch(store, manifest, batch.root)


def test_manifest_not_matching_the_onchain_root_is_refused(sent):
    store, batch, _, manifest = sent
    manifest["items"]["2"]["digest"] = "00" * 32
    with pytest.raises(DeliveryError, match="rebuild root"):
        fetch(store, manifest, batch.root)
    with pytest.raises(DeliveryError, match="malformed"):
        fetch(store, {"transferId": 1}, batch.root)


def test_object_swapped_for_another_valid_object_is_caught_by_its_digest(sent):
    store, batch, _, manifest = sent
    manifest["items"]["5"]["cid"] = manifest["items"]["2"]["cid"]  # a real object, the wrong one
    with pytest.raises(DeliveryError, match="transfer 9 item 5.*ciphertext digest"):
        fetch(store, manifest, batch.root)
