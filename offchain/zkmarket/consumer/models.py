"""Registering a model (its weight commitment computed with the prover's Poseidon, the stake
paid) and reading a model with its public record."""

from __future__ import annotations

from pathlib import Path

from eth_utils import keccak
from web3 import Web3

from .. import prover as zp
from ..protocol.states import MODEL_STATUSES
from .client import ConsumerClient, format_amount, token_name
from .errors import ConsumerError


def _checked_verifier(client: ConsumerClient, verifier: str, allow_dev_srs: bool, export: str) -> str:
    """The verifier's checksum address, refused if it holds no code, or trusts the insecure
    development SRS (anyone can forge its proofs) on a chain that is not local without
    ``allow_dev_srs``."""
    if not Web3.is_address(verifier):
        raise ConsumerError(f"--verifier must be a contract address, got {verifier!r}")
    verifier = Web3.to_checksum_address(verifier)
    code = bytes(client.w3.eth.get_code(verifier))
    if not code:
        raise ConsumerError(f"no contract at the verifier address {verifier} on chain id {client.deployment.chain_id} "
                            f"(deploy the model's verifier first: `zkmarket prover {export}`)")
    if zp.uses_dev_srs(code) and not client.deployment.local and not allow_dev_srs:
        raise ConsumerError(f"the verifier at {verifier} trusts the INSECURE development SRS, whose proofs anyone can "
                            f"forge, and chain id {client.deployment.chain_id} is not a local network: make keys and "
                            f"the verifier with a published powers of tau (--srs, --srs-sha256), or pass "
                            f"--insecure-allow-forgeable-dev-srs")
    return verifier


def register_model(client: ConsumerClient, model: str | Path, verifier: str, uri: str, token: str, *,
                   allow_dev_srs: bool = False) -> dict:
    """Stakes ``requiredStake(token)`` and registers; returns the ModelRegistered fields."""
    verifier = _checked_verifier(client, verifier, allow_dev_srs, "export-verifier")
    if not client.call(client.registry, "isAcceptedToken", token):
        accepted = ", ".join(token_name(t) for t in client.call(client.registry, "paymentTokens"))
        raise ConsumerError(f"token {token} is not accepted by this marketplace (accepted: {accepted})")
    commitment = int(zp.commit_weights(model), 16).to_bytes(32, "big")
    stake = client.call(client.registry, "requiredStake", token)
    value = client.pay_token(token, client.registry.address, stake)
    receipt = client.send(client.registry, "registerModel", [verifier, commitment, uri, token], value=value)
    return client.event(receipt, client.registry, "ModelRegistered")


def register_aggregation_verifier(client: ConsumerClient, model_id: int, verifier: str, batch: int, *,
                                  allow_dev_srs: bool = False) -> dict:
    """Registers the model's aggregation verifier (once, with no open job); returns the
    AggregationVerifierRegistered fields. Only jobs opened in a later block take aggregated
    proofs (those opened before, even not yet joined, keep to single proofs)."""
    verifier = _checked_verifier(client, verifier, allow_dev_srs, "export-aggregation-verifier")
    receipt = client.send(client.registry, "registerAggregationVerifier", [model_id, verifier, batch])
    return client.event(receipt, client.registry, "AggregationVerifierRegistered")


def describe_model(client: ConsumerClient, model_id: int) -> dict:
    """The registered model, its record and availability, as plain JSON-able values."""
    m = client.call(client.registry, "model", model_id)  # ModelNotFound
    r = client.call(client.registry, "record", model_id)
    code = bytes(client.w3.eth.get_code(m.verifier))
    audits = r.auditsPassed + r.auditsFailed + r.auditsAborted
    return {
        "model_id": model_id,
        "provider": m.provider,
        "status": MODEL_STATUSES[m.status],
        "available": client.call(client.registry, "isAvailable", model_id),
        "token": token_name(m.token),
        "verifier": m.verifier,
        "verifier_code_ok": bool(code) and keccak(code) == bytes(m.verifierCodehash),
        "verifier_uses_dev_srs": zp.uses_dev_srs(code),
        "weight_commitment": "0x" + bytes(m.weightCommitment).hex(),
        "stake": m.stake,
        "stake_text": format_amount(m.stake, m.token),
        "required_stake": client.call(client.registry, "requiredStake", m.token),
        "open_jobs": m.openJobs,
        "aggregation": _aggregation_terms(client, model_id),
        "unbondable_at": m.unbondableAt,
        "metadata_uri": m.metadataURI,
        "record": {"audits_passed": r.auditsPassed, "audits_failed": r.auditsFailed, "audits_aborted": r.auditsAborted,
                   "rounds_completed": r.roundsCompleted, "rounds_failed": r.roundsFailed},
        "audit_failure_rate": (r.auditsFailed / audits) if audits else None,
    }


def _aggregation_terms(client: ConsumerClient, model_id: int) -> dict | None:
    """The aggregation verifier; `registered_at` (block timestamp): only jobs opened later take
    aggregated proofs."""
    verifier, codehash, batch, registered_at = client.call(client.registry, "aggregationTerms", model_id)
    if not batch:
        return None
    code = bytes(client.w3.eth.get_code(verifier))
    return {"verifier": verifier, "batch": batch, "registered_at": registered_at,
            "verifier_code_ok": bool(code) and keccak(code) == bytes(codehash)}
