"""zkmarket.chain: the local Ethereum toolchain (anvil, solc via the solcjs shim, web3 deploys).

Everything raised on purpose derives from :class:`ChainError`.
"""

from .anvil import DEFAULT_CHAIN_ID, DEFAULT_GAS_LIMIT, DEFAULT_HARDFORK, Anvil, DevAccount, anvil_binary, anvil_version
from .deploy import CallResult, Deployment, call_raw, deploy, encode_constructor_args, estimate_gas, send_raw
from .errors import (
    AnvilError,
    ChainError,
    CompileError,
    CompilerMessage,
    ContractNotFoundError,
    DeploymentError,
    SolcError,
    ToolchainNotFoundError,
    TransactionError,
)
from .solidity import (
    EIP170_CODE_SIZE_LIMIT,
    Compilation,
    CompiledContract,
    compile_file,
    compile_source,
    compile_sources,
    solc_version,
)
from .verifier import OnchainVerification, deploy_verifier, verify_onchain

__all__ = [
    "OnchainVerification", "deploy_verifier", "verify_onchain",
    "Anvil", "DevAccount", "anvil_binary", "anvil_version", "DEFAULT_CHAIN_ID", "DEFAULT_GAS_LIMIT", "DEFAULT_HARDFORK",
    "CallResult", "Deployment", "call_raw", "deploy", "encode_constructor_args", "estimate_gas", "send_raw",
    "AnvilError", "ChainError", "CompileError", "CompilerMessage", "ContractNotFoundError", "DeploymentError",
    "SolcError", "ToolchainNotFoundError", "TransactionError",
    "EIP170_CODE_SIZE_LIMIT", "Compilation", "CompiledContract", "compile_file", "compile_source",
    "compile_sources", "solc_version",
]
