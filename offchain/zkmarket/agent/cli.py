"""`zkmarket provider run`: the provider agent as a long-running command (appendix-B and simple
audits, serving rounds, retrieval requests); `zkmarket provider commit-dataset`: a responder's dataset
commitment (paper 5.4 step 1), its documents kept in the agent's state file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import prover as zp
from ..cli_params import ExistingFile
from ..market.deployment import MarketDeployment
from ..market.errors import MarketError
from ..market.keys import load_signer
from ..participants.connect import connect
from ..participants.retrieval import RetrievalError, RetrievalResponder, load_documents
from .guarded_audit import GuardedAuditJobs
from .jobs import JoinPolicy, ServedModel
from .logs import get_logger, log
from .provider import ProviderAgent
from .retrieval import RequestJobs, RequestPolicy, commit_dataset
from .server import DeliveryServer
from .serving_round import RoundJobs, RoundPolicy
from .simple_audit import SimpleAuditJobs
from .state import AgentState


def _model_spec(value: str) -> tuple[int, Path]:
    model_id, sep, path = value.partition("=")
    if not sep or not model_id.isdigit() or not Path(path).is_file():
        raise click.BadParameter(f"expected MODEL_ID=PATH with an existing model file, got {value!r}")
    return int(model_id), Path(path)


def _connect(deployment: str, rpc_url: str, keystore: str | None):
    """The signer's MarketConnection plus the deployment's ServingRound and Retrieval contracts."""
    signer = load_signer(keystore=keystore)
    try:
        market = connect(deployment, rpc_url, signer)
        dep = MarketDeployment.load(deployment)
        contracts = dep.contracts(market.session.w3)
    except MarketError as e:
        raise click.ClickException(str(e)) from e
    return signer, market, contracts, dep.start_block


_connection_options = [
    click.option("--deployment", type=ExistingFile(), required=True,
                 help="deployment file written by `zkmarket deploy`"),
    click.option("--rpc-url", default="http://127.0.0.1:8545", show_default=True),
    click.option("--keystore", type=ExistingFile(),
                 help="encrypted keystore (else the key in $ZKMARKET_PRIVATE_KEY)"),
    click.option("--db", type=click.Path(dir_okay=False), default="provider-agent.sqlite", show_default=True,
                 help="the agent's state (last blocks, jobs, deliveries, inputs, datasets, proofs)"),
]


def connection_options(f):
    for opt in reversed(_connection_options):
        f = opt(f)
    return f


@click.group()
def provider():
    """Model provider (MP) commands."""


@provider.command()
@connection_options
@click.option("--model", "models", multiple=True, required=True, metavar="MODEL_ID=PATH",
              help="a registered model this agent answers for (repeatable)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8600, show_default=True,
              help="HTTP port (MC's deliveries and test sets, round inputs, retrieval results)")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="parallel provers")
@click.option("--batch-size", type=click.IntRange(1, 200), default=10, show_default=True,
              help="proofs per submitProofs transaction")
@click.option("--max-n", type=click.IntRange(1), default=1000, show_default=True, help="largest audit to join")
@click.option("--max-k", type=click.IntRange(1), default=256, show_default=True,
              help="largest serving round to join")
@click.option("--max-challenges", type=click.IntRange(0), default=64, show_default=True,
              help="largest retrieval challenge budget C to join")
@click.option("--min-beta", type=click.IntRange(2), default=2, show_default=True,
              help="smallest escrow multiplier beta of rounds and requests to join")
@click.option("--max-beta", type=click.IntRange(2), default=10, show_default=True,
              help="largest escrow multiplier beta (MP risks beta*K*Z, a responder beta*D*Z)")
@click.option("--poll", type=float, default=1.0, show_default=True, help="seconds between chain polls")
def run(deployment, rpc_url, keystore, db, models, host, port, workers, batch_size, max_n, max_k, max_challenges,
        min_beta, max_beta, poll):
    """Watch the chain and answer audits, serving rounds and retrieval requests of MODEL_IDs
    until interrupted."""
    logger = get_logger()
    signer, market, contracts, start_block = _connect(deployment, rpc_url, keystore)
    served = {}
    for spec in models:
        model_id, path = _model_spec(spec)
        registered = market.registry.functions.model(model_id).call()
        if registered.provider != signer.address:
            raise click.ClickException(f"model {model_id} belongs to {registered.provider}, not to {signer.address}")
        if int(zp.commit_weights(path), 16).to_bytes(32, "big") != registered.weightCommitment:
            raise click.ClickException(f"{path}: its weight commitment differs from the one registered for "
                                       f"model {model_id}; proofs with it would be refused")
        circuit = zp.compile_model(path, "hidden-both", "class")
        served[model_id] = ServedModel(model_id, path, circuit, zp.setup(circuit))
        log(logger, "model ready", model=model_id, path=str(path), rows=2 ** circuit.k)
    state = AgentState(db)
    common = {"logger": logger, "workers": workers, "start_block": start_block}
    rounds = RoundJobs(market, contracts["ServingRound"], served, state,
                       policy=RoundPolicy(max_k, min_beta, max_beta), **common)
    requests = RequestJobs(market, contracts["Retrieval"], served, state,
                           policy=RequestPolicy(max_challenges, min_beta, max_beta), **common)
    simple = SimpleAuditJobs(market, contracts["AccuracyAudit"], served, state, policy=JoinPolicy(max_n=max_n),
                             batch_size=batch_size, **common)
    audits = GuardedAuditJobs(market, market.audits, served, state, policy=JoinPolicy(max_n=max_n),
                              batch_size=batch_size, **common)
    # Rounds and requests first: their answers are a few proofs against answer windows of
    # minutes, while an audit's proving stage can take much longer.
    agent = ProviderAgent(market, [rounds, requests, simple, audits], logger)
    server = DeliveryServer(host, port, audits.accept_delivery, serve_round=rounds.serve,
                            results=requests.delivery, testset=simple.accept_test_set).start()
    log(logger, "http listening", url=server.url)
    try:
        agent.run(poll_seconds=poll)
    except KeyboardInterrupt:
        log(logger, "agent stopped")
    finally:
        server.stop()


@provider.command("commit-dataset")
@connection_options
@click.option("--documents", type=ExistingFile(), required=True,
              help="the documents: .npy (one per row) or JSON (a list of hex strings or of byte lists)")
def commit_dataset_cmd(deployment, rpc_url, keystore, db, documents):
    """Commit a dataset for retrieval requests (its Merkle root on chain, its documents in --db
    for the agent). Committing the same documents again reuses the earlier commitment."""
    try:
        docs = load_documents(documents)
    except RetrievalError as e:
        raise click.ClickException(str(e)) from e
    _, market, contracts, start_block = _connect(deployment, rpc_url, keystore)
    responder = RetrievalResponder(market, contracts["Retrieval"], None, None, None)
    dataset_id, dataset, reused = commit_dataset(responder, AgentState(db), docs, from_block=start_block)
    click.echo(json.dumps({"datasetId": dataset_id, "root": "0x" + dataset.root.hex(), "documents": len(docs),
                           "reused": reused}))
