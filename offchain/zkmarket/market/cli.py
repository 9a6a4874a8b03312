"""``zkmarket deploy``: deploy (or reuse) the marketplace on a network of ``networks.toml``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zkmarket.cli_params import ExistingFile

from .deployment import PROTOCOLS, REGISTRY, TRANSFERS, ensure_market
from .errors import MarketError
from .keys import signer_for_network
from .networks import load_networks

_ROLES = {REGISTRY: "registry", TRANSFERS: "data transfers (appendix B)",
          **{p: "protocol" for p in PROTOCOLS}}


def _console():
    from rich.console import Console

    # Off a terminal (pipes, tests) rich would squeeze the table into 80 columns.
    return Console(width=None if sys.stdout.isatty() else 140, highlight=False)


def _prompt(message: str) -> str:
    return click.prompt(message, hide_input=True, prompt_suffix="", err=True)


@click.command("deploy")
@click.option("--network", "network_name", required=True, help="a [networks.NAME] entry of the networks file")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="networks file [default: ./networks.toml, else the repository's]")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="deployment file [default: deployments/NAME.json next to the networks file]")
@click.option("--force", is_flag=True, help="deploy anew even when the deployment file is still valid")
@click.option("--keystore", type=ExistingFile(),
              help="encrypted keystore file of the deployer (instead of the network's key env var)")
@click.option("--rpc-url", help="use this node instead of the network's rpc_url (the chain id is still checked)")
def deploy(network_name: str, config_path: str | None, out: str | None, force: bool, keystore: str | None,
           rpc_url: str | None) -> None:
    """Deploy the marketplace contracts on NETWORK, or reuse the recorded ones when they are live.

    The deployer's key comes from the network's env var (ZKMARKET_PRIVATE_KEY unless key_env says
    otherwise) or from an encrypted keystore file; it is never printed."""
    from web3 import Web3

    config = load_networks(config_path)
    network = config[network_name]
    url = rpc_url or network.resolve_rpc_url()
    # A URL from an env var may carry an API key: name the variable, not the URL.
    shown = url if (rpc_url or network.rpc_url) else f"${network.rpc_url_env}"
    signer = signer_for_network(network, keystore=keystore, prompt=_prompt if sys.stdin.isatty() else None)
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}))
    if not w3.is_connected():
        raise MarketError(f"cannot reach the node of network {network_name!r} at {shown}")
    path = Path(out) if out else network.deployment_file
    console = _console()
    console.print(f"network {network_name} (chain id {network.chain_id}) at {shown}; deployer {signer.address}")
    result = ensure_market(w3, signer, network.market, path, chain_id=network.chain_id, network=network_name,
                           local=network.local,
                           force=force, log=lambda m: console.print(f"  {m}"))
    dep = result.deployment
    if result.reused:
        console.print(f"reused {path} ({result.reason}; --force redeploys)")
    else:
        console.print(f"deployed ({result.reason}); wrote {path}")
    from rich.table import Table

    table = Table(title=f"zkmarket on chain id {dep.chain_id} (from block {dep.start_block})")
    table.add_column("contract")
    table.add_column("address", no_wrap=True)
    table.add_column("block", justify="right")
    table.add_column("role")
    for name, r in dep.records.items():
        table.add_row(name, r.address, str(r.block_number), _ROLES[name])
    console.print(table)
