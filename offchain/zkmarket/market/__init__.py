"""zkmarket.market: the marketplace as deployed on a network.

config (``networks.toml``: :mod:`.networks`, :mod:`.params`) -> signer (:mod:`.keys`) ->
deployment (:mod:`.deployment`: deploy, record, reuse) -> the ``zkmarket deploy`` command
(:mod:`.cli`). Everything raised on purpose derives from :class:`MarketError`.
"""

from .deployment import (
    CONTRACTS,
    PROTOCOLS,
    REGISTRY,
    TRANSFERS,
    ContractRecord,
    EnsureResult,
    MarketDeployment,
    check_chain_id,
    code_hash,
    compile_market,
    deploy_market,
    ensure_market,
    reuse_problem,
)
from .errors import (
    DeploymentFileError,
    KeyLoadError,
    MarketError,
    NetworkConfigError,
    ParamsError,
    StaleDeploymentError,
    WrongNetworkError,
)
from .keys import (
    DEFAULT_KEY_ENV,
    DEFAULT_PASSWORD_ENV,
    Signer,
    load_signer,
    signer_for_network,
    signer_from_env,
    signer_from_keystore,
    write_keystore,
)
from .networks import CONFIG_FILENAME, Network, NetworksConfig, default_config_path, load_network, load_networks
from .params import (
    ETH,
    AuditConfig,
    GuardedConfig,
    MarketParams,
    RetrievalConfig,
    RoundConfig,
    TokenPrices,
    TransferConfig,
    parse_amount,
    parse_duration,
)

__all__ = [
    "CONTRACTS", "PROTOCOLS", "REGISTRY", "TRANSFERS", "ContractRecord", "EnsureResult", "MarketDeployment",
    "check_chain_id", "code_hash", "compile_market", "deploy_market", "ensure_market", "reuse_problem",
    "DeploymentFileError", "KeyLoadError", "MarketError", "NetworkConfigError", "ParamsError",
    "StaleDeploymentError", "WrongNetworkError",
    "DEFAULT_KEY_ENV", "DEFAULT_PASSWORD_ENV", "Signer", "load_signer", "signer_for_network", "signer_from_env",
    "signer_from_keystore", "write_keystore",
    "CONFIG_FILENAME", "Network", "NetworksConfig", "default_config_path", "load_network", "load_networks",
    "ETH", "AuditConfig", "GuardedConfig", "MarketParams", "RetrievalConfig", "RoundConfig", "TokenPrices",
    "TransferConfig", "parse_amount", "parse_duration",
]
