"""Each role's settings: a flag wins over its ZKMARKET_* env var, which wins over the default;
bad values are refused in one line naming the flag or the env var."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from zkmarket.agent.settings import AgentSettings
from zkmarket.cli_params import settings_options
from zkmarket.consumer.settings import ConsumerSettings
from zkmarket.market.errors import MarketError
from zkmarket.market.settings import DEFAULT_RPC_URL


@click.command()
@settings_options(AgentSettings)
def show_agent(settings: AgentSettings):
    click.echo(f"{settings.port} {settings.workers} {settings.db} {settings.rpc_url} {settings.poll}")


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner(mix_stderr=False).invoke(show_agent, list(args), env=env or {})


def test_defaults_then_env_then_flags():
    assert run().output.split() == ["8600", "1", "provider-agent.sqlite", "None", "1.0"]
    env = {"ZKMARKET_PORT": "9100", "ZKMARKET_WORKERS": "4", "ZKMARKET_RPC_URL": "http://node:8545"}
    assert run(env=env).output.split() == ["9100", "4", "provider-agent.sqlite", "http://node:8545", "1.0"]
    assert run("--port", "9200", "--db", "a.sqlite", env=env).output.split() == [
        "9200", "4", "a.sqlite", "http://node:8545", "1.0"]


def test_flag_bounds_come_from_the_settings_fields():
    refused = run("--workers", "65")
    assert refused.exit_code == 2 and "65 is not in the range 1<=x<=64" in refused.stderr
    assert "[env ZKMARKET_BATCH_SIZE; default: 10]" in " ".join(run("--help").output.split())


def test_bool_settings_are_flag_pairs_and_optional_ints_keep_their_bounds():
    @click.command()
    @settings_options(AgentSettings)
    def show(settings: AgentSettings):
        click.echo(f"{settings.aggregate} {settings.aggregation_levels}")

    def out(*args, env=None):
        return CliRunner(mix_stderr=False).invoke(show, list(args), env=env or {})

    assert out().output.split() == ["True", "None"]
    assert out("--no-aggregate", "--aggregation-levels", "4:22,1:22").output.split() == ["False", "4:22,1:22"]
    assert out(env={"ZKMARKET_AGGREGATE": "false"}).output.split() == ["False", "None"]
    assert out("--aggregate", env={"ZKMARKET_AGGREGATE": "false"}).output.split() == ["True", "None"]
    assert out("--min-aggregate", "0").exit_code == 2


def test_a_bad_env_value_is_one_line_naming_the_variable():
    for env, named in (({"ZKMARKET_PORT": "http"}, "ZKMARKET_PORT"), ({"ZKMARKET_POLL": "0"}, "ZKMARKET_POLL"),
                       ({"ZKMARKET_KEYSTORE": "/no/such/keystore.json"}, "ZKMARKET_KEYSTORE")):
        result = run(env=env)
        assert result.exit_code == 1 and result.stderr.startswith(f"error: {named}: "), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_the_marketplace_comes_from_a_deployment_file_or_a_network(monkeypatch, tmp_path):
    for name in ("ZKMARKET_NETWORK", "ZKMARKET_DEPLOYMENT", "ZKMARKET_RPC_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MarketError, match="--deployment FILE .* --network NAME"):
        ConsumerSettings().locate()
    path, rpc_url, net = ConsumerSettings(deployment=tmp_path / "d.json").locate()
    assert (path, rpc_url, net) == (tmp_path / "d.json", DEFAULT_RPC_URL, None)
    monkeypatch.setenv("ZKMARKET_DEPLOYMENT", "from-env.json")
    assert ConsumerSettings().locate()[0] == Path("from-env.json")
