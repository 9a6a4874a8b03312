"""Deploy contracts and send/call raw calldata with web3 8, signing locally with eth-account.

    dep = deploy(w3, compiled, private_key=key, args=(42,))
    res = call_raw(w3, dep.address, calldata)          # CallResult(success, returndata, gas_estimate, ...)
    receipt = send_raw(w3, dep.address, calldata, private_key=key)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from eth_account import Account
from web3 import Web3

from .errors import ChainError, DeploymentError, TransactionError
from .solidity import CompiledContract

GAS_MARGIN = 1.2  # multiplier on eth_estimateGas when the caller gives no gas


@dataclass(frozen=True)
class Deployment:
    address: str  # checksummed
    tx_hash: str
    gas_used: int
    code_size: int  # bytes of runtime code actually stored at ``address``
    block_number: int
    receipt: Any


@dataclass(frozen=True)
class CallResult:
    success: bool
    returndata: bytes  # the return data, or the revert data when success is False
    gas_estimate: int | None  # eth_estimateGas for the same call; None when it reverts
    error: str | None = None  # the node's message when the call reverted


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _rpc(w3: Web3, method: str, params: list) -> dict:
    """A raw JSON-RPC round trip: returns the whole response (``result`` or ``error``)."""
    try:
        resp = w3.provider.make_request(method, params)
    except Exception as e:  # connection refused, timeout...
        raise ChainError(f"RPC {method} failed: {e}") from e
    return dict(resp)


def _error_text(err: Any) -> tuple[str, bytes]:
    if not isinstance(err, dict):
        return str(err), b""
    data = err.get("data")
    raw = b""
    if isinstance(data, str) and data.startswith("0x"):
        try:
            raw = bytes.fromhex(data[2:])
        except ValueError:
            raw = b""
    elif isinstance(data, dict) and isinstance(data.get("data"), str):
        try:
            raw = bytes.fromhex(data["data"].removeprefix("0x"))
        except ValueError:
            raw = b""
    return str(err.get("message", err)), raw


def _tx_fields(to: str | None, data: bytes, sender: str | None, value: int, gas: int | None = None) -> dict:
    tx: dict = {"data": _hex(data), "value": hex(value)}
    if to is not None:
        tx["to"] = Web3.to_checksum_address(to)
    if sender is not None:
        tx["from"] = Web3.to_checksum_address(sender)
    if gas is not None:
        tx["gas"] = hex(gas)
    return tx


def estimate_gas(w3: Web3, to: str | None, data: bytes, *, sender: str | None = None, value: int = 0) -> int:
    """eth_estimateGas; raises :class:`TransactionError` with the node's reason when it would fail."""
    resp = _rpc(w3, "eth_estimateGas", [_tx_fields(to, data, sender, value)])
    if "error" in resp:
        msg, _ = _error_text(resp["error"])
        raise TransactionError("gas estimation failed", reason=msg)
    return int(resp["result"], 16)


def call_raw(w3: Web3, to: str, data: bytes, *, sender: str | None = None, value: int = 0,
             gas: int | None = None, block: str | int = "latest", estimate: bool = True) -> CallResult:
    """``eth_call`` ``to`` with raw ``data``: (success, returndata, gas estimate). A revert is a
    result (success=False, revert data in ``returndata``), not an exception; transport failures
    raise :class:`ChainError`."""
    block_id = hex(block) if isinstance(block, int) else block
    resp = _rpc(w3, "eth_call", [_tx_fields(to, data, sender, value, gas), block_id])
    if "error" in resp:
        msg, raw = _error_text(resp["error"])
        return CallResult(success=False, returndata=raw, gas_estimate=None, error=msg)
    returndata = bytes.fromhex(resp["result"].removeprefix("0x"))
    gas_estimate = None
    if estimate:
        est = _rpc(w3, "eth_estimateGas", [_tx_fields(to, data, sender, value)])
        if "result" in est:
            gas_estimate = int(est["result"], 16)
    return CallResult(success=True, returndata=returndata, gas_estimate=gas_estimate)


def _fees(w3: Web3) -> dict:
    block = w3.eth.get_block("latest")
    base_fee = int(block.get("baseFeePerGas") or 0)
    try:
        tip = int(w3.eth.max_priority_fee)
    except Exception:
        tip = 1_000_000_000
    return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base_fee + tip}


