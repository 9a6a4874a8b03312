"""Exceptions of :mod:`zkmarket.market`: every error raised on purpose is a :class:`MarketError`.

None of them ever carries key material: messages name the env var or file, never its content.
"""

from __future__ import annotations


class MarketError(Exception):
    """Root of all errors raised by :mod:`zkmarket.market`."""


class ParamsError(MarketError, ValueError):
    """Marketplace parameters that the contracts would refuse (or that make no sense)."""


class NetworkConfigError(MarketError):
    """The networks file is missing, malformed, or does not name the requested network."""


class KeyLoadError(MarketError):
    """No signing key could be loaded (env var unset or malformed, keystore unreadable, bad password)."""


class WrongNetworkError(MarketError):
    """The node answers a chain id other than the one the config (or the deployment file) names."""

    def __init__(self, expected: int, actual: int, *, what: str = "the config"):
        self.expected = expected
        self.actual = actual
        super().__init__(f"wrong network: the node reports chain id {actual}, but {what} says chain id {expected}")


class DeploymentFileError(MarketError):
    """A deployment file cannot be read or does not have the expected format."""


class StaleDeploymentError(MarketError):
    """The recorded contracts are live but were built from other sources or other parameters
    than the ones given now; redeploying (``--force``) is an explicit decision."""
