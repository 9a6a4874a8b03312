"""Deploy the marketplace's six contracts, record them in a deployment file, and reuse them.

    dep = deploy_market(w3, signer, params)       # compile, deploy, registry.setProtocols
    dep.save("deployments/local.json")
    dep = MarketDeployment.load("deployments/local.json")
    c = dep.contracts(w3)                          # {"ModelRegistry": web3 Contract, ...}

Order: ModelRegistry, DataTransferService, then the protocols AccuracyAudit, ServingRound,
Retrieval and GriefingResistantAudit (which takes the DataTransferService), then the registry's
one-shot ``setProtocols`` with the four protocols. The DataTransferService is not a registry
protocol: only GriefingResistantAudit calls it.

A deployment file is reused (:func:`ensure_market`) only when its chain id is the node's and
every recorded address still holds the runtime code recorded at deployment (keccak of
``eth_getCode``: immutables such as the registry address are part of it). A chain that lost the
contracts (a restarted anvil) is redeployed; live contracts built from other sources or with
other parameters are refused with :class:`StaleDeploymentError` (``force=True`` redeploys).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from eth_utils import keccak, to_checksum_address
from web3 import Web3

from zkmarket.chain import CompiledContract, TransactionError, compile_file, deploy, send_raw
from zkmarket.chain.paths import repo_root
from zkmarket.files import write_json_atomically

from .errors import DeploymentFileError, MarketError, StaleDeploymentError, WrongNetworkError
from .params import MarketParams

if TYPE_CHECKING:  # pragma: no cover
    from web3.contract import Contract

FILE_FORMAT = "zkmarket-deployment"
FILE_VERSION = 1
REGISTRY = "ModelRegistry"
TRANSFERS = "DataTransferService"
PROTOCOLS = ("AccuracyAudit", "ServingRound", "Retrieval", "GriefingResistantAudit")
CONTRACTS = (REGISTRY, TRANSFERS, *PROTOCOLS)  # deployment order


class Account(Protocol):
    """What signs: :class:`~zkmarket.market.keys.Signer`, an anvil ``DevAccount``, ..."""

    address: str
    private_key: str


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _tx_hex(h: Any) -> str:
    if isinstance(h, (bytes, bytearray)):
        return _hex(h)
    s = str(h)
    return s if s.startswith("0x") else "0x" + s


def compile_market(root: str | os.PathLike[str] | None = None) -> dict[str, CompiledContract]:
    """The six contracts compiled from ``contracts/src`` with the pinned solc (cached on disk)."""
    base = Path(root) if root is not None else repo_root()
    return {name: compile_file(base / "contracts" / "src" / f"{name}.sol", name) for name in CONTRACTS}


def code_hash(w3: Web3, address: str, block: str | int = "latest") -> str:
    """keccak256 of the runtime code at ``address`` (keccak of empty code when there is none)."""
    return _hex(keccak(bytes(w3.eth.get_code(to_checksum_address(address), block))))


EMPTY_CODE_HASH = _hex(keccak(b""))


@dataclass(frozen=True)
class ContractRecord:
    """One deployed contract: where, by which transaction, and which code it holds."""

    name: str
    address: str
    tx_hash: str
    block_number: int
    gas_used: int
    code_hash: str  # keccak of the runtime code on chain right after deployment
    bytecode_hash: str  # keccak of the compiled creation code (without constructor args)

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "tx_hash": self.tx_hash, "block_number": self.block_number,
                "gas_used": self.gas_used, "code_hash": self.code_hash, "bytecode_hash": self.bytecode_hash}

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> "ContractRecord":
        return cls(name=name, address=to_checksum_address(d["address"]), tx_hash=str(d["tx_hash"]),
                   block_number=int(d["block_number"]), gas_used=int(d["gas_used"]), code_hash=str(d["code_hash"]),
                   bytecode_hash=str(d["bytecode_hash"]))


@dataclass(frozen=True)
class MarketDeployment:
    """A deployed marketplace: its six contracts, the chain, the deployer and the parameters
    (with the fee recipient resolved). ``start_block`` is where event scans should begin."""

    chain_id: int
    deployer: str
    params: MarketParams
    records: dict[str, ContractRecord]
    setup_tx_hash: str  # registry.setProtocols
    network: str | None = None
    deployed_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    local: bool = False  # a development chain (see `is_local_chain`): dev-SRS verifiers allowed

    # ------------------------------------------------------------------ addresses
    @property
    def start_block(self) -> int:
        return min(r.block_number for r in self.records.values())

    @property
    def addresses(self) -> dict[str, str]:
        return {name: r.address for name, r in self.records.items()}

    def address(self, name: str) -> str:
        try:
            return self.records[name].address
        except KeyError:
            raise MarketError(f"no contract {name!r} in this deployment (has: {', '.join(self.records)})") from None

    # ------------------------------------------------------------------ contracts
    def contracts(self, w3: Web3, *, compiled: Mapping[str, CompiledContract] | None = None,
                  strict: bool = True) -> "dict[str, Contract]":
        """web3 Contract objects with the ABIs of the current sources (:func:`compile_market`).

        Refuses a node on another chain (:class:`WrongNetworkError`); with ``strict`` also sources
        whose compiled code differs from the deployed one (:class:`StaleDeploymentError`): their
        ABI could silently disagree with the contracts on chain."""
        self.check_chain(w3)
        compiled = compiled or compile_market()
        if strict:
            changed = [n for n, r in self.records.items() if _bytecode_hash(compiled[n]) != r.bytecode_hash]
            if changed:
                raise StaleDeploymentError(f"the sources of {', '.join(changed)} changed since this deployment "
                                           f"(chain id {self.chain_id}); redeploy (zkmarket deploy --force)")
        return {n: w3.eth.contract(address=r.address, abi=compiled[n].abi, decode_tuples=True)
                for n, r in self.records.items()}

    def contract(self, w3: Web3, name: str, **kwargs: Any) -> "Contract":
        return self.contracts(w3, **kwargs)[name]

    def check_chain(self, w3: Web3) -> None:
        actual = int(w3.eth.chain_id)
        if actual != self.chain_id:
            raise WrongNetworkError(self.chain_id, actual, what="the deployment file")

    def missing_code(self, w3: Web3) -> list[str]:
        """Contracts whose address no longer holds the recorded runtime code (``name: why``)."""
        problems = []
        for name, r in self.records.items():
            h = code_hash(w3, r.address)
            if h != r.code_hash:
                problems.append(f"{name} at {r.address}: " + ("no code" if h == EMPTY_CODE_HASH else "other code"))
        return problems

    # ------------------------------------------------------------------ file
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "network": self.network,
            "local": self.local,
            "chain_id": self.chain_id,
            "deployer": self.deployer,
            "deployed_at": self.deployed_at,
            "start_block": self.start_block,
            "setup_tx_hash": self.setup_tx_hash,
            "contracts": {name: r.to_dict() for name, r in self.records.items()},
            "params": self.params.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "deployment") -> "MarketDeployment":
        if not isinstance(d, Mapping) or d.get("format") != FILE_FORMAT:
            raise DeploymentFileError(f"{source} is not a zkmarket deployment file")
        if d.get("version") != FILE_VERSION:
            raise DeploymentFileError(f"{source}: unsupported version {d.get('version')!r} (expected {FILE_VERSION})")
        try:
            raw = d["contracts"]
            missing = [n for n in CONTRACTS if n not in raw]
            if missing:
                raise DeploymentFileError(f"{source}: missing contract(s) {', '.join(missing)}")
            return cls(
                chain_id=int(d["chain_id"]),
                deployer=to_checksum_address(d["deployer"]),
                params=MarketParams.from_dict(d["params"]),
                records={n: ContractRecord.from_dict(n, raw[n]) for n in CONTRACTS},
                setup_tx_hash=str(d["setup_tx_hash"]),
                network=d.get("network"),
                deployed_at=str(d.get("deployed_at", "")),
                local=d.get("local") is True,
            )
        except DeploymentFileError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise DeploymentFileError(f"{source}: malformed ({type(e).__name__}: {e})") from e

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON file atomically (parent folders created)."""
        return write_json_atomically(path, self.to_dict(), indent=2)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "MarketDeployment":
        p = Path(path)
        try:
            doc = json.loads(p.read_text())
        except OSError as e:
            raise DeploymentFileError(f"cannot read deployment file {p}: {e.strerror or e}") from e
        except ValueError as e:
            raise DeploymentFileError(f"deployment file {p} is not JSON: {e}") from e
        return cls.from_dict(doc, source=f"deployment file {p}")


