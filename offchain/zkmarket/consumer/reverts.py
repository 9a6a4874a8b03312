"""Revert data -> one readable line: the custom error's name and its arguments, decoded with the
deployment's ABIs (selector = first 4 bytes of keccak of the error signature), enum arguments
named, plus a hint for the errors a consumer meets in practice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from ..protocol import states

# Solidity enums that appear in error arguments and views, by name; the ABI gives only "enum X"
# as internalType.
ENUMS: dict[str, list[str]] = {
    "GuardedState": states.GUARDED_STATES,
    "GuardedOutcome": states.GUARDED_OUTCOMES,
    "TransferState": states.TRANSFER_STATES,
    "TransferOutcome": states.TRANSFER_OUTCOMES,
    "AuditState": states.AUDIT_STATES,
    "AuditOutcome": states.AUDIT_OUTCOMES,
    "ModelStatus": states.MODEL_STATUSES,
    "RoundState": states.ROUND_STATES,
    "RoundOutcome": states.ROUND_OUTCOMES,
    "RequestState": states.REQUEST_STATES,
    "RetrievalOutcome": states.RETRIEVAL_OUTCOMES,
}

# What to do about the errors a consumer runs into (the message already names the error).
HINTS: dict[str, str] = {
    "ModelNotFound": "no model has this id on this deployment (ids run from 1 to ModelRegistry.modelCount())",
    "ModelUnavailable": "the model is unbonding, withdrawn or its stake was slashed: pick another model",
    "ModelNotAvailable": "the model is unbonding, withdrawn or its stake was slashed: pick another model",
    "UnexpectedAuditState": "the audit is not in the phase this step needs; see `zkmarket audit show ID`",
    "UnexpectedTransferState": "the data transfer is not in the phase this step needs; see `zkmarket audit show ID`",
    "NotAuditConsumer": "only the account that opened the audit may do this; check --keystore / $ZKMARKET_PRIVATE_KEY",
    "NothingToWithdraw": "this account has no credit here",
    "TestSetSizeOutOfRange": "an appendix-B audit needs N1 < N <= maxN examples",
    "InvalidTarget": "the target must be a fraction in (0, 1]",
    "EtherValueMismatch": "the amount sent differs from what the contract expects (prices changed?)",
    "TokenNotAccepted": "this marketplace does not accept that payment token",
    "VerifierNotContract": "no contract at the verifier address on this chain",
    "InvalidWeightCommitment": "the weight commitment must be a non-zero BN254 field element",
    "KeyCommitmentMismatch": "the key/salt do not match the transfer's key commitment",
    "AlreadyPublished": "this item of the data transfer is already published on chain",
    "PlaintextLeavesMismatch": "the published leaves do not rebuild the audit's committed test-set root",
}

_STANDARD = {
    keccak(text="Error(string)")[:4]: ("Error", [{"name": "reason", "type": "string"}]),
    keccak(text="Panic(uint256)")[:4]: ("Panic", [{"name": "code", "type": "uint256"}]),
}


def _type(inp: dict) -> str:
    t = inp["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in inp["components"]) + ")" + t[len("tuple"):]
    return t


def _show(value: Any, inp: dict) -> str:
    internal = inp.get("internalType", "")
    if internal.startswith("enum "):
        names = ENUMS.get(internal.split()[-1].split(".")[-1])
        if names and isinstance(value, int) and 0 <= value < len(names):
            return names[value]
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if inp["type"] == "address":
        return to_checksum_address(value)
    return str(value)


@dataclass(frozen=True)
class DecodedError:
    name: str
    args: dict[str, Any]
    text: str  # "Name(arg=value, ...)"

    @property
    def hint(self) -> str | None:
        return HINTS.get(self.name)


class ErrorTable:
    """Every custom error of the given ABIs, by selector."""

    def __init__(self, abis: Iterable[list[dict]]):
        self.errors: dict[bytes, tuple[str, list[dict]]] = dict(_STANDARD)
        for abi in abis:
            for item in abi:
                if item.get("type") == "error":
                    sig = f"{item['name']}({','.join(_type(i) for i in item['inputs'])})"
                    self.errors[keccak(text=sig)[:4]] = (item["name"], item["inputs"])

    def decode(self, data: bytes | str | None) -> DecodedError | None:
        """None when there is no revert data (out of gas, a plain `revert()`, a node message)."""
        if isinstance(data, str):
            try:
                data = bytes.fromhex(data.removeprefix("0x"))
            except ValueError:
                return None
        if not data or len(data) < 4:
            return None
        entry = self.errors.get(bytes(data[:4]))
        if entry is None:
            return DecodedError("unknown", {}, f"unknown custom error 0x{bytes(data[:4]).hex()}")
        name, inputs = entry
        try:
            values = abi_decode([_type(i) for i in inputs], bytes(data[4:])) if inputs else ()
        except Exception:  # malformed arguments: still name the error
            return DecodedError(name, {}, f"{name}(<undecodable arguments>)")
        args = {i["name"] or f"arg{k}": v for k, (i, v) in enumerate(zip(inputs, values))}
        shown = ", ".join(f"{i['name'] or f'arg{k}'}={_show(v, i)}" for k, (i, v) in enumerate(zip(inputs, values)))
        return DecodedError(name, args, f"{name}({shown})")


def revert_data(exc: BaseException) -> bytes | None:
    """The revert data web3 attached to a ContractCustomError / ContractLogicError, if any."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None
