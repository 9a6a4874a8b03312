"""Deploy a generated halo2 verifier and check proofs through it on-chain."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from .deploy import Deployment, call_raw, deploy, send_raw
from .solidity import CompiledContract, compile_source


@dataclass(frozen=True)
class OnchainVerification:
    accepted: bool
    gas_used: int | None  # gas of a mined verification transaction (None when rejected)


def compile_verifier(solidity_source: str) -> CompiledContract:
    """Compiles a generated verifier with the pinned solc.

    The generated code is one hand-scheduled assembly block: the Yul optimizer runs out of stack
    slots on it, so only the legacy optimizer runs (it trims ~3% of the code size)."""
    return compile_source(solidity_source, filename="Halo2Verifier.sol", optimize=True, optimizer_runs=1,
                          optimizer_details={"yul": False})


def deploy_verifier(w3: Web3, solidity_source: str, *, private_key: str) -> Deployment:
    """Compiles and deploys the verifier (the EIP-170 code size limit applies)."""
    return deploy(w3, compile_verifier(solidity_source), private_key=private_key)


def verify_onchain(w3: Web3, verifier: str, calldata: bytes, *, private_key: str | None = None) -> OnchainVerification:
    """Calls the verifier; with a key, also mines the call to measure the gas actually used.

    The generated verifier has no ABI: it reads instances then proof from raw calldata and
    reverts unless the proof is valid."""
    result = call_raw(w3, verifier, calldata)
    if not result.success:
        return OnchainVerification(accepted=False, gas_used=None)
    if private_key is None:
        return OnchainVerification(accepted=True, gas_used=result.gas_estimate)
    receipt = send_raw(w3, verifier, calldata, private_key=private_key)
    return OnchainVerification(accepted=True, gas_used=int(receipt["gasUsed"]))
