"""The deployment config: networks.toml, market parameters (the constructors' rules, checked
before anything is sent) and where the signing key comes from (env var or keystore, never code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account

from zkmarket.cli import main
from zkmarket.market import (
    ETH,
    KeyLoadError,
    MarketParams,
    NetworkConfigError,
    ParamsError,
    TokenPrices,
    load_network,
    load_networks,
    load_signer,
    parse_amount,
    parse_duration,
    signer_for_network,
    signer_from_keystore,
    write_keystore,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# anvil's first public dev key: fine in a test, never on a real network.
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "networks.toml"
    p.write_text(text)
    return p


# ---------------------------------------------------------------------------- networks.toml

def test_repo_networks_file_has_local_anvil_and_an_env_url_testnet():
    config = load_networks(ROOT / "networks.toml")
    local, sepolia = config["local"], config["sepolia"]
    assert (local.chain_id, local.rpc_url, local.rpc_url_env) == (31337, "http://127.0.0.1:8545", None)
    assert local.deployment_file == ROOT / "deployments" / "local.json"
    assert local.key_env == "ZKMARKET_PRIVATE_KEY" and local.keystore is None
    eth = local.market.prices(ETH)
    assert (eth.example_e, eth.proof_z, eth.inference_p, eth.fee_epsilon) == (10**15, 10**14, 10**13, 10**12)
    assert local.market.unbonding_delay == 86_400 and local.market.required_stake() == 1000 * 2 * 10**15
    assert (sepolia.chain_id, sepolia.rpc_url, sepolia.rpc_url_env) == (11155111, None, "SEPOLIA_RPC_URL")
    assert sepolia.market.n1 == 10 and sepolia.market.accuracy_audit.proof_time_per_example == 300
    assert sepolia.market.serving_round == MarketParams().serving_round  # not in the file: defaults


def test_rpc_url_env_is_read_when_used_and_its_absence_is_named():
    sepolia = load_network("sepolia", ROOT / "networks.toml")
    with pytest.raises(NetworkConfigError, match="env var SEPOLIA_RPC_URL"):
        sepolia.resolve_rpc_url({})
    assert sepolia.resolve_rpc_url({"SEPOLIA_RPC_URL": "https://rpc.example/k"}) == "https://rpc.example/k"


def test_unknown_network_lists_the_known_ones():
    with pytest.raises(NetworkConfigError, match=r"'mainnet' is not in .*known: local, sepolia"):
        load_network("mainnet", ROOT / "networks.toml")


def test_partial_market_table_overrides_key_by_key(tmp_path):
    path = write(tmp_path, """