def _bytecode_hash(c: CompiledContract) -> str:
    return _hex(keccak(c.bytecode))


def check_chain_id(w3: Web3, expected: int, *, what: str = "the config") -> int:
    """The node's chain id; :class:`WrongNetworkError` (naming both ids) unless it is ``expected``."""
    actual = int(w3.eth.chain_id)
    if actual != expected:
        raise WrongNetworkError(expected, actual, what=what)
    return actual


LOCAL_CHAIN_IDS = frozenset({31337, 1337})  # anvil / hardhat, geth --dev / ganache


def is_local_chain(chain_id: int, marked_local: bool = False) -> bool:
    """A development chain: marked ``local = true`` in the networks file, or one of the chain ids
    only development nodes use. Anywhere else, proofs against the public-seed SRS are forgeable."""
    return marked_local or chain_id in LOCAL_CHAIN_IDS


def deploy_market(w3: Web3, account: Account, params: MarketParams, *, network: str | None = None,
                  local: bool = False, compiled: Mapping[str, CompiledContract] | None = None,
                  log: Callable[[str], None] | None = None) -> MarketDeployment:
    """Deploy the six contracts from ``account`` and register the four protocols; ``local``
    marks a development chain (else decided by `is_local_chain` from the chain id).

    Every transaction waits for its receipt and fails on ``status == 0``
    (:class:`~zkmarket.chain.DeploymentError` / :class:`~zkmarket.chain.TransactionError`)."""
    say = log or (lambda _msg: None)
    key = account.private_key
    deployer = to_checksum_address(account.address)
    params = params if params.fee_recipient is not None else params.with_fee_recipient(deployer)
    chain_id = int(w3.eth.chain_id)
    if int(w3.eth.get_balance(deployer)) == 0:
        raise MarketError(f"the deployer {deployer} has no funds on chain id {chain_id}")
    for t in params.tokens:
        if not t.is_eth and not bytes(w3.eth.get_code(t.token)):
            raise MarketError(f"payment token {t.token} has no code on chain id {chain_id} (not an ERC-20 here)")
    compiled = compiled or compile_market()
    too_big = [n for n in CONTRACTS if not compiled[n].within_eip170]
    if too_big:
        raise MarketError(f"over the EIP-170 code size limit: {', '.join(too_big)}")

    deployed: dict[str, Any] = {}

    def put(name: str, args: tuple) -> str:
        say(f"deploying {name}")
        deployed[name] = deploy(w3, compiled[name], private_key=key, args=args)
        return deployed[name].address

    registry = put(REGISTRY, ([t.as_struct() for t in params.tokens], params.n1, params.fee_recipient,
                              params.unbonding_delay))
    transfers = put(TRANSFERS, params.data_transfer.as_struct())
    put("AccuracyAudit", (registry, params.accuracy_audit.as_struct()))
    put("ServingRound", (registry, params.serving_round.as_struct()))
    put("Retrieval", (registry, params.retrieval.as_struct()))
    put("GriefingResistantAudit", (registry, transfers, params.griefing_resistant_audit.as_struct()))

    say("registering the protocols (ModelRegistry.setProtocols)")
    reg = w3.eth.contract(address=registry, abi=compiled[REGISTRY].abi, decode_tuples=True)
    protocols = [deployed[n].address for n in PROTOCOLS]
    calldata = bytes.fromhex(reg.encode_abi("setProtocols", args=[protocols])[2:])
    receipt = send_raw(w3, registry, calldata, private_key=key)  # raises on status 0
    not_set = [n for n in PROTOCOLS if not reg.functions.isProtocol(deployed[n].address).call()]
    if not_set:
        raise TransactionError(f"setProtocols mined but {', '.join(not_set)} not registered",
                               tx_hash=_tx_hex(receipt["transactionHash"]))

    records = {}
    for name in CONTRACTS:
        d = deployed[name]
        records[name] = ContractRecord(name=name, address=d.address, tx_hash=_tx_hex(d.tx_hash),
                                       block_number=d.block_number, gas_used=d.gas_used,
                                       code_hash=code_hash(w3, d.address), bytecode_hash=_bytecode_hash(compiled[name]))
    return MarketDeployment(chain_id=chain_id, deployer=deployer, params=params, records=records,
                            setup_tx_hash=_tx_hex(receipt["transactionHash"]), network=network,
                            local=is_local_chain(chain_id, local))


