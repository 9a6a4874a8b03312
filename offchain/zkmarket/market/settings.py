"""Where a party's marketplace is and who signs for it: the settings every role's commands
share. A flag wins over its environment variable (``ZKMARKET_<NAME>``), which wins over the
network's entry in networks.toml. Keys never live here: the signer comes from the env var the
network names (``ZKMARKET_PRIVATE_KEY`` by default) or an encrypted keystore file."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from pydantic import Field, FilePath
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import MarketError
from .keys import Signer, load_signer, signer_for_network
from .networks import Network, load_network

DEFAULT_RPC_URL = "http://127.0.0.1:8545"


class MarketSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZKMARKET_", frozen=True)

    network: str | None = Field(None, description="a network of networks.toml: its deployment file, node and key")
    deployment: Path | None = Field(None, description="deployment file written by `zkmarket deploy`")
    rpc_url: str | None = Field(None, description=f"the node [default: the network's, else {DEFAULT_RPC_URL}]")
    keystore: FilePath | None = Field(None, description="encrypted keystore file (else the key in "
                                                         "$ZKMARKET_PRIVATE_KEY or the network's key env var)")

    def locate(self) -> tuple[Path, str, Network | None]:
        """(deployment file, node URL, the network when one is named); MarketError when neither a
        deployment file nor a network says which marketplace."""
        net = load_network(self.network) if self.network else None
        if self.deployment is not None:
            path = self.deployment
        elif net is not None:
            path = net.deployment_file
        else:
            raise MarketError("which marketplace? pass --deployment FILE (written by `zkmarket deploy`) or "
                              "--network NAME (a network of networks.toml)")
        return path, self.rpc_url or (net.resolve_rpc_url() if net is not None else DEFAULT_RPC_URL), net

    def signer(self, net: Network | None, prompt: Callable[[str], str] | None = None) -> Signer:
        """The account that signs: --keystore, else the network's key, else $ZKMARKET_PRIVATE_KEY."""
        if net is not None:
            return signer_for_network(net, keystore=self.keystore, prompt=prompt)
        return load_signer(keystore=self.keystore, prompt=prompt)