[networks.dev]
rpc_url = "http://127.0.0.1:9999"
chain_id = 1337
keystore = "keys/dev.json"
deployment = "out/dev.json"
[networks.dev.market]
fee_recipient = "0x000000000000000000000000000000000000dEaD"
[networks.dev.market.serving_round]
max_beta = 4
answer_window = "2h"
""")
    dev = load_network("dev", path)
    assert dev.keystore == tmp_path / "keys" / "dev.json" and dev.deployment_file == tmp_path / "out" / "dev.json"
    assert dev.market.serving_round.max_beta == 4 and dev.market.serving_round.answer_window == 7_200
    assert dev.market.serving_round.max_k == MarketParams().serving_round.max_k
    assert dev.market.fee_recipient == "0x000000000000000000000000000000000000dEaD"
    assert dev.market.tokens == MarketParams().tokens


@pytest.mark.parametrize("body, message", [
    ('[networks.x]\nrpc_url = "http://h:1"\n', "chain_id must be a positive integer"),
    ('[networks.x]\nchain_id = 1\n', "exactly one of rpc_url and rpc_url_env"),
    ('[networks.x]\nchain_id = 1\nrpc_url = "http://h:1"\nrpc_url_env = "U"\n', "exactly one of rpc_url"),
    ('[networks.x]\nchain_id = 1\nrpc_url = "h:1"\n', "http(s):// or ws(s):// URL"),
    ('[networks.x]\nchain_id = 1\nrpc_url = "http://h:1"\nprivate_key = "0x01"\n', "unknown key(s) private_key"),
    ('[networks.x]\nchain_id = 1\nrpc_url_env = "not a name"\n', "not an environment variable name"),
    ('[networks.x]\nchain_id = 1\nrpc_url = "http://h:1"\n[networks.x.market]\nn1 = 0\n', "market.n1 must be > 0"),
    ('[network.x]\nchain_id = 1\n', "unknown top-level key(s) network"),
    ('title = "x"\n', "unknown top-level key(s) title"),
    ('[networks]\n', "defines no network"),
    ('[networks.x\n', "is not valid TOML"),
])
def test_bad_networks_file_is_refused_clearly(tmp_path, body, message):
    with pytest.raises(NetworkConfigError) as e:
        load_networks(write(tmp_path, body))
    assert message in str(e.value)


def test_missing_networks_file_is_named(tmp_path):
    with pytest.raises(NetworkConfigError, match="cannot read the networks file .*nope.toml"):
        load_networks(tmp_path / "nope.toml")


# ---------------------------------------------------------------------------- market parameters

def test_amounts_and_durations_are_exact_integers():
    assert parse_amount("0.001 ether") == parse_amount("1e15") == parse_amount(10**15) == 10**15
    assert parse_amount("10 gwei") == 10 * 10**9 and parse_amount("1_000 wei") == 1000
    assert parse_amount("123456789012345678901234567890") == 123456789012345678901234567890
    assert parse_duration("90s") == 90 and parse_duration("15m") == 900 and parse_duration("7d") == 604_800
    for bad in (0.1, True, "0.5 wei", "1 btc", "-1", [1]):
        with pytest.raises(ParamsError):
            parse_amount(bad)
    for bad in (1.5, "1y", "-3", None):
        with pytest.raises(ParamsError):
            parse_duration(bad)


def price_table(e, z, p, eps=0, token="ETH"):
    return {"tokens": [{"token": token, "example_e": e, "proof_z": z, "inference_p": p, "fee_epsilon": eps}]}


@pytest.mark.parametrize("market, message", [
    (price_table(100, 100, 1), "E > Z > P > 0"),
    (price_table(100, 10, 10), "E > Z > P > 0"),
    (price_table(100, 10, 0), "E > Z > P > 0"),
    (price_table(0.1, 0.01, 0.001), "not an exact integer amount"),
    (price_table(2**256, 10, 1), "market.tokens[ETH].example_e must be between 0 and"),
    (price_table(100, 10, 1, token="0x123"), "is not an address"),
    ({"tokens": []}, "at least one payment token"),
    ({"tokens": price_table(100, 10, 1)["tokens"] * 2}, "listed twice"),
    ({"tokens": [{"token": "ETH", "example_e": 100, "proof_z": 10}]}, "missing fee_epsilon, inference_p"),
    ({"tokens": [{"token": "ETH", "example_e": 100, "proof_z": 10, "inference_p": 1, "fee_epsilon": 0, "q": 1}]},
     "unknown key(s) q"),
    ({"n1": 0}, "market.n1 must be > 0"),
    ({"n1": 1024}, "must be < griefing_resistant_audit.max_n (1024)"),
    ({"n1": 2**250}, "overflows uint256"),
    ({"unbonding_delay": 0}, "unbonding_delay must be between 1"),
    ({"unbonding_delay": "3651d"}, "unbonding_delay must be between 1"),
    ({"fee_recipient": ETH}, "fee_recipient must not be the zero address"),
    ({"fee_recipient": "alice"}, "is not an address"),
    ({"accuracy_audit": {"join_window": 0}}, "market.accuracy_audit.join_window must be > 0"),
    ({"accuracy_audit": {"max_n": 0}}, "market.accuracy_audit.max_n must be > 0"),
    ({"accuracy_audit": {"max_n": 2**32}}, "market.accuracy_audit.max_n must be between 0 and 4294967295"),
    ({"accuracy_audit": {"proof_window": "3651d"}}, "at most 315360000 s"),
    ({"accuracy_audit": {"max_n": 10**6, "proof_time_per_example": 1000}}, "max_n * proof_time_per_example"),
    ({"serving_round": {"min_beta": 1}}, "min_beta must be >= 2"),
    ({"serving_round": {"min_beta": 5, "max_beta": 4}}, "max_beta (4) must be >= min_beta (5)"),
    ({"serving_round": {"max_k": 10**6, "proof_window": 1000}}, "max_k * proof_window"),
    ({"retrieval": {"challenge_window": 0}}, "market.retrieval.challenge_window must be > 0"),
    ({"retrieval": {"max_documents": 0}}, "market.retrieval.max_documents must be > 0"),
    ({"data_transfer": {"contest_window": 0}}, "market.data_transfer.contest_window must be > 0"),
    ({"griefing_resistant_audit": {"send_window": 0}}, "griefing_resistant_audit.send_window must be > 0"),
    ({"griefing_resistant_audit": {"max_n": 2}}, "market.n1 (2) must be < griefing_resistant_audit.max_n (2)"),
    ({"retrieval": {"chalenge_window": 5}}, "market.retrieval: unknown key(s) chalenge_window"),
    ({"prices": {}}, "market: unknown key(s) prices"),
])
def test_invalid_params_fail_with_a_clear_error(market, message):
    with pytest.raises(ParamsError) as e:
        MarketParams.from_dict(market)
    assert message in str(e.value)


def test_every_problem_is_listed_at_once():
    with pytest.raises(ParamsError) as e:
        MarketParams.from_dict({"retrieval": {"min_beta": 1, "join_window": 0, "answer_window": 0}})
    text = str(e.value)
    assert "min_beta must be >= 2" in text and "join_window must be > 0" in text and "answer_window must be > 0" in text


def test_params_round_trip_exactly_through_json():
    params = MarketParams.from_dict({
        **price_table("123456789012345678901234567890", "0.5 ether", "1 wei", "7 gwei"),
        "fee_recipient": "0x000000000000000000000000000000000000dead",
        "accuracy_audit": {"max_n": 77}, "n1": 5,
    })
    doc = json.loads(json.dumps(params.to_dict()))
    assert doc["tokens"][0]["example_e"] == "123456789012345678901234567890"  # exact in any JSON reader
    assert MarketParams.from_dict(doc) == params
    assert params.fee_recipient == "0x000000000000000000000000000000000000dEaD"
    assert params.prices("eth").as_struct() == (ETH, (123456789012345678901234567890, 5 * 10**17, 1, 7 * 10**9))
    assert params.accuracy_audit.as_struct() == (77, 120, 3600, 3600, 3600)
    with pytest.raises(ParamsError, match="not a payment token"):
        params.prices("0x000000000000000000000000000000000000dEaD")


def test_several_tokens_keep_their_own_prices():
    token = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    params = MarketParams(tokens=(TokenPrices(), TokenPrices(token=token, example_e=1000, proof_z=100,
                                                               inference_p=10, fee_epsilon=1)))
    assert params.required_stake(token) == 1000 * 2 * 1000
    assert params.prices(token.lower()).token == token


# ---------------------------------------------------------------------------- keys

def test_key_from_env_var_never_shows_the_key():
    signer = load_signer(environ={"ZKMARKET_PRIVATE_KEY": KEY})
    assert signer.address == ADDRESS and signer.private_key == KEY
    assert KEY[2:] not in repr(signer) and KEY[2:] not in str(signer)
    assert "ZKMARKET_PRIVATE_KEY" in signer.source
    assert load_signer(key_env="MY_KEY", environ={"MY_KEY": "  " + KEY[2:].upper() + "\n"}).address == ADDRESS


@pytest.mark.parametrize("bad", ["0x1234", KEY + "00", "0x" + "zz" * 32, "0x" + "00" * 32, "0x" + "ff" * 32])
def test_malformed_key_is_refused_without_echoing_it(bad):
    with pytest.raises(KeyLoadError) as e:
        load_signer(environ={"ZKMARKET_PRIVATE_KEY": bad})
    assert "env var ZKMARKET_PRIVATE_KEY" in str(e.value)
    assert bad.removeprefix("0x") not in str(e.value) and e.value.__cause__ is None


def test_missing_key_names_both_ways_to_give_one():
    with pytest.raises(KeyLoadError) as e:
        load_signer(environ={})
    assert "ZKMARKET_PRIVATE_KEY" in str(e.value) and "keystore" in str(e.value)


@pytest.fixture
def keystore(tmp_path) -> Path:
    path = tmp_path / "deployer.json"
    path.write_text(json.dumps(Account.encrypt(KEY, "s3cret", kdf="pbkdf2", iterations=2)))
    return path


def test_keystore_with_password_from_env(keystore):
    signer = load_signer(keystore=keystore, environ={"ZKMARKET_KEYSTORE_PASSWORD": "s3cret"})
    assert signer.address == ADDRESS and signer.private_key == KEY and "keystore" in signer.source
    # The keystore wins over a key in the env var.
    other = "0x" + "11" * 32
    assert load_signer(keystore=keystore, environ={"ZKMARKET_KEYSTORE_PASSWORD": "s3cret",
                                                   "ZKMARKET_PRIVATE_KEY": other}).address == ADDRESS


def test_keystore_with_password_from_prompt(keystore):
    asked = []
    signer = signer_from_keystore(keystore, environ={}, prompt=lambda msg: asked.append(msg) or "s3cret")
    assert signer.address == ADDRESS and len(asked) == 1 and str(keystore) in asked[0]


def test_keystore_errors_are_clear(keystore, tmp_path):
    with pytest.raises(KeyLoadError, match="wrong password"):
        signer_from_keystore(keystore, password="nope")
    with pytest.raises(KeyLoadError, match="no password .*ZKMARKET_KEYSTORE_PASSWORD"):
        signer_from_keystore(keystore, environ={})
    with pytest.raises(KeyLoadError, match="cannot read keystore"):
        signer_from_keystore(tmp_path / "missing.json", password="x")
    (tmp_path / "plain.json").write_text('{"address": "x"}')
    with pytest.raises(KeyLoadError, match="not an encrypted keystore"):
        signer_from_keystore(tmp_path / "plain.json", password="x")


def test_write_keystore_round_trips_and_never_overwrites(tmp_path):
    path = write_keystore(tmp_path / "k" / "a.json", KEY, "pw", kdf="pbkdf2", iterations=2)
    assert path.stat().st_mode & 0o077 == 0
    assert KEY[2:] not in path.read_text()
    assert signer_from_keystore(path, password="pw").address == ADDRESS
    with pytest.raises(FileExistsError):
        write_keystore(path, KEY, "pw", kdf="pbkdf2", iterations=2)


def test_network_names_its_key_source_and_keystore_option_overrides(tmp_path, keystore):
    path = write(tmp_path, '[networks.n]\nrpc_url = "http://h:1"\nchain_id = 1\nkey_env = "N_KEY"\n'
                           'password_env = "N_PW"\n')
    network = load_network("n", path)
    assert signer_for_network(network, environ={"N_KEY": KEY}).source == "env var N_KEY"
    with pytest.raises(KeyLoadError, match="N_KEY"):
        signer_for_network(network, environ={"ZKMARKET_PRIVATE_KEY": KEY})
    assert signer_for_network(network, keystore=keystore, environ={"N_PW": "s3cret"}).address == ADDRESS


def test_deploy_command_without_key_fails_before_touching_the_network(tmp_path):
    path = write(tmp_path, '[networks.n]\nrpc_url = "http://127.0.0.1:9"\nchain_id = 1\n')
    result = CliRunner().invoke(main, ["deploy", "--network", "n", "--config", str(path)], env={"ZKMARKET_PRIVATE_KEY": ""})
    assert result.exit_code == 1
    assert "error: no signing key: set env var ZKMARKET_PRIVATE_KEY" in result.output
    result = CliRunner().invoke(main, ["deploy", "--network", "m", "--config", str(path)])
    assert result.exit_code == 1 and "'m' is not in" in result.output