@dataclass(frozen=True)
class EnsureResult:
    """What :func:`ensure_market` did: ``reused`` the file's deployment, or deployed (``reason``)."""

    deployment: MarketDeployment
    reused: bool
    reason: str
    path: Path


def reuse_problem(w3: Web3, existing: MarketDeployment, params: MarketParams,
                  compiled: Mapping[str, CompiledContract]) -> str | None:
    """None when ``existing`` can be reused as is; else why a redeployment is needed.

    Raises :class:`StaleDeploymentError` when the contracts are live but differ from what would
    be deployed now (sources or parameters): replacing a live market is the caller's decision."""
    actual = int(w3.eth.chain_id)
    if existing.chain_id != actual:
        return f"the file is for chain id {existing.chain_id}, the node is chain id {actual}"
    gone = existing.missing_code(w3)
    if gone:
        return "recorded contracts are not on this chain any more (" + "; ".join(gone) + ")"
    reg = w3.eth.contract(address=existing.address(REGISTRY), abi=compiled[REGISTRY].abi, decode_tuples=True)
    unset = [n for n in PROTOCOLS if not reg.functions.isProtocol(existing.address(n)).call()]
    if unset:
        return f"the registry does not list {', '.join(unset)} as protocols"
    changed = [n for n in CONTRACTS if _bytecode_hash(compiled[n]) != existing.records[n].bytecode_hash]
    wanted = params if params.fee_recipient is not None else params.with_fee_recipient(existing.deployer)
    differ = [k for k, v in wanted.to_dict().items() if existing.params.to_dict().get(k) != v]
    if changed or differ:
        what = []
        if changed:
            what.append(f"the sources of {', '.join(changed)} changed")
        if differ:
            what.append(f"the parameters differ ({', '.join(differ)})")
        raise StaleDeploymentError(f"the deployment on chain id {actual} is live but {' and '.join(what)}; "
                                   f"redeploy with --force (force=True) to replace it")
    return None


