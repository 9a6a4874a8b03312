"""The consumer's pure parts: targets, revert decoding, example files and MC's state file."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from zkmarket.consumer import ConsumerError, ErrorTable, StateFileError, TestSetFileError, parse_target
from zkmarket.consumer.client import format_amount
from zkmarket.consumer.driver import when
from zkmarket.consumer.state import AuditStateFile, find_state, state_path
from zkmarket.consumer.testsets import load_examples

pytestmark = pytest.mark.unit

ABI = [{"type": "error", "name": "UnexpectedAuditState", "inputs": [
    {"name": "auditId", "type": "uint256", "internalType": "uint256"},
    {"name": "current", "type": "uint8", "internalType": "enum GuardedState"}]},
    {"type": "error", "name": "ModelNotFound", "inputs": [{"name": "modelId", "type": "uint256"}]}]


@pytest.mark.parametrize("text,expected", [("0.9", (9, 10)), ("90%", (9, 10)), ("3/4", (3, 4)), ("1", (1, 1))])
def test_parse_target_accepts_fractions(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["0", "1.5", "-0.1", "abc", "1/0"])
def test_parse_target_refuses_outside_unit_interval(text):
    with pytest.raises(ConsumerError, match="--target"):
        parse_target(text)


def test_error_table_names_the_error_and_its_enum_arguments():
    table = ErrorTable([ABI])
    data = keccak(text="UnexpectedAuditState(uint256,uint8)")[:4] + abi_encode(["uint256", "uint8"], [3, 11])
    assert table.decode(data).text == "UnexpectedAuditState(auditId=3, current=Proving)"
    assert table.decode("0x" + (keccak(text="ModelNotFound(uint256)")[:4] + abi_encode(["uint256"], [9])).hex()).name \
        == "ModelNotFound"
    reason = keccak(text="Error(string)")[:4] + abi_encode(["string"], ["nope"])
    assert table.decode(reason).text == "Error(reason=nope)"
    assert table.decode(b"\x12\x34\x56\x78").name == "unknown"
    assert table.decode(b"") is None


def test_amounts_and_deadlines_read_well():
    assert format_amount(12_001 * 10**12) == "0.012001 ETH"
    assert format_amount(2 * 10**18) == "2 ETH"
    assert when(3_600 + 61, 0).endswith("(in 1h 1m 1s)")
    assert when(0, 90).endswith("(1m 30s ago)")


def test_examples_from_npy_and_json(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(8, dtype=np.uint8).reshape(2, 2, 2))
    (tmp_path / "y.json").write_text("[1, 0]")
    items, labels = load_examples(tmp_path / "x.npy", tmp_path / "y.json")
    assert items == [bytes([0, 1, 2, 3]), bytes([4, 5, 6, 7])] and labels == [1, 0]
    (tmp_path / "ragged.json").write_text("[[1, 2], [3]]")
    with pytest.raises(TestSetFileError, match="different sizes"):
        load_examples(tmp_path / "ragged.json", tmp_path / "y.json")
    (tmp_path / "neg.json").write_text("[1, -2]")
    with pytest.raises(TestSetFileError, match="label 1"):
        load_examples(tmp_path / "x.npy", tmp_path / "neg.json")
    with pytest.raises(TestSetFileError, match="does not exist"):
        load_examples(tmp_path / "missing.npy", tmp_path / "y.json")


def test_state_file_is_private_durable_and_found_by_audit_id(tmp_path, monkeypatch):
    testset = tmp_path / "ts.json"
    state = AuditStateFile(state_path(testset, 7), 31337, "0x" + "ab" * 20, 7, str(testset), "00" * 32, 1)
    keys = state.keys_for("subset")
    assert state.keys_for("subset") is keys  # made once
    assert stat.S_IMODE(state.path.stat().st_mode) == 0o600
    loaded = AuditStateFile.load(state.path)
    assert loaded.transfers["subset"].key == keys.key and loaded.path.name == "ts.audit-7.json"
    monkeypatch.chdir(tmp_path)
    assert find_state(7) == state.path and find_state(8) is None
    with pytest.raises(StateFileError, match="not of audit 7"):
        loaded.check_belongs(1, "0x" + "ab" * 20, 7)
    state.path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(StateFileError, match="not a zkmarket consumer audit state file"):
        AuditStateFile.load(state.path)
