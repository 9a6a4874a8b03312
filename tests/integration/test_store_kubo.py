"""The IPFS content store against a real Kubo daemon (built by `make kubo`, started offline on a
repository of its own): the same contract as the local store, plus objects tampered inside the
daemon's blockstore and objects whose content differs from the committed digest.

Without a Kubo binary these tests are skipped with the reason, except under CI (CI=true), where
`make test` builds it first and a missing binary is a failure, not a skip."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from zkmarket.store import (
    BackendUnavailable,
    Cid,
    ContentStore,
    Digest,
    Expected,
    KuboDaemon,
    KuboNotFound,
    KuboStore,
    LocalStore,
    ObjectMissing,
    ObjectsRejected,
    ObjectTampered,
    fetch_all,
    fetch_verified,
    find_kubo,
)

pytestmark = pytest.mark.integration

CHUNK = 256 * 1024  # Kubo's default chunk size: larger files become dag-pb trees


@pytest.fixture(scope="module")
def kubo_binary() -> Path:
    try:
        return find_kubo()
    except KuboNotFound as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e} (under CI `make test` builds it; a missing daemon must not pass as a skip)")
        pytest.skip(f"IPFS store tests need a Kubo daemon: {e}")


@pytest.fixture(scope="module")
def daemon(kubo_binary):
    with KuboDaemon(kubo_binary) as d:
        yield d


@pytest.fixture
def store(daemon) -> KuboStore:
    return KuboStore(daemon.api_url, timeout=10)


def blockstore_file(daemon: KuboDaemon, block: bytes) -> Path:
    """The file in the daemon's flatfs blockstore that holds ``block``."""
    found = [p for p in (daemon.repo / "blocks").rglob("*.data") if p.read_bytes() == block]
    assert len(found) == 1, f"block not found once in the blockstore: {found}"
    return found[0]


def test_put_get_round_trip_small_object(store, tmp_path):
    data = os.urandom(1000)
    cid = store.put(data)
    assert cid == LocalStore(tmp_path).put(data)  # one address in both stores for one-chunk objects
    assert store.get(cid) == data and store.has(cid)
    store.pin(cid)
    assert isinstance(store, ContentStore)


def test_empty_object(store):
    assert store.put(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_large_object_is_a_verified_unixfs_tree(store):
    data = os.urandom(3 * CHUNK + 12345)
    cid = store.put(data)
    c = Cid.parse(cid)
    assert c.codec == 0x70 and cid.startswith("bafybei")  # dag-pb root over raw leaves
    assert store.get(cid) == data and store.has(cid)
    store.pin(cid)


def test_missing_object_is_named(store):
    cid = str(Cid.raw_sha256(os.urandom(32)))
    assert not store.has(cid)
    with pytest.raises(ObjectMissing) as e:
        store.get(cid)
    assert e.value.cid == cid and store.client.api_url in str(e.value)
    with pytest.raises(ObjectMissing, match=cid):
        store.pin(cid)


def test_block_tampered_in_the_daemons_blockstore_is_detected(store, daemon):
    data = os.urandom(2000)
    cid = store.put(data)
    blockstore_file(daemon, data).write_bytes(b"Y" * 2000)
    with pytest.raises(ObjectTampered) as e:
        store.get(cid)
    assert e.value.cid == cid and cid in str(e.value) and "tampered" in str(e.value)


def test_leaf_tampered_inside_a_large_object_is_detected(store, daemon):
    data = os.urandom(2 * CHUNK + 10)
    cid = store.put(data)
    second_leaf = data[CHUNK:2 * CHUNK]
    blockstore_file(daemon, second_leaf).write_bytes(b"\0" * CHUNK)
    with pytest.raises(ObjectTampered) as e:
        store.get(cid)
    leaf_cid = str(Cid.raw_sha256(second_leaf))
    assert e.value.cid == cid and f"block {leaf_cid}" in str(e.value)


def test_content_that_differs_from_the_committed_digest_is_named(store):
    served = b"ciphertext the provider actually uploaded"
    committed = Digest.of(b"ciphertext the consumer committed on chain", "keccak256")
    cid = store.put(served)
    with pytest.raises(ObjectTampered) as e:
        fetch_verified(store, cid, committed, name="ciphertext 7")
    assert "ciphertext 7" in str(e.value) and cid in str(e.value) and str(committed) in str(e.value)
    assert fetch_verified(store, cid, Digest.of(served, "keccak256")) == served


def test_fetch_all_against_kubo(store, daemon):
    items = [os.urandom(100) for _ in range(3)] + [os.urandom(CHUNK + 1)]
    cids = [store.put(b) for b in items]
    expected = [Expected(c, Digest.of(b), f"item {i}") for i, (c, b) in enumerate(zip(cids, items))]
    assert fetch_all(store, expected) == items

    blockstore_file(daemon, items[0]).write_bytes(os.urandom(100))
    lost = str(Cid.raw_sha256(b"never added"))
    expected[2] = Expected(lost, Digest.of(b"never added"), "item 2")
    with pytest.raises(ObjectsRejected) as e:
        fetch_all(store, expected)
    assert [(type(f), f.name) for f in e.value.failures] == [(ObjectTampered, "item 0"), (ObjectMissing, "item 2")]


def test_no_daemon_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the test talks to it
    store = KuboStore(f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(BackendUnavailable, match=f"no Kubo RPC API at http://127.0.0.1:{port}"):
        store.put(b"x")


def test_cli_with_the_kubo_backend(store, tmp_path):
    from zkmarket.cli import main

    src, out = tmp_path / "in.bin", tmp_path / "out.bin"
    src.write_bytes(os.urandom(CHUNK * 2))
    base = ["store", "--backend", "kubo", "--kubo-api", store.client.api_url]
    result = CliRunner().invoke(main, [*base, "put", str(src)])
    assert result.exit_code == 0, result.output
    cid = result.output.strip()
    result = CliRunner().invoke(main, [*base, "get", cid, "-o", str(out), "--expect",
                                       str(Digest.of(src.read_bytes(), "keccak256"))])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == src.read_bytes()
    missing = str(Cid.raw_sha256(b"absent"))
    result = CliRunner().invoke(main, [*base, "get", missing, "-o", str(out)])
    assert result.exit_code == 1 and result.output.startswith(f"error: object {missing} is missing")
