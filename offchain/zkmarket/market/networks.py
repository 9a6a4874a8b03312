"""The networks file (``networks.toml`` at the repository root): where each network's node is,
which chain id it must answer, where its signing key comes from, and its market parameters.

    [networks.local]
    rpc_url = "http://127.0.0.1:8545"
    chain_id = 31337

    [networks.sepolia]
    rpc_url_env = "SEPOLIA_RPC_URL"      # the URL (often with an API key) stays out of the file
    chain_id = 11155111
    key_env = "ZKMARKET_PRIVATE_KEY"     # or: keystore = "keys/deployer.json"
    [networks.sepolia.market]
    n1 = 10
    [[networks.sepolia.market.tokens]]
    token = "ETH"
    example_e = "0.0001 ether"
    ...

Keys never live in this file: it names an env var or an encrypted keystore file. Relative paths
(keystore, deployment) are relative to the file's folder. A network without a ``market`` table
gets :class:`MarketParams` defaults; a partial table overrides key by key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import NetworkConfigError, ParamsError
from .keys import DEFAULT_KEY_ENV, DEFAULT_PASSWORD_ENV
from .params import MarketParams

CONFIG_FILENAME = "networks.toml"
DEPLOYMENTS_DIR = "deployments"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NETWORK_KEYS = {"rpc_url", "rpc_url_env", "chain_id", "key_env", "keystore", "password_env", "deployment", "market",
                 "local"}


@dataclass(frozen=True)
class Network:
    """One ``[networks.NAME]`` entry, validated."""

    name: str
    chain_id: int
    rpc_url: str | None = None  # literal URL, or
    rpc_url_env: str | None = None  # the name of the env var holding it
    key_env: str = DEFAULT_KEY_ENV  # env var holding a 0x private key
    keystore: Path | None = None  # encrypted keystore JSON (used instead of key_env when set)
    password_env: str = DEFAULT_PASSWORD_ENV  # env var holding the keystore password (else a prompt)
    deployment: Path | None = None  # the deployment file; None: deployments/<name>.json
    market: MarketParams = field(default_factory=MarketParams)
    local: bool = False  # a development chain: verifiers on the insecure development SRS are allowed

    @property
    def deployment_file(self) -> Path:
        return self.deployment if self.deployment is not None else Path(DEPLOYMENTS_DIR) / f"{self.name}.json"

    def resolve_rpc_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The node's URL; reads ``rpc_url_env`` now (not at load time), so a network that is not
        used never needs its env var."""
        if self.rpc_url is not None:
            return self.rpc_url
        env = os.environ if environ is None else environ
        value = env.get(self.rpc_url_env or "", "").strip()
        if not value:
            raise NetworkConfigError(f"network {self.name!r}: env var {self.rpc_url_env} (its RPC URL) is not set")
        return value


@dataclass(frozen=True)
class NetworksConfig:
    path: Path
    networks: dict[str, Network]

    def __getitem__(self, name: str) -> Network:
        try:
            return self.networks[name]
        except KeyError:
            raise NetworkConfigError(f"network {name!r} is not in {self.path} (known: "
                                     f"{', '.join(sorted(self.networks)) or 'none'})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.networks

    def names(self) -> list[str]:
        return sorted(self.networks)


def default_config_path() -> Path:
    """``./networks.toml`` when the working directory has one, else the repository root's."""
    here = Path.cwd() / CONFIG_FILENAME
    if here.is_file():
        return here
    from zkmarket.chain.paths import repo_root

    return repo_root() / CONFIG_FILENAME


def _env_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise NetworkConfigError(f"{where}: {value!r} is not an environment variable name")
    return value


def _path(value: Any, where: str, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise NetworkConfigError(f"{where}: expected a path string, got {value!r}")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def parse_network(name: str, table: Mapping[str, Any], *, base_dir: Path, source: str = "networks file") -> Network:
    """Validate one ``[networks.NAME]`` table."""
    where = f"{source}: [networks.{name}]"
    if not _NAME.match(name):
        raise NetworkConfigError(f"{where}: network names use letters, digits, '_', '-', '.'")
    if not isinstance(table, Mapping):
        raise NetworkConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - _NETWORK_KEYS)
    if unknown:
        raise NetworkConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_NETWORK_KEYS))})")
    chain_id = table.get("chain_id")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise NetworkConfigError(f"{where}: chain_id must be a positive integer, got {chain_id!r}")
    rpc_url, rpc_url_env = table.get("rpc_url"), table.get("rpc_url_env")
    if (rpc_url is None) == (rpc_url_env is None):
        raise NetworkConfigError(f"{where}: give exactly one of rpc_url and rpc_url_env")
    if rpc_url is not None and (not isinstance(rpc_url, str) or not re.match(r"^(https?|wss?)://", rpc_url)):
        raise NetworkConfigError(f"{where}: rpc_url must be an http(s):// or ws(s):// URL, got {rpc_url!r}")
    if rpc_url_env is not None:
        rpc_url_env = _env_name(rpc_url_env, f"{where} rpc_url_env")
    local = table.get("local", False)
    if not isinstance(local, bool):
        raise NetworkConfigError(f"{where}: local must be true or false, got {local!r}")
    try:
        market = MarketParams.from_dict(table.get("market"))
    except ParamsError as e:
        raise NetworkConfigError(f"{where}: {e}") from e
    return Network(
        name=name,
        chain_id=chain_id,
        rpc_url=rpc_url,
        rpc_url_env=rpc_url_env,
        key_env=_env_name(table.get("key_env", DEFAULT_KEY_ENV), f"{where} key_env"),
        keystore=_path(table["keystore"], f"{where} keystore", base_dir) if "keystore" in table else None,
        password_env=_env_name(table.get("password_env", DEFAULT_PASSWORD_ENV), f"{where} password_env"),
        deployment=(_path(table["deployment"], f"{where} deployment", base_dir) if "deployment" in table
                    else base_dir / DEPLOYMENTS_DIR / f"{name}.json"),
        market=market,
        local=local,
    )


def load_networks(path: str | os.PathLike[str] | None = None) -> NetworksConfig:
    """Read and validate every network of the networks file (default :func:`default_config_path`)."""
    p = Path(path) if path is not None else default_config_path()
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise NetworkConfigError(f"cannot read the networks file {p}: {e.strerror or e}") from e
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise NetworkConfigError(f"{p} is not valid TOML: {e}") from e
    unknown = sorted(set(doc) - {"networks"})
    if unknown:
        raise NetworkConfigError(f"{p}: unknown top-level key(s) {', '.join(unknown)} (networks go under [networks.NAME])")
    tables = doc.get("networks", {})
    if not isinstance(tables, dict) or not tables:
        raise NetworkConfigError(f"{p} defines no network (add a [networks.NAME] table)")
    base_dir = p.resolve().parent
    networks = {name: parse_network(name, t, base_dir=base_dir, source=str(p)) for name, t in tables.items()}
    return NetworksConfig(path=p, networks=networks)


def load_network(name: str, path: str | os.PathLike[str] | None = None) -> Network:
    """One network of the networks file; the error lists the known names."""
    return load_networks(path)[name]
