"""The local content store: round trips, named missing and tampered objects, atomic writes, and
the commitment checks of zkmarket.store.verify on top of it."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_hash.auto import keccak

from zkmarket.store import (
    Cid,
    ContentStore,
    Digest,
    Expected,
    InvalidCid,
    LocalStore,
    ObjectMissing,
    ObjectsRejected,
    ObjectTampered,
    StoreError,
    fetch_all,
    fetch_verified,
)

pytestmark = pytest.mark.unit

# The CIDv1 (raw, sha2-256) of the empty byte string, as IPFS names it.
EMPTY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def tamper(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def test_put_get_round_trip(store):
    data = os.urandom(5000)
    cid = store.put(data)
    assert cid.startswith("bafkrei") and store.get(cid) == data
    assert store.put(data) == cid  # same bytes, same address
    assert store.has(cid)
    store.pin(cid)
    assert isinstance(store, ContentStore)


def test_cid_is_the_ipfs_raw_sha256_cid(store):
    assert store.put(b"") == EMPTY_CID
    c = Cid.parse(EMPTY_CID)
    assert (c.version, c.codec, c.hash_code, c.digest) == (1, 0x55, 0x12, hashlib.sha256(b"").digest())
    assert str(c) == EMPTY_CID and Cid.from_bytes(c.to_bytes()) == c


def test_cid_parses_v0_and_other_multibases():
    v0 = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"
    c = Cid.parse(v0)
    assert (c.version, c.codec, c.hash_code) == (0, 0x70, 0x12) and str(c) == v0
    raw = Cid.parse(EMPTY_CID).to_bytes()
    assert Cid.parse("f" + raw.hex()) == Cid.parse(EMPTY_CID)
    assert Cid.parse(EMPTY_CID.upper()) == Cid.parse(EMPTY_CID)


@pytest.mark.parametrize("text", ["", "hello", "bafkrei", "Qm" + "1" * 44, "x" + "aa" * 10])
def test_invalid_cid_is_refused(store, text):
    with pytest.raises(InvalidCid, match="invalid CID"):
        store.get(text)


def test_local_store_refuses_cids_it_cannot_hold(store):
    with pytest.raises(InvalidCid, match="only CIDv1 raw sha2-256"):
        store.get("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")


def test_missing_object_is_named(store):
    cid = str(Cid.raw_sha256(b"never stored"))
    assert not store.has(cid)
    with pytest.raises(ObjectMissing) as e:
        store.get(cid)
    assert e.value.cid == cid and cid in str(e.value) and str(store.root) in str(e.value)
    with pytest.raises(ObjectMissing, match=cid):
        store.pin(cid)


@pytest.mark.parametrize("changed", [b"X" * 100, b"", b"original bytes" + b"\0"])
def test_tampered_file_on_disk_is_detected_and_named(store, changed):
    cid = store.put(b"original bytes")
    path = store.path_of(cid)
    tamper(path, changed)
    with pytest.raises(ObjectTampered) as e:
        store.get(cid)
    err = e.value
    assert err.cid == cid and cid in str(err) and str(path) in str(err)
    assert err.expected == "sha256:" + hashlib.sha256(b"original bytes").hexdigest()
    assert err.actual == "sha256:" + hashlib.sha256(changed).hexdigest()
    with pytest.raises(ObjectTampered):
        store.pin(cid)


def test_put_repairs_a_tampered_copy(store):
    cid = store.put(b"payload")
    tamper(store.path_of(cid), b"garbage")
    assert store.put(b"payload") == cid and store.get(cid) == b"payload"


def test_stored_files_are_read_only(store):
    cid = store.put(b"immutable")
    assert not store.path_of(cid).stat().st_mode & 0o222


def test_failed_write_leaves_nothing_behind(store, monkeypatch):
    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.put(b"half written")
    monkeypatch.undo()
    cid = str(Cid.raw_sha256(b"half written"))
    assert not store.has(cid)
    assert [p for p in store.root.rglob("*") if p.is_file()] == []


def test_concurrent_writers_and_readers_never_see_partial_objects(store):
    """Many threads write the same large objects while others read them: a reader gets either
    ObjectMissing (not written yet) or the whole object, never a torn or tampered one."""
    blobs = [os.urandom(1 << 20) for _ in range(3)]
    cids = [str(Cid.raw_sha256(b)) for b in blobs]
    errors: list[BaseException] = []
    seen = []

    def write(b):
        try:
            for _ in range(5):
                store.put(b)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def read():
        try:  # until every object was read whole at least once (the writers finish in well under 10 s)
            deadline = time.monotonic() + 10
            while set(seen) != set(cids) and time.monotonic() < deadline:
                for cid, b in zip(cids, blobs):
                    try:
                        assert store.get(cid) == b
                        seen.append(cid)
                    except ObjectMissing:
                        pass
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=write, args=(b,)) for b in blobs for _ in range(3)]
    threads += [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(seen) == set(cids)  # the readers really read the objects while they were being written
    assert all(store.get(c) == b for c, b in zip(cids, blobs))
    assert not list(store.root.rglob(".tmp-*"))


def test_fetch_verified_checks_the_committed_digest(store):
    data = b"ciphertext item 0"
    cid = store.put(data)
    assert fetch_verified(store, cid, Digest("keccak256", keccak(data))) == data
    assert fetch_verified(store, cid, Digest.of(data, "sha256")) == data
    other = Digest("keccak256", keccak(b"what was committed on chain"))
    with pytest.raises(ObjectTampered) as e:
        fetch_verified(store, cid, other, name="ciphertext 0")
    assert "ciphertext 0" in str(e.value) and cid in str(e.value) and str(other) in str(e.value)
    assert e.value.name == "ciphertext 0" and "committed digest" in str(e.value)


def test_fetch_all_names_every_missing_and_tampered_object(store):
    items = [os.urandom(64) for _ in range(4)]
    cids = [store.put(b) for b in items]
    expected = [Expected(c, Digest.of(b, "keccak256"), f"test item {i}") for i, (c, b) in enumerate(zip(cids, items))]
    assert fetch_all(store, expected) == items

    tamper(store.path_of(cids[1]), b"swapped")
    missing = str(Cid.raw_sha256(b"lost"))
    expected[3] = Expected(missing, Digest.of(b"lost", "keccak256"), "test item 3")
    with pytest.raises(ObjectsRejected) as e:
        fetch_all(store, expected)
    err = e.value
    assert [type(f) for f in err.failures] == [ObjectTampered, ObjectMissing]
    assert "2 of 4 objects rejected" in str(err)
    assert "test item 1" in str(err) and cids[1] in str(err) and "test item 3" in str(err) and missing in str(err)

    with pytest.raises(ObjectTampered, match="test item 1"):
        fetch_all(store, expected, fail_fast=True)
    with pytest.raises(ObjectMissing, match="test item 3"):
        fetch_all(store, expected[2:])


@pytest.mark.parametrize("text, message", [
    ("abcd", "not ALGORITHM:HEX"),
    ("md5:" + "00" * 32, "unknown digest algorithm"),
    ("sha256:zz", "not hex"),
    ("sha256:0x1234", "32 bytes"),
])
def test_bad_digest_strings_are_refused(text, message):
    with pytest.raises(StoreError, match=message):
        Digest.parse(text)


def test_digest_parse_round_trip():
    d = Digest.of(b"x", "keccak256")
    assert Digest.parse(str(d)) == d and str(d).startswith("keccak256:0x")


def store_cli(tmp_path, *args: str, ok: bool = True):
    from zkmarket.cli import main

    result = CliRunner().invoke(main, ["store", "--dir", str(tmp_path / "cli-store"), *args])
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_cli_put_get_expect(tmp_path):
    src, out = tmp_path / "in.bin", tmp_path / "out.bin"
    src.write_bytes(b"test set v1")
    cid = store_cli(tmp_path, "put", str(src)).output.strip()
    assert cid == str(Cid.raw_sha256(b"test set v1"))
    store_cli(tmp_path, "get", cid, "-o", str(out))
    assert out.read_bytes() == b"test set v1"
    commitment = store_cli(tmp_path, "digest", str(src), "keccak256").output.strip()
    assert commitment == "keccak256:0x" + keccak(b"test set v1").hex()
    store_cli(tmp_path, "get", cid, "-o", str(out), "--expect", commitment)
    assert store_cli(tmp_path, "has", cid).output.strip() == "yes"
    assert "pinned" in store_cli(tmp_path, "pin", cid).output


def test_cli_errors_are_one_line_and_name_the_object(tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(b"abc")
    cid = store_cli(tmp_path, "put", str(src)).output.strip()
    wrong = "sha256:" + "11" * 32
    result = store_cli(tmp_path, "get", cid, "-o", str(tmp_path / "o"), "--expect", wrong, ok=False)
    assert result.output.startswith(f"error: object {cid}") and "tampered" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()
    missing = str(Cid.raw_sha256(b"nope"))
    result = store_cli(tmp_path, "get", missing, "-o", str(tmp_path / "o"), ok=False)
    assert result.output.startswith(f"error: object {missing} is missing")
    assert store_cli(tmp_path, "has", missing, ok=False).output.strip() == "no"