def _send(w3: Web3, *, to: str | None, data: bytes, private_key: str, value: int, gas: int | None,
          timeout: float, error_cls: type[TransactionError], what: str):
    account = Account.from_key(private_key)
    if gas is None:
        try:
            gas = int(estimate_gas(w3, to, data, sender=account.address, value=value) * GAS_MARGIN)
        except TransactionError as e:
            raise error_cls(f"{what} would fail (eth_estimateGas refused it)", reason=e.reason) from e
        block_limit = int(w3.eth.get_block("latest")["gasLimit"])
        gas = min(gas, block_limit)
    tx = {
        "chainId": int(w3.eth.chain_id),
        "nonce": int(w3.eth.get_transaction_count(account.address, "pending")),
        "gas": int(gas),
        "value": int(value),
        "data": _hex(data),
        "type": 2,
        **_fees(w3),
    }
    if to is not None:
        tx["to"] = Web3.to_checksum_address(to)
    signed = Account.sign_transaction(tx, private_key)
    resp = _rpc(w3, "eth_sendRawTransaction", [_hex(signed.raw_transaction)])
    if "error" in resp:
        msg, _ = _error_text(resp["error"])
        raise error_cls(f"{what} rejected by the node", reason=msg)
    tx_hash = resp["result"]
    try:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
    except Exception as e:
        raise error_cls(f"{what} not mined within {timeout}s", tx_hash=tx_hash, reason=str(e)) from e
    return tx_hash, receipt


def _revert_reason(w3: Web3, receipt, tx_fields: dict) -> str:
    """Best effort: replay the failed transaction as eth_call on the parent block."""
    resp = _rpc(w3, "eth_call", [tx_fields, hex(max(int(receipt["blockNumber"]) - 1, 0))])
    if "error" in resp:
        return _error_text(resp["error"])[0]
    return f"status 0 (gas used {receipt['gasUsed']} of {tx_fields.get('gas', '?')})"


def send_raw(w3: Web3, to: str, data: bytes, *, private_key: str, value: int = 0, gas: int | None = None,
             timeout: float = 120.0, require_success: bool = True):
    """Sign and send a transaction with raw calldata; wait for and return the receipt.
    With ``require_success`` a reverted transaction raises :class:`TransactionError`."""
    tx_hash, receipt = _send(w3, to=to, data=data, private_key=private_key, value=value, gas=gas,
                             timeout=timeout, error_cls=TransactionError, what="transaction")
    if require_success and int(receipt["status"]) != 1:
        sender = Account.from_key(private_key).address
        reason = _revert_reason(w3, receipt, _tx_fields(to, data, sender, value, int(receipt["gasUsed"])))
        raise TransactionError("transaction reverted", tx_hash=tx_hash, receipt=receipt, reason=reason)
    return receipt


def encode_constructor_args(contract: CompiledContract, args: Sequence[Any]) -> bytes:
    """ABI-encode constructor arguments according to the contract's ABI."""
    ctor = next((item for item in contract.abi if item.get("type") == "constructor"), None)
    inputs = ctor.get("inputs", []) if ctor else []
    if len(inputs) != len(args):
        raise DeploymentError(f"{contract.name}: constructor takes {len(inputs)} argument(s), got {len(args)}")
    if not inputs:
        return b""
    from eth_abi import encode

    def type_str(inp: dict) -> str:
        t = inp["type"]
        if t.startswith("tuple"):
            return "(" + ",".join(type_str(c) for c in inp["components"]) + ")" + t[len("tuple"):]
        return t

    return encode([type_str(i) for i in inputs], list(args))


def deploy(w3: Web3, contract: CompiledContract | bytes, *, private_key: str, args: Sequence[Any] = (),
           value: int = 0, gas: int | None = None, timeout: float = 120.0) -> Deployment:
    """Deploy a compiled contract (or raw creation bytecode, with ``args`` then already appended).

    Without ``gas`` the node's eth_estimateGas decides first, so an impossible deployment (e.g.
    runtime code over the EIP-170 limit) fails before sending. Raises :class:`DeploymentError`
    when estimation refuses, the creation reverts (receipt.status == 0), or no code is stored.
    """
    if isinstance(contract, CompiledContract):
        data = contract.bytecode + encode_constructor_args(contract, args)
        label = contract.name
    else:
        if args:
            raise DeploymentError("args are only supported with a CompiledContract; append them yourself")
        data = bytes(contract)
        label = "raw bytecode"
    if not data:
        raise DeploymentError(f"{label}: empty creation bytecode (abstract contract or interface?)")
    tx_hash, receipt = _send(w3, to=None, data=data, private_key=private_key, value=value, gas=gas,
                             timeout=timeout, error_cls=DeploymentError, what=f"deployment of {label}")
    if int(receipt["status"]) != 1:
        sender = Account.from_key(private_key).address
        reason = _revert_reason(w3, receipt, _tx_fields(None, data, sender, value, int(receipt["gasUsed"])))
        raise DeploymentError(f"deployment of {label} failed", tx_hash=tx_hash, receipt=receipt, reason=reason)
    address = receipt.get("contractAddress")
    if not address:
        raise DeploymentError(f"deployment of {label}: receipt has no contract address", tx_hash=tx_hash,
                              receipt=receipt)
    code = w3.eth.get_code(address)
    return Deployment(address=Web3.to_checksum_address(address), tx_hash=tx_hash,
                      gas_used=int(receipt["gasUsed"]), code_size=len(code),
                      block_number=int(receipt["blockNumber"]), receipt=receipt)
