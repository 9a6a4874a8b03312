"""Connecting a party to a deployed marketplace: the node, the deployment file's contracts (on
the right chain, with current ABIs) and the party's signer, as a GuardedMarket."""

from __future__ import annotations

from pathlib import Path

from web3 import HTTPProvider, Web3

from ..chain.session import ContractSession
from ..market.deployment import MarketDeployment
from ..market.errors import MarketError
from .guarded_audit import GuardedMarket


def connect(deployment: str | Path, rpc_url: str, signer) -> GuardedMarket:
    """Raises MarketError (wrong network, unreachable node, stale deployment) with the reason."""
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    if not w3.is_connected():
        raise MarketError(f"cannot reach a node at {rpc_url}")
    c = MarketDeployment.load(deployment).contracts(w3)
    return GuardedMarket(ContractSession(w3), c["ModelRegistry"], c["GriefingResistantAudit"],
                         c["DataTransferService"], signer)
