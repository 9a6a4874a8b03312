"""Shared, session-scoped real components: the digits circuit with keys, anvil, the verifier;
and, per test, a fresh marketplace with the digits model registered."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def _cache_dir():
    os.environ.setdefault("ZKMARKET_CACHE_DIR", str(ROOT / ".cache" / "zkmarket"))


@pytest.fixture(scope="session")
def digits_split():
    from zkmarket.model.data import load_digits_split

    return load_digits_split()


@pytest.fixture(scope="session")
def digits_circuit(_cache_dir):
    from zkmarket import prover as zp
    from zkmarket.model.data import DIGITS_MODEL

    return zp.compile_model(DIGITS_MODEL, "hidden-both", "class")


@pytest.fixture(scope="session")
def digits_keys(digits_circuit):
    from zkmarket import prover as zp

    return zp.setup(digits_circuit)


@pytest.fixture(scope="session")
def digits_proof(digits_circuit, digits_keys, digits_split):
    from zkmarket import prover as zp

    return zp.prove(digits_circuit, digits_keys, digits_split.test_inputs[0])


@pytest.fixture(scope="session")
def anvil():
    from zkmarket.chain import Anvil

    with Anvil() as node:
        yield node


@pytest.fixture
def chain(anvil):
    """Each test runs on its own chain state (snapshot / revert)."""
    w3 = anvil.w3()
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    yield w3
    w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture(scope="session")
def verifier(anvil, digits_circuit, digits_keys):
    from zkmarket import prover as zp
    from zkmarket.chain import deploy_verifier

    return deploy_verifier(anvil.w3(), zp.export_verifier(digits_circuit, digits_keys),
                           private_key=anvil.accounts[0].private_key)


@pytest.fixture
def digits_market(chain, anvil, tmp_path, verifier):
    """A fresh marketplace (N1 = 2, deployed by anvil account 5, saved to tmp_path/deployment.json)
    with the digits model registered by MP (account 6): deployment, path, provider, mp (MP's
    connection) and model_id."""
    from zkmarket import prover as zp
    from zkmarket.market import MarketParams, deploy_market
    from zkmarket.model.data import DIGITS_MODEL
    from zkmarket.participants.connect import connect
    from zkmarket.protocol.merkle import b32

    eth = "0x" + "00" * 20
    deployment = deploy_market(chain, anvil.accounts[5], MarketParams(n1=2))
    path = deployment.save(tmp_path / "deployment.json")
    provider = anvil.accounts[6]
    mp = connect(path, anvil.rpc_url, provider)
    stake = mp.registry.functions.requiredStake(eth).call()
    receipt = mp.send(mp.registry, "registerModel",
                      [verifier.address, b32(zp.commit_weights(DIGITS_MODEL)), "ipfs://digits", eth], value=stake)
    model_id = mp.event(receipt, mp.registry, "ModelRegistered")["modelId"]
    return SimpleNamespace(deployment=deployment, path=path, provider=provider, mp=mp, model_id=model_id)
