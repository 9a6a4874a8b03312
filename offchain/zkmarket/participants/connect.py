"""Connecting a party to a deployed marketplace: the node, the deployment file's contracts (on
the right chain, with current ABIs) and the party's signer, as a MarketConnection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from web3 import HTTPProvider, Web3

from ..chain.session import ContractSession
from ..market.deployment import MarketDeployment
from ..market.errors import MarketError


@dataclass
class MarketConnection:
    """The deployed contracts one party talks to, with its account: what every protocol's
    participant classes send through."""

    session: ContractSession
    registry: object
    audits: object
    transfers: object
    account: object

    @property
    def w3(self):
        return self.session.w3

    def send(self, contract, fn: str, args: list, value: int = 0):
        return self.session.send(contract, fn, args, self.account, value=value)

    def audit(self, audit_id: int) -> list:
        return self.audits.functions.audit(audit_id).call()

    def event(self, receipt, contract, name: str):
        (event,) = self.session.events(receipt, contract, name)
        return event["args"]

    def end_job(self, contract, fn: str, job_id: int, settled_event: str) -> dict:
        """Calls ``fn`` (finalize / settle) on a job whose stage is over (anyone may); returns the
        ``settled_event`` fields, if any (none when it was cancelled)."""
        receipt = self.send(contract, fn, [job_id])
        settled = self.session.events(receipt, contract, settled_event)
        return {k: int(v) for k, v in settled[0]["args"].items()} if settled else {}


def connect(deployment: str | Path, rpc_url: str, signer) -> MarketConnection:
    """Raises MarketError (wrong network, unreachable node, stale deployment) with the reason."""
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    if not w3.is_connected():
        raise MarketError(f"cannot reach a node at {rpc_url}")
    c = MarketDeployment.load(deployment).contracts(w3)
    return MarketConnection(ContractSession(w3), c["ModelRegistry"], c["GriefingResistantAudit"],
                         c["DataTransferService"], signer)
