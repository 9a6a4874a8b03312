"""The provider's settings: those every role shares (zkmarket.market.settings) plus the agent's
state file, and for `zkmarket provider run` its HTTP endpoint, provers (a local pool or a Ray
cluster) and join policies."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ..market.deployment import MarketDeployment, check_chain_id
from ..market.settings import MarketSettings
from ..participants.connect import MarketConnection, connect


class ProviderSettings(MarketSettings):
    db: Path = Field(Path("provider-agent.sqlite"),
                     description="the agent's state (last blocks, jobs, deliveries, inputs, datasets, proofs)")

    def connect(self) -> tuple[MarketConnection, dict, int]:
        """MP's connection, the deployment's contracts by name, and the block it starts at."""
        path, rpc_url, net = self.locate()
        market = connect(path, rpc_url, self.signer(net))
        if net is not None:
            check_chain_id(market.w3, net.chain_id, what=f"network {net.name!r} in networks.toml")
        dep = MarketDeployment.load(path)
        return market, dep.contracts(market.w3), dep.start_block


class AgentSettings(ProviderSettings):
    host: str = Field("127.0.0.1", description="HTTP host")
    port: int = Field(8600, ge=0, le=65535,
                      description="HTTP port (MC's deliveries and test sets, round inputs, retrieval results)")
    workers: int = Field(1, ge=1, le=64, description="parallel provers in the agent (and its fallback when a Ray "
                                                     "cluster is lost)")
    ray_address: str | None = Field(None, description="prove on this Ray cluster (auto, HOST:PORT or "
                                                      "ray://HOST:10001) instead of in the agent")
    ray_cpus: int = Field(1, ge=1, le=256, description="CPUs each Ray proving task holds (its prover's threads)")
    batch_size: int = Field(10, ge=1, le=200, description="proofs per submitProofs transaction")
    prove_batch: int = Field(0, ge=0, le=100_000, description="audit proofs made per poll (0: --batch-size); "
                                                               "on a Ray cluster, at least its task slots")
    aggregate: bool = Field(True, description="prove appendix-B audits in aggregated batches when the model has "
                                              "an aggregation verifier registered (its keys are made once: minutes)")
    aggregation_levels: str | None = Field(None, description="the aggregation tree the registered verifier was made "
                                                             "for, BATCH:K per level, e.g. 4:22,4:22,1:22 [default: "
                                                             "zkmarket prover aggregate's default for its batch]")
    aggregation_margin: int | None = Field(None, ge=0, description="seconds before an audit's proof deadline below "
                                                                   "which the agent submits single proofs instead of "
                                                                   "aggregating [default: 900 per proof of one full "
                                                                   "aggregation tree, 5400 for 4:22,4:22,1:22]")
    min_aggregate: int = Field(2, ge=1, description="fewest examples left worth one aggregated proof (fewer: "
                                                    "single proofs; one aggregated proof costs about a single one's gas)")
    max_n: int = Field(1000, ge=1, description="largest audit to join")
    max_k: int = Field(256, ge=1, description="largest serving round to join")
    max_challenges: int = Field(64, ge=0, description="largest retrieval challenge budget C to join")
    min_beta: int = Field(2, ge=2, description="smallest escrow multiplier beta of rounds and requests to join")
    max_beta: int = Field(10, ge=2,
                          description="largest escrow multiplier beta (MP risks beta*K*Z, a responder beta*D*Z)")
    poll: float = Field(1.0, gt=0, description="seconds between chain polls")
