"""`zkmarket provider run`: the provider agent as a long-running command (appendix-B and simple
audits, serving rounds, retrieval requests), proving in itself or on a Ray cluster;
`zkmarket provider status`: its proving progress per job; `zkmarket provider commit-dataset`: a
responder's dataset commitment (paper 5.4 step 1), its documents kept in the agent's state file."""

from __future__ import annotations

import json
from pathlib import Path

import click
from eth_utils import keccak

from .. import prover as zp
from ..chain.verifier import compile_verifier
from ..cli_params import ExistingFile, fail, settings_options
from ..participants.audit_common import Aggregation
from ..participants.retrieval import RetrievalResponder, load_documents
from ..prover.aggregation import parse_levels
from .executors import make_prover
from .guarded_audit import GuardedAuditJobs
from .jobs import JoinPolicy, ServedModel
from .logs import get_logger, log
from .provider import ProviderAgent
from .retrieval import RequestJobs, RequestPolicy, commit_dataset
from .server import DeliveryServer
from .serving_round import RoundJobs, RoundPolicy
from .settings import AgentSettings, ProviderSettings
from .simple_audit import SimpleAuditJobs
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
@click.option("--model", "models", multiple=True, required=True, metavar="MODEL_ID=PATH",
              help="a registered model this agent answers for (repeatable)")
@settings_options(AgentSettings)
def run(models, settings: AgentSettings):
    """Watch the chain and answer audits, serving rounds and retrieval requests of MODEL_IDs
    until interrupted."""
    logger = get_logger()
    market, contracts, start_block = settings.connect()
    served = {}
    for spec in models:
        model_id, path = _model_spec(spec)
        registered = market.registry.functions.model(model_id).call()
        if registered.provider != market.account.address:
            raise click.ClickException(f"model {model_id} belongs to {registered.provider}, "
                                       f"not to {market.account.address}")
        if int(zp.commit_weights(path), 16).to_bytes(32, "big") != registered.weightCommitment:
            raise click.ClickException(f"{path}: its weight commitment differs from the one registered for "
                                       f"model {model_id}; proofs with it would be refused")
        circuit = zp.compile_model(path, "hidden-both", "class")
        keys = zp.setup(circuit)
        aggregation = _aggregation(market, model_id, circuit, keys, settings, logger) if settings.aggregate else None
        served[model_id] = ServedModel(model_id, path, circuit, keys, aggregation)
        log(logger, "model ready", model=model_id, path=str(path), rows=2 ** circuit.k,
            aggregation_batch=aggregation.agg.batch if aggregation else None)
    state = AgentState(settings.db)
    try:
        prover = make_prover(settings.ray_address, settings.workers, logger, cpus=settings.ray_cpus)
    except ConnectionError as e:
        raise click.ClickException(str(e).splitlines()[0]) from e
    common = {"logger": logger, "prover": prover, "start_block": start_block}
    rounds = RoundJobs(market, contracts["ServingRound"], served, state,
                       policy=RoundPolicy(settings.max_k, settings.min_beta, settings.max_beta), **common)
    requests = RequestJobs(market, contracts["Retrieval"], served, state,
                           policy=RequestPolicy(settings.max_challenges, settings.min_beta, settings.max_beta), **common)
    simple = SimpleAuditJobs(market, contracts["AccuracyAudit"], served, state, policy=JoinPolicy(max_n=settings.max_n),
                             batch_size=settings.batch_size, prove_batch=settings.prove_batch, **common)
    audits = GuardedAuditJobs(market, market.audits, served, state, policy=JoinPolicy(max_n=settings.max_n),
                              batch_size=settings.batch_size, prove_batch=settings.prove_batch,
                              aggregation_margin=settings.aggregation_margin, min_aggregate=settings.min_aggregate,
                              **common)
    # Rounds and requests first: their answers are a few proofs against answer windows of
    # minutes, while an audit's proving stage can take much longer.
    agent = ProviderAgent(market, [rounds, requests, simple, audits], logger)
    server = DeliveryServer(settings.host, settings.port, audits.accept_delivery, serve_round=rounds.serve,
                            results=requests.delivery, testset=simple.accept_test_set).start()
    log(logger, "http listening", url=server.url)
    try:
        agent.run(poll_seconds=settings.poll)
    except KeyboardInterrupt:
        log(logger, "agent stopped")
    finally:
        server.stop()
        prover.close()


def _aggregation(market, model_id: int, circuit, keys, settings: AgentSettings, logger) -> Aggregation | None:
    """The aggregation keys matching the model's registered aggregation verifier (None when it
    has none): made once (minutes), their verifier's code checked against the registered hash."""
    verifier, codehash, batch, registered_at = market.registry.functions.aggregationTerms(model_id).call()
    if not batch:
        return None
    log(logger, "aggregation keys", model=model_id, batch=batch)
    try:
        levels = parse_levels(settings.aggregation_levels) if settings.aggregation_levels else None
        agg = zp.setup_aggregation(circuit, keys, batch, levels=levels,
                                   progress=lambda message: log(logger, message, model=model_id))
    except zp.InputError as e:
        raise click.ClickException(f"model {model_id}: {e}") from None
    code = bytes.fromhex(compile_verifier(zp.export_aggregation_verifier(agg)).deployed_bytecode_hex)
    if keccak(code) != bytes(codehash):
        raise click.ClickException(f"model {model_id}: the aggregation verifier registered at {verifier} was not made "
                                   f"from these keys (batch {batch}, levels {agg.shape}); pass the "
                                   f"--aggregation-levels it was made with, or --no-aggregate")
    # The tree's intermediate proofs live beside the agent's state: a killed agent resumes them.
    # One of them per tick (minutes each), so the loop keeps answering other jobs in between.
    return Aggregation(circuit, keys, agg, work_dir=settings.db.parent / f"{settings.db.stem}-aggregation",
                       registered_at=registered_at, max_new_nodes=1,
                       progress=lambda message: log(logger, "aggregating", model=model_id, step=message))


@provider.command()
@click.option("--db", type=click.Path(dir_okay=False), default="provider-agent.sqlite", show_default=True,
              envvar="ZKMARKET_DB", help="the agent's state file")
def status(db):
    """Proving progress per job, as the agent last stored it (one JSON object a line): proofs
    done of total, in flight, failed, proofs per minute, ETA in seconds, prover (local or ray)."""
    if not Path(db).is_file():
        fail(f"{db}: no agent state file there (zkmarket provider run --db writes it)")
    for kind, job_id, body in AgentState(db).progress():
        click.echo(json.dumps({"kind": kind, "job": job_id, **body}))


@provider.command("commit-dataset")
@click.option("--documents", type=ExistingFile(), required=True,
              help="the documents: .npy (one per row) or JSON (a list of hex strings or of byte lists)")
@settings_options(ProviderSettings)
def commit_dataset_cmd(documents, settings: ProviderSettings):
    """Commit a dataset for retrieval requests (its Merkle root on chain, its documents in --db
    for the agent). Committing the same documents again reuses the earlier commitment."""
    docs = load_documents(documents)
    market, contracts, start_block = settings.connect()
    responder = RetrievalResponder(market, contracts["Retrieval"], None, None, None)
    dataset_id, dataset, reused = commit_dataset(responder, AgentState(settings.db), docs, from_block=start_block)
    click.echo(json.dumps({"datasetId": dataset_id, "root": "0x" + dataset.root.hex(), "documents": len(docs),
                           "reused": reused}))
