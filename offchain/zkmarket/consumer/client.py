"""A consumer's connection to a deployed marketplace: the node (on the deployment's chain, with
the contracts still there), the contracts with current ABIs, the signer, and transactions that
are checked before they are sent.

Every transaction is first simulated with ``eth_call`` from the signer: a revert becomes a
:class:`RevertError` naming the custom error and its arguments (decoded with the deployment's
ABIs), and nothing is sent. Then the balance is checked against value + gas, so a short account
gets :class:`InsufficientFundsError` instead of a node message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from ..chain import TransactionError, call_raw
from ..chain.deploy import GAS_MARGIN
from ..chain.session import ContractSession
from ..market.deployment import MarketDeployment
from .errors import ConsumerError, InsufficientFundsError, RevertError
from .reverts import DecodedError, ErrorTable, revert_data

ETH = "0x" + "00" * 20

ERC20_ABI = [
    {"type": "function", "name": "approve", "stateMutability": "nonpayable",
     "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
     "outputs": [{"name": "", "type": "bool"}]},
    {"type": "function", "name": "allowance", "stateMutability": "view",
     "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "balanceOf", "stateMutability": "view",
     "inputs": [{"name": "account", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "symbol", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "string"}]},
]


def parse_token(value: str | None) -> str:
    """"ETH" (or nothing) is the zero address; anything else must be an address."""
    if value is None or value.strip().upper() in ("ETH", ""):
        return ETH
    if not Web3.is_address(value):
        raise ConsumerError(f"--token must be ETH or a token address, got {value!r}")
    return Web3.to_checksum_address(value)


def token_name(token: str) -> str:
    """How a payment token is shown and written to JSON: "ETH" for the zero address, else the address."""
    return "ETH" if int(token, 16) == 0 else token


def format_amount(wei: int, token: str = ETH) -> str:
    """Ether amounts in ETH (exact, trailing zeros cut); ERC-20 amounts in the token's smallest unit."""
    if token_name(token) == "ETH":
        text = format(Decimal(wei) / Decimal(10**18), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return f"{text} ETH"
    return f"{wei} units of {token}"


def _label(d: DecodedError) -> str:
    return d.text + (f" ({d.hint})" if d.hint else "")


@dataclass
class ConsumerClient:
    """The deployment's contracts on a checked node, and the account that signs (None: read only)."""

    w3: Web3
    deployment: MarketDeployment
    contracts: dict[str, Any]
    signer: Any = None
    session: ContractSession = field(init=False)
    errors: ErrorTable = field(init=False)

    def __post_init__(self) -> None:
        self.session = ContractSession(self.w3)
        self.errors = ErrorTable(c.abi for c in self.contracts.values())
        self._names = {c.address: name for name, c in self.contracts.items()}

    # ------------------------------------------------------------------ contracts
    @property
    def registry(self):
        return self.contracts["ModelRegistry"]

    @property
    def audits(self):
        return self.contracts["GriefingResistantAudit"]

    @property
    def transfers(self):
        return self.contracts["DataTransferService"]

    @property
    def address(self) -> str:
        if self.signer is None:
            raise ConsumerError("this command needs a signing key: set $ZKMARKET_PRIVATE_KEY or pass --keystore FILE")
        return self.signer.address

    def name_of(self, contract) -> str:
        return self._names.get(contract.address, contract.address)

    # ------------------------------------------------------------------ reads
    def call(self, contract, fn: str, *args: Any) -> Any:
        """A view call; a revert becomes a one-line :class:`RevertError`."""
        try:
            return getattr(contract.functions, fn)(*args).call()
        except (ContractCustomError, ContractLogicError, ContractPanicError) as e:
            decoded = self.errors.decode(revert_data(e))
            what = _label(decoded) if decoded else (getattr(e, "message", None) or str(e))
            raise RevertError(f"{self.name_of(contract)}.{fn} reverted: {what}",
                              error=decoded.name if decoded else None,
                              args=decoded.args if decoded else None) from None

    def audit(self, audit_id: int):
        """An appendix-B audit's struct (GriefingResistantAudit.audit), fields by name."""
        return self.call(self.audits, "audit", audit_id)

    def chain_time(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    # ------------------------------------------------------------------ writes
    def send(self, contract, fn: str, args: list, value: int = 0):
        """Simulates, checks the balance, then mines ``fn(*args)``; returns the receipt."""
        sender = self.address
        data = bytes.fromhex(contract.encode_abi(fn, args=args)[2:])
        where = f"{self.name_of(contract)}.{fn}"
        balance = int(self.w3.eth.get_balance(sender))
        if value > balance:
            raise InsufficientFundsError(
                f"insufficient funds: {where} needs {format_amount(value)} (plus gas) but {sender} holds "
                f"{format_amount(balance)} on chain id {self.deployment.chain_id}", needed=value, available=balance)
        sim = call_raw(self.w3, contract.address, data, sender=sender, value=value)
        if not sim.success:
            decoded = self.errors.decode(sim.returndata)
            what = _label(decoded) if decoded else (sim.error or "reverted without data")
            raise RevertError(f"{where} would revert: {what}", error=decoded.name if decoded else None,
                              args=decoded.args if decoded else None)
        if sim.gas_estimate is not None:
            block = self.w3.eth.get_block("latest")
            try:
                tip = int(self.w3.eth.max_priority_fee)
            except Exception:
                tip = 1_000_000_000
            max_fee = 2 * int(block.get("baseFeePerGas") or 0) + tip
            needed = value + int(sim.gas_estimate * GAS_MARGIN) * max_fee
            if needed > balance:
                raise InsufficientFundsError(
                    f"insufficient funds: {where} needs {format_amount(value)} + up to "
                    f"{format_amount(needed - value)} gas, but {sender} holds {format_amount(balance)} on chain id "
                    f"{self.deployment.chain_id}", needed=needed, available=balance)
        try:
            return self.session.send(contract, fn, args, self.signer, value=value)
        except TransactionError as e:  # lost a race since the simulation: decode it again
            again = call_raw(self.w3, contract.address, data, sender=sender, value=value, estimate=False)
            decoded = None if again.success else self.errors.decode(again.returndata)
            raise RevertError(f"{where} failed: {_label(decoded) if decoded else e}",
                              error=decoded.name if decoded else None) from None

    @property
    def account(self):
        """The signer, by the name MarketConnection gives it (the participants' classes sign with it)."""
        return self.signer

    def event(self, receipt, contract, name: str) -> dict:
        events = self.session.events(receipt, contract, name)
        if not events:
            raise ConsumerError(f"{self.name_of(contract)} emitted no {name} event (tx "
                                f"0x{bytes(receipt['transactionHash']).hex()})")
        return dict(events[0]["args"])

    def pay_token(self, token: str, spender: str, amount: int) -> int:
        """What to send as msg.value: the amount for ETH; for an ERC-20, approves ``spender``
        (after checking the balance) and returns 0."""
        if int(token, 16) == 0 or amount == 0:
            return amount
        erc20 = self.w3.eth.contract(address=token, abi=ERC20_ABI)
        have = erc20.functions.balanceOf(self.address).call()
        if have < amount:
            raise InsufficientFundsError(f"insufficient funds: need {amount} units of token {token}, "
                                         f"{self.address} holds {have}", needed=amount, available=have)
        if erc20.functions.allowance(self.address, spender).call() < amount:
            self.send(erc20, "approve", [spender, amount])
        return 0


def connect(deployment: str | Path, rpc_url: str, signer=None) -> ConsumerClient:
    """Connects to the node and checks it is the deployment's chain and still holds its contracts."""
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    try:
        reachable = w3.is_connected()
    except Exception:
        reachable = False
    if not reachable:
        raise ConsumerError(f"cannot reach a node at {rpc_url} (is it running? wrong --rpc-url?)")
    dep = MarketDeployment.load(deployment)
    contracts = dep.contracts(w3)  # WrongNetworkError / StaleDeploymentError first
    gone = dep.missing_code(w3)
    if gone:
        raise ConsumerError(f"the contracts of {deployment} are not on the node at {rpc_url} any more "
                            f"({'; '.join(gone)}); redeploy with `zkmarket deploy` or use the right node")
    return ConsumerClient(w3, dep, contracts, signer)
