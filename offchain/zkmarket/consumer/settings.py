"""The consumer's settings: those every role shares (zkmarket.market.settings), connected as a
checked ConsumerClient."""

from __future__ import annotations

import sys

import click

from ..market.deployment import check_chain_id
from ..market.settings import MarketSettings
from .client import ConsumerClient, connect


class ConsumerSettings(MarketSettings):
    def connect(self, signer: bool = True) -> ConsumerClient:
        """The client on the right chain, with the signer (asked for a keystore password on a
        terminal) unless only reading."""
        path, rpc_url, net = self.locate()
        prompt = (lambda m: click.prompt(m, hide_input=True, prompt_suffix="", err=True)) if sys.stdin.isatty() else None
        client = connect(path, rpc_url, self.signer(net, prompt) if signer else None)
        if net is not None:
            check_chain_id(client.w3, net.chain_id, what=f"network {net.name!r} in networks.toml")
        return client
