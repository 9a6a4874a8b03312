"""`zkmarket provider run`: the provider agent as a long-running command."""

from __future__ import annotations

from pathlib import Path

import click

from .. import prover as zp
from ..market.keys import load_signer
from ..participants.connect import connect
from .logs import get_logger, log
from .provider import JoinPolicy, ProviderAgent, ServedModel
from .server import DeliveryServer
from .state import AgentState


def _model_spec(value: str) -> tuple[int, Path]:
    model_id, sep, path = value.partition("=")
    if not sep or not model_id.isdigit() or not Path(path).is_file():
        raise click.BadParameter(f"expected MODEL_ID=PATH with an existing model file, got {value!r}")
    return int(model_id), Path(path)


@click.group()
def provider():
    """Model provider (MP) commands."""


@provider.command()
@click.option("--deployment", type=click.Path(exists=True, dir_okay=False), required=True,
              help="deployment file written by `zkmarket deploy`")
@click.option("--rpc-url", default="http://127.0.0.1:8545", show_default=True)
@click.option("--keystore", type=click.Path(exists=True, dir_okay=False),
              help="encrypted keystore (else the key in $ZKMARKET_PRIVATE_KEY)")
@click.option("--model", "models", multiple=True, required=True, metavar="MODEL_ID=PATH",
              help="a registered model this agent answers for (repeatable)")
@click.option("--db", type=click.Path(dir_okay=False), default="provider-agent.sqlite", show_default=True,
              help="the agent's state (last block, jobs, deliveries, proofs)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8600, show_default=True, help="HTTP port for MC's deliveries")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="parallel provers")
@click.option("--batch-size", type=click.IntRange(1, 200), default=10, show_default=True,
              help="proofs per submitProofs transaction")
@click.option("--max-n", type=click.IntRange(1), default=1000, show_default=True, help="largest audit to join")
@click.option("--poll", type=float, default=1.0, show_default=True, help="seconds between chain polls")
def run(deployment, rpc_url, keystore, models, db, host, port, workers, batch_size, max_n, poll):
    """Watch the chain and answer audits of MODEL_IDs until interrupted."""
    logger = get_logger()
    signer = load_signer(keystore=keystore)
    market = connect(deployment, rpc_url, signer)
    served = {}
    for spec in models:
        model_id, path = _model_spec(spec)
        registered = market.registry.functions.model(model_id).call()
        if registered[0] != signer.address:
            raise click.ClickException(f"model {model_id} belongs to {registered[0]}, not to {signer.address}")
        if int(zp.commit_weights(path), 16).to_bytes(32, "big") != registered[7]:
            raise click.ClickException(f"{path}: its weight commitment differs from the one registered for "
                                       f"model {model_id}; proofs with it would be refused")
        circuit = zp.compile_model(path, "hidden-both", "class")
        served[model_id] = ServedModel(model_id, path, circuit, zp.setup(circuit))
        log(logger, "model ready", model=model_id, path=str(path), rows=2 ** circuit.k)
    agent = ProviderAgent(market, served, AgentState(db), JoinPolicy(max_n=max_n), workers=workers,
                          batch_size=batch_size, logger=logger)
    server = DeliveryServer(host, port, agent.accept_delivery).start()
    log(logger, "http listening", url=server.url)
    try:
        agent.run(poll_seconds=poll)
    except KeyboardInterrupt:
        log(logger, "agent stopped")
    finally:
        server.stop()
