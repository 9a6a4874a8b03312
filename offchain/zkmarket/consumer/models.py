"""Registering a model (its weight commitment computed with the prover's Poseidon, the stake
paid) and reading a model with its public record."""

from __future__ import annotations

from pathlib import Path

from eth_utils import keccak
from web3 import Web3

from .. import prover as zp
from ..protocol.states import MODEL_STATUSES
from .client import ConsumerClient, format_amount
from .errors import ConsumerError


def register_model(client: ConsumerClient, model: str | Path, verifier: str, uri: str, token: str, *,
                   allow_dev_srs: bool = False) -> dict:
    """Stakes ``requiredStake(token)`` and registers; returns the ModelRegistered fields.

    Refuses a verifier that trusts the insecure development SRS (anyone can forge its proofs)
    unless the deployment is on a development chain or ``allow_dev_srs`` overrides."""
    if not Web3.is_address(verifier):
        raise ConsumerError(f"--verifier must be a contract address, got {verifier!r}")
    verifier = Web3.to_checksum_address(verifier)
    code = bytes(client.w3.eth.get_code(verifier))
    if not code:
        raise ConsumerError(f"no contract at the verifier address {verifier} on chain id {client.deployment.chain_id} "
                            f"(deploy the model's verifier first: `zkmarket prover export-verifier`)")
    if zp.uses_dev_srs(code) and not client.deployment.local and not allow_dev_srs:
        raise ConsumerError(f"the verifier at {verifier} trusts the INSECURE development SRS, whose proofs anyone can "
                            f"forge, and chain id {client.deployment.chain_id} is not a local network: make keys and "
                            f"the verifier with a published powers of tau (--srs, --srs-sha256), or pass "
                            f"--insecure-allow-forgeable-dev-srs")
    if not client.call(client.registry, "isAcceptedToken", token):
        accepted = ", ".join("ETH" if int(t, 16) == 0 else t for t in client.call(client.registry, "paymentTokens"))
        raise ConsumerError(f"token {token} is not accepted by this marketplace (accepted: {accepted})")
    commitment = int(zp.commit_weights(model), 16).to_bytes(32, "big")
    stake = client.call(client.registry, "requiredStake", token)
    value = client.pay_token(token, client.registry.address, stake)
    receipt = client.send(client.registry, "registerModel", [verifier, commitment, uri, token], value=value)
    return client.event(receipt, client.registry, "ModelRegistered")


def describe_model(client: ConsumerClient, model_id: int) -> dict:
    """The registered model, its record and availability, as plain JSON-able values."""
    m = client.call(client.registry, "model", model_id)  # ModelNotFound
    r = client.call(client.registry, "record", model_id)
    code = bytes(client.w3.eth.get_code(m[5]))
    audits = r[0] + r[1] + r[2]
    return {
        "model_id": model_id,
        "provider": m[0],
        "status": MODEL_STATUSES[m[1]],
        "available": client.call(client.registry, "isAvailable", model_id),
        "token": "ETH" if int(m[2], 16) == 0 else m[2],
        "verifier": m[5],
        "verifier_code_ok": bool(code) and keccak(code) == bytes(m[6]),
        "verifier_uses_dev_srs": zp.uses_dev_srs(code),
        "weight_commitment": "0x" + bytes(m[7]).hex(),
        "stake": m[8],
        "stake_text": format_amount(m[8], m[2]),
        "required_stake": client.call(client.registry, "requiredStake", m[2]),
        "open_jobs": m[4],
        "unbondable_at": m[3],
        "metadata_uri": m[9],
        "record": {"audits_passed": r[0], "audits_failed": r[1], "audits_aborted": r[2],
                   "rounds_completed": r[3], "rounds_failed": r[4]},
        "audit_failure_rate": (r[1] / audits) if audits else None,
    }
