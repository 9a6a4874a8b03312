"""Calling deployed contracts by function name: send (tracking what each sender spent on gas),
read revert data, read events, and move a dev chain's clock."""

from __future__ import annotations

from web3 import Web3
from web3.logs import DISCARD

from .deploy import call_raw, send_raw


class ContractSession:
    def __init__(self, w3: Web3):
        self.w3 = w3
        self.gas_cost: dict[str, int] = {}  # wei spent on gas, per sender address
        self.gas_used: dict[tuple[str, str], list[int]] = {}  # (sender, function) -> gas of each tx

    @staticmethod
    def _calldata(contract, fn: str, args: list) -> bytes:
        return bytes.fromhex(contract.encode_abi(fn, args=args)[2:])

    def send(self, contract, fn: str, args: list, account, value: int = 0):
        """Mines `fn(*args)` from `account` (an object with address and private_key)."""
        receipt = send_raw(self.w3, contract.address, self._calldata(contract, fn, args),
                           private_key=account.private_key, value=value)
        cost = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
        self.gas_cost[account.address] = self.gas_cost.get(account.address, 0) + cost
        self.gas_used.setdefault((account.address, fn), []).append(int(receipt["gasUsed"]))
        return receipt

    def revert_data(self, contract, fn: str, args: list, sender: str) -> bytes:
        result = call_raw(self.w3, contract.address, self._calldata(contract, fn, args), sender=sender)
        if result.success:
            raise AssertionError(f"{fn} unexpectedly succeeded")
        return result.returndata

    def events(self, receipt, contract, name: str) -> list:
        """The receipt's `name` events of `contract`; other contracts' logs are skipped."""
        return list(getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD))

    def balance(self, account) -> int:
        return self.w3.eth.get_balance(account.address)

    def warp(self, seconds: int) -> None:
        """Advances a dev chain's (anvil's) clock and mines a block."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])
