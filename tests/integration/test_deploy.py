"""Deploying the marketplace on a real anvil: six contracts with the configured parameters, the
four protocols registered, a deployment file that round-trips and is reused while the recorded
code is live, --force, the wrong-network refusal, and `zkmarket deploy` itself."""

from __future__ import annotations

import json
import re
from dataclasses import fields, replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from zkmarket.market import (
    CONTRACTS,
    ETH,
    PROTOCOLS,
    MarketDeployment,
    MarketParams,
    StaleDeploymentError,
    WrongNetworkError,
    compile_market,
    deploy_market,
    ensure_market,
    load_network,
    write_keystore,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {"AccuracyAudit": "accuracy_audit", "ServingRound": "serving_round", "Retrieval": "retrieval",
            "DataTransferService": "data_transfer", "GriefingResistantAudit": "griefing_resistant_audit"}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


@pytest.fixture(scope="module")
def compiled():
    return compile_market()


@pytest.fixture
def deployer(anvil):
    return anvil.accounts[3]


@pytest.fixture
def params() -> MarketParams:
    return load_network("local", ROOT / "networks.toml").market


@pytest.fixture
def market(chain, deployer, params, compiled) -> MarketDeployment:
    return deploy_market(chain, deployer, params, network="local", compiled=compiled)


def test_deploy_market_sets_every_parameter_and_registers_the_protocols(chain, market, deployer, params, compiled):
    assert list(market.records) == list(CONTRACTS) and market.chain_id == 31337
    assert market.deployer == deployer.address and market.params.fee_recipient == deployer.address
    c = market.contracts(chain, compiled=compiled)
    for name, r in market.records.items():
        code = bytes(chain.eth.get_code(r.address))
        assert len(code) == compiled[name].deployed_size  # immutables change bytes, never the length
        assert chain.eth.get_transaction_receipt(r.tx_hash)["status"] == 1
        assert chain.eth.get_transaction_receipt(r.tx_hash)["contractAddress"] == r.address
    assert chain.eth.get_transaction_receipt(market.setup_tx_hash)["status"] == 1
    assert market.missing_code(chain) == []

    registry = c["ModelRegistry"].functions
    assert registry.protocolsSet().call()
    assert all(registry.isProtocol(market.address(n)).call() for n in PROTOCOLS)
    assert not registry.isProtocol(market.address("DataTransferService")).call()
    assert not registry.isProtocol(deployer.address).call()
    eth = params.prices(ETH)
    assert registry.n1().call() == params.n1 == 2
    assert tuple(registry.prices(ETH).call()) == (eth.example_e, eth.proof_z, eth.inference_p, eth.fee_epsilon)
    assert registry.requiredStake(ETH).call() == params.required_stake() == 1000 * 2 * 10**15
    assert registry.paymentTokens().call() == [ETH]
    assert registry.feeRecipient().call() == deployer.address
    assert registry.unbondingDelay().call() == params.unbonding_delay == 86_400
    assert registry.deployer().call() == deployer.address

    for name, section in SECTIONS.items():  # every config field, read back through its getter
        config = getattr(params, section)
        for f in fields(config):
            assert getattr(c[name].functions, camel(f.name))().call() == getattr(config, f.name), (name, f.name)
    for name in PROTOCOLS:
        assert c[name].functions.registry().call() == market.address("ModelRegistry")
    assert c["GriefingResistantAudit"].functions.transfers().call() == market.address("DataTransferService")


def test_deployment_file_round_trips(market, tmp_path):
    path = market.save(tmp_path / "deep" / "local.json")
    loaded = MarketDeployment.load(path)
    assert loaded == market
    doc = json.loads(path.read_text())
    assert doc["format"] == "zkmarket-deployment" and doc["chain_id"] == 31337
    assert doc["start_block"] == market.start_block == market.records["ModelRegistry"].block_number
    assert {n: v["address"] for n, v in doc["contracts"].items()} == market.addresses
    assert all(re.fullmatch(r"0x[0-9a-f]{64}", v["code_hash"]) for v in doc["contracts"].values())
    assert doc["params"]["tokens"][0]["example_e"] == "1000000000000000"


def test_second_deploy_reuses_and_force_redeploys(chain, deployer, params, compiled, tmp_path):
    path = tmp_path / "local.json"
    first = ensure_market(chain, deployer, params, path, chain_id=31337, compiled=compiled)
    assert not first.reused and path.is_file()
    block = chain.eth.block_number
    again = ensure_market(chain, deployer, params, path, chain_id=31337, compiled=compiled)
    assert again.reused and again.deployment == first.deployment
    assert chain.eth.block_number == block  # nothing sent
    forced = ensure_market(chain, deployer, params, path, chain_id=31337, compiled=compiled, force=True)
    assert not forced.reused and forced.reason == "--force"
    assert set(forced.deployment.addresses.values()).isdisjoint(first.deployment.addresses.values())
    assert MarketDeployment.load(path) == forced.deployment


def test_contracts_gone_from_the_chain_are_redeployed(chain, deployer, params, compiled, tmp_path):
    path = tmp_path / "local.json"
    snapshot = chain.provider.make_request("evm_snapshot", [])["result"]
    old = ensure_market(chain, deployer, params, path, chain_id=31337, compiled=compiled).deployment
    chain.provider.make_request("evm_revert", [snapshot])  # like a restarted anvil
    assert old.missing_code(chain)
    fresh = ensure_market(chain, deployer, params, path, chain_id=31337, compiled=compiled)
    assert not fresh.reused and "not on this chain any more" in fresh.reason
    assert fresh.deployment.missing_code(chain) == []


def test_live_deployment_with_other_params_needs_force(chain, deployer, params, compiled, tmp_path):
    path = tmp_path / "local.json"
    ensure_market(chain, deployer, params, path, chain_id=31337, compiled=compiled)
    other = replace(params, n1=3)
    with pytest.raises(StaleDeploymentError, match=r"parameters differ \(n1\).*--force"):
        ensure_market(chain, deployer, other, path, chain_id=31337, compiled=compiled)
    redeployed = ensure_market(chain, deployer, other, path, chain_id=31337, compiled=compiled, force=True)
    assert redeployed.deployment.contract(chain, "ModelRegistry", compiled=compiled).functions.n1().call() == 3


def test_wrong_chain_id_is_refused_before_sending(chain, deployer, params, compiled, tmp_path):
    block = chain.eth.block_number
    with pytest.raises(WrongNetworkError) as e:
        ensure_market(chain, deployer, params, tmp_path / "x.json", chain_id=11155111, network="sepolia",
                      compiled=compiled)
    assert str(e.value) == ("wrong network: the node reports chain id 31337, but the config of network "
                            "'sepolia' says chain id 11155111")
    assert chain.eth.block_number == block and not (tmp_path / "x.json").exists()


def test_deployment_file_of_another_chain_is_refused(market, chain, compiled):
    other = replace(market, chain_id=5)
    with pytest.raises(WrongNetworkError, match="chain id 31337, but the deployment file says chain id 5"):
        other.contracts(chain, compiled=compiled)


# ---------------------------------------------------------------------------- the command

def invoke(*args: str, env: dict[str, str]):
    from zkmarket.cli import main

    return CliRunner().invoke(main, ["deploy", *args], env=env)


def test_zkmarket_deploy_local_then_reuse_then_force(anvil, chain, deployer, tmp_path):
    env = {"ZKMARKET_PRIVATE_KEY": deployer.private_key}
    out = tmp_path / "local.json"
    args = ["--network", "local", "--config", str(ROOT / "networks.toml"), "--rpc-url", anvil.rpc_url, "--out", str(out)]
    result = invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    assert deployer.private_key[2:] not in result.output
    first = MarketDeployment.load(out)
    assert first.network == "local" and first.deployer == deployer.address
    for name, address in first.addresses.items():
        assert re.search(rf"{name}\s.*{address}", result.output), name
    block = chain.eth.block_number

    result = invoke(*args, env=env)
    assert result.exit_code == 0 and "reused" in result.output, result.output
    assert chain.eth.block_number == block and MarketDeployment.load(out) == first

    result = invoke(*args, "--force", env=env)
    assert result.exit_code == 0 and "deployed (--force)" in result.output, result.output
    assert MarketDeployment.load(out).addresses["ModelRegistry"] != first.addresses["ModelRegistry"]


def test_zkmarket_deploy_default_file_and_keystore(anvil, chain, deployer, tmp_path):
    config = tmp_path / "networks.toml"
    config.write_text(f'[networks.dev]\nrpc_url = "{anvil.rpc_url}"\nchain_id = 31337\n'
                      f'keystore = "keys/deployer.json"\npassword_env = "DEV_PW"\n')
    write_keystore(tmp_path / "keys" / "deployer.json", deployer.private_key, "pw", kdf="pbkdf2", iterations=2)
    result = invoke("--network", "dev", "--config", str(config), env={"DEV_PW": "pw", "ZKMARKET_PRIVATE_KEY": ""})
    assert result.exit_code == 0, result.output
    dep = MarketDeployment.load(tmp_path / "deployments" / "dev.json")
    assert dep.deployer == deployer.address and dep.params == MarketParams().with_fee_recipient(deployer.address)


def test_zkmarket_deploy_refuses_the_wrong_network(anvil, chain, deployer, tmp_path):
    block = chain.eth.block_number
    result = invoke("--network", "sepolia", "--config", str(ROOT / "networks.toml"), "--rpc-url", anvil.rpc_url,
                    "--out", str(tmp_path / "s.json"), env={"ZKMARKET_PRIVATE_KEY": deployer.private_key})
    assert result.exit_code == 1
    assert "error: wrong network: the node reports chain id 31337, but the config of network 'sepolia' says " \
           "chain id 11155111" in result.output
    assert chain.eth.block_number == block


def test_zkmarket_deploy_unreachable_node_is_one_line(deployer, tmp_path):
    result = invoke("--network", "local", "--config", str(ROOT / "networks.toml"), "--rpc-url", "http://127.0.0.1:9",
                    "--out", str(tmp_path / "x.json"), env={"ZKMARKET_PRIVATE_KEY": deployer.private_key})
    assert result.exit_code == 1 and "error: cannot reach the node of network 'local'" in result.output
