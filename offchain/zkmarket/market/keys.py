"""The account that signs: a private key from an env var, or an encrypted keystore file
(Web3 Secret Storage, as geth and eth-account write it).

Keys are never read from code or from the networks file, never printed and never put into an
error message: a :class:`Signer` shows only its address and where its key came from.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from eth_account import Account

from .errors import KeyLoadError

if TYPE_CHECKING:  # pragma: no cover
    from .networks import Network

DEFAULT_KEY_ENV = "ZKMARKET_PRIVATE_KEY"
DEFAULT_PASSWORD_ENV = "ZKMARKET_KEYSTORE_PASSWORD"
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Signer:
    """An account able to sign: ``address`` (checksummed) and ``private_key`` (0x hex).

    Has the ``address`` / ``private_key`` shape that :mod:`zkmarket.chain` helpers
    (``deploy``, ``send_raw``, ``ContractSession.send``) take."""

    address: str
    private_key: str = field(repr=False)
    source: str = ""  # e.g. "env var ZKMARKET_PRIVATE_KEY", "keystore keys/deployer.json"

    def __repr__(self) -> str:
        return f"Signer(address={self.address!r}, source={self.source!r})"

    __str__ = __repr__

    @classmethod
    def from_key(cls, private_key: str, *, source: str = "") -> "Signer":
        return _signer(private_key, source or "a private key")


def _signer(raw: str, source: str) -> Signer:
    text = raw.strip()
    if not _HEX_KEY.match(text):
        raise KeyLoadError(f"{source} does not hold a private key (expected 32 bytes as 64 hex digits, "
                           f"optionally 0x-prefixed)")
    key = "0x" + text.removeprefix("0x").lower()
    try:
        address = Account.from_key(key).address
    except Exception:  # out of the curve's range; never chain: the cause could show the key
        raise KeyLoadError(f"{source} does not hold a valid secp256k1 private key") from None
    return Signer(address=address, private_key=key, source=source)


def signer_from_env(name: str = DEFAULT_KEY_ENV, *, environ: Mapping[str, str] | None = None) -> Signer:
    """The key in env var ``name``."""
    env = os.environ if environ is None else environ
    value = env.get(name, "")
    if not value.strip():
        raise KeyLoadError(f"env var {name} is not set")
    return _signer(value, f"env var {name}")


def signer_from_keystore(path: str | os.PathLike[str], *, password: str | None = None,
                         password_env: str = DEFAULT_PASSWORD_ENV, environ: Mapping[str, str] | None = None,
                         prompt: Callable[[str], str] | None = None) -> Signer:
    """Decrypt an encrypted keystore JSON file. The password is ``password``, else env var
    ``password_env``, else asked through ``prompt`` (e.g. ``getpass.getpass``), else an error."""
    p = Path(path).expanduser()
    source = f"keystore {p}"
    try:
        doc = json.loads(p.read_text())
    except OSError as e:
        raise KeyLoadError(f"cannot read {source}: {e.strerror or e}") from None
    except ValueError:
        raise KeyLoadError(f"{source} is not JSON (expected an encrypted keystore file)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("crypto", doc.get("Crypto")), dict):
        raise KeyLoadError(f"{source} is not an encrypted keystore file (no 'crypto' section)")
    if password is None:
        env = os.environ if environ is None else environ
        password = env.get(password_env)
    if password is None:
        if prompt is None:
            raise KeyLoadError(f"{source}: no password (set env var {password_env})")
        password = prompt(f"password for {p}: ")
    try:
        key = Account.decrypt(doc, password)
    except ValueError as e:
        why = "wrong password" if "MAC" in str(e) else "cannot decrypt it"
        raise KeyLoadError(f"{source}: {why}") from None
    except Exception:
        raise KeyLoadError(f"{source}: cannot decrypt it (unsupported or corrupted keystore)") from None
    signer = _signer("0x" + bytes(key).hex(), source)
    recorded = doc.get("address")
    if isinstance(recorded, str) and recorded and recorded.lower().removeprefix("0x") != signer.address.lower()[2:]:
        raise KeyLoadError(f"{source}: decrypted key belongs to {signer.address}, the file says 0x{recorded.removeprefix('0x')}")
    return signer


def load_signer(*, key_env: str = DEFAULT_KEY_ENV, keystore: str | os.PathLike[str] | None = None,
                password_env: str = DEFAULT_PASSWORD_ENV, environ: Mapping[str, str] | None = None,
                prompt: Callable[[str], str] | None = None) -> Signer:
    """The signing account: the keystore file when one is given, else the key in ``key_env``."""
    if keystore is not None:
        return signer_from_keystore(keystore, password_env=password_env, environ=environ, prompt=prompt)
    env = os.environ if environ is None else environ
    if not env.get(key_env, "").strip():
        raise KeyLoadError(f"no signing key: set env var {key_env} to a private key (0x + 64 hex digits), "
                           f"or use an encrypted keystore file (--keystore FILE, or keystore = \"...\" in networks.toml)")
    return signer_from_env(key_env, environ=env)


def signer_for_network(network: "Network", *, keystore: str | os.PathLike[str] | None = None,
                       environ: Mapping[str, str] | None = None, prompt: Callable[[str], str] | None = None) -> Signer:
    """The signer a network's config names; ``keystore`` (e.g. from ``--keystore``) overrides it."""
    return load_signer(key_env=network.key_env, keystore=keystore if keystore is not None else network.keystore,
                       password_env=network.password_env, environ=environ, prompt=prompt)


def write_keystore(path: str | os.PathLike[str], private_key: str, password: str, *, kdf: str = "scrypt",
                   iterations: int | None = None) -> Path:
    """Encrypt ``private_key`` into a new keystore file (mode 0600; refuses to overwrite).
    ``iterations`` below eth-account's default only make sense for tests."""
    signer = _signer(private_key, "the given key")
    doc = Account.encrypt(signer.private_key, password, kdf=kdf, iterations=iterations)
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    return p
