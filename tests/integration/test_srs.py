"""Which SRS a verifier trusts: a published powers of tau in snarkjs's `.ptau` format (made here by
the real snarkjs, since no ceremony file can be downloaded) proves and verifies natively and on
chain; a verifier on the insecure development SRS is recognised from its code and refused for
registration on a chain that is not local, unless the loudly named override is given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess

import pytest
from click.testing import CliRunner

from zkmarket import prover as zp
from zkmarket.chain import Anvil, deploy_verifier, verify_onchain
from zkmarket.chain.paths import repo_root
from zkmarket.cli import main
from zkmarket.market import MarketParams, deploy_market
from zkmarket.model.data import DIGITS_MODEL
from zkmarket.prover import stages

pytestmark = pytest.mark.integration

POWER = 15  # the digits circuit's k
SEPOLIA = 11155111


@pytest.fixture(scope="module")
def ptau() -> tuple[str, str]:
    """(path, SHA-256) of a 2^15 .ptau with one contribution, made by snarkjs (cached: ~1 min)."""
    path = stages.cache_dir("test-ptau") / f"pot{POWER}-one-contribution.ptau"
    if not path.exists():
        snarkjs = str(repo_root() / "node_modules" / ".bin" / "snarkjs")
        fresh = path.with_name(path.name + ".new")
        subprocess.run([snarkjs, "powersoftau", "new", "bn128", str(POWER), str(fresh)], check=True,
                       capture_output=True, timeout=600)
        subprocess.run([snarkjs, "powersoftau", "contribute", str(fresh), str(path) + ".part", "--name=zkmarket test",
                        "-e=zkmarket test entropy"], check=True, capture_output=True, timeout=900)
        fresh.unlink()
        (path.parent / (path.name + ".part")).rename(path)
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


def test_ptau_srs_proves_and_verifies_natively_and_on_chain(ptau, anvil, digits_circuit, digits_split):
    path, sha256 = ptau
    srs = zp.load_srs(path, sha256, digits_circuit.k)
    assert not srs.insecure and srs.origin == f".ptau file, SHA-256 {sha256}, first 2^{POWER} powers"
    keys = zp.setup(digits_circuit, srs)
    proof = zp.prove(digits_circuit, keys, digits_split.test_inputs[0])
    assert zp.verify(digits_circuit, keys, proof)
    source = zp.export_verifier(digits_circuit, keys)
    assert f"// SRS: .ptau file, SHA-256 {sha256}" in source
    verifier = deploy_verifier(anvil.w3(), source, private_key=anvil.accounts[0].private_key)
    assert verify_onchain(anvil.w3(), verifier.address, stages.calldata(proof)).accepted
    assert not zp.uses_dev_srs(bytes(anvil.w3().eth.get_code(verifier.address)))
    # A dev-SRS proof of the same circuit is not valid under the ceremony's verifier.
    dev_proof = zp.prove(digits_circuit, zp.setup(digits_circuit), digits_split.test_inputs[0])
    assert not verify_onchain(anvil.w3(), verifier.address, stages.calldata(dev_proof)).accepted


def test_dev_srs_verifier_is_recognised_from_its_code(anvil, verifier, digits_circuit, digits_keys):
    assert zp.uses_dev_srs(bytes(anvil.w3().eth.get_code(verifier.address)))
    assert "// SRS: INSECURE development SRS (public seed): local chains only" in zp.export_verifier(
        digits_circuit, digits_keys)


def test_ptau_with_another_hash_is_refused(ptau):
    path, _ = ptau
    with pytest.raises(zp.SrsError, match="expected 00"):
        zp.load_srs(path, "00", POWER)


def test_ptau_with_too_few_powers_is_refused(ptau):
    path, sha256 = ptau
    with pytest.raises(zp.SrsError, match=f"holds 2\\^{POWER} powers of tau, the circuit needs 2\\^{POWER + 1}"):
        zp.load_srs(path, sha256, POWER + 1)


@pytest.mark.parametrize(("offset", "reason"), [(12 + 12 + 4, "not BN254"), (None, "off the curve")])
def test_damaged_ptau_is_refused(ptau, tmp_path, offset, reason):
    data = bytearray(open(ptau[0], "rb").read())
    if offset is None:  # a byte of the second G1 power (section 2 starts after the header section)
        offset = 12 + 12 + 44 + 12 + 64 + 5
    data[offset] ^= 0x40
    damaged = tmp_path / "damaged.ptau"
    damaged.write_bytes(bytes(data))
    with pytest.raises(zp.SrsError, match=reason):
        zp.load_srs(damaged, hashlib.sha256(bytes(data)).hexdigest(), 4)


def test_dev_srs_verifier_is_refused_for_registration_on_a_public_chain(tmp_path, digits_circuit, digits_keys):
    with Anvil(chain_id=SEPOLIA) as node:
        w3, owner, provider = node.w3(), node.accounts[0], node.accounts[1]
        deployment = deploy_market(w3, owner, MarketParams(n1=2))
        assert not deployment.local
        path = deployment.save(tmp_path / "deployment.json")
        verifier = deploy_verifier(w3, zp.export_verifier(digits_circuit, digits_keys), private_key=owner.private_key)
        env = {"ZKMARKET_PRIVATE_KEY": provider.private_key, "ZKMARKET_DEPLOYMENT": str(path),
               "ZKMARKET_RPC_URL": node.rpc_url}
        args = ["model", "register", str(DIGITS_MODEL), "--verifier", verifier.address]
        runner = CliRunner(mix_stderr=False)
        refused = runner.invoke(main, args, env=env)
        assert refused.exit_code == 1, refused.stderr
        assert "trusts the INSECURE development SRS" in refused.stderr and f"chain id {SEPOLIA}" in refused.stderr
        assert "--insecure-allow-forgeable-dev-srs" in refused.stderr
        overridden = runner.invoke(main, [*args, "--insecure-allow-forgeable-dev-srs"], env=env)
        assert overridden.exit_code == 0, overridden.stderr
        shown = runner.invoke(main, ["model", "show", "1"], env=env)
        assert "INSECURE development SRS" in shown.stdout
        # The same file marked local (a development chain under another id) takes it without the flag.
        dataclasses.replace(deployment, local=True).save(path)
        assert runner.invoke(main, args, env=env).exit_code == 0