def ensure_market(w3: Web3, account: Account, params: MarketParams, path: str | os.PathLike[str], *,
                  chain_id: int | None = None, network: str | None = None, local: bool = False, force: bool = False,
                  compiled: Mapping[str, CompiledContract] | None = None,
                  log: Callable[[str], None] | None = None) -> EnsureResult:
    """Reuse the deployment recorded at ``path`` when it is still valid, else deploy and write it.

    ``chain_id`` (the config's) must be the node's: else :class:`WrongNetworkError` before
    anything is sent."""
    p = Path(path)
    if chain_id is not None:
        check_chain_id(w3, chain_id, what=f"the config{f' of network {network!r}' if network else ''}")
    compiled = compiled or compile_market()
    if force:
        reason = "--force"
    elif not p.exists():
        reason = f"no deployment file {p}"
    else:
        try:
            existing = MarketDeployment.load(p)
        except DeploymentFileError as e:
            raise DeploymentFileError(f"{e}; --force (force=True) deploys anew and replaces it") from e
        problem = reuse_problem(w3, existing, params, compiled)
        if problem is None:
            return EnsureResult(deployment=existing, reused=True, reason="all contracts have the recorded code", path=p)
        reason = problem
    deployment = deploy_market(w3, account, params, network=network, local=local, compiled=compiled, log=log)
    deployment.save(p)
    return EnsureResult(deployment=deployment, reused=False, reason=reason, path=p)
