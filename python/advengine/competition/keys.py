"""The secrets that make a run's records unforgeable (docs/records.md).

- **Run keys** (HMAC-SHA256): one random 32-byte key per run, in ``<key dir>/<run id>`` (mode 0600),
  outside the run dir, so whoever can write the run dir but not the key dir cannot make a record
  that passes. The key dir defaults to ``$ADVENGINE_CONFIG/keys``; a server passes its own state dir.
- **The signing key** (Ed25519, through ``cryptography``): one per key dir, ``<key dir>/ed25519.key``
  (mode 0600). It signs the digest of a finished run; its public half travels with the run, so a
  reader who knows the organiser's public key checks a published run without holding any secret.

Canonical bytes: JSON with sorted keys, no whitespace, UTF-8, the Python float repr (exact round trip).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from advengine import env
from advengine.errors import ConfigError

#: A run id: 32 lowercase hex digits (it names the key file, so nothing else is accepted).
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
SIGNING_KEY = "ed25519.key"


def default_key_dir() -> Path:
    """``$ADVENGINE_CONFIG/keys`` (see :func:`advengine.env.config_dir`)."""
    return env.config_dir() / "keys"


def canonical(payload: Any) -> bytes:
    """The bytes a MAC or signature covers: sorted keys, no whitespace, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def new_run_id() -> str:
    return secrets.token_hex(16)


def _write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 (never replacing one: a key is made once), in a 0700 dir."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists already; a key is never overwritten") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _read_secret(path: Path) -> bytes | None:
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"the key {path} cannot be read ({exc})") from None
    if mode & 0o077:
        raise ConfigError(f"the key {path} is readable by others (mode {mode:o}); chmod 600 {path}")
    return data


class RunKey:
    """The HMAC-SHA256 key of one run."""

    def __init__(self, run_id: str, secret: bytes) -> None:
        self.run_id = run_id
        self._secret = secret

    def mac(self, payload: Any) -> str:
        return hmac.new(self._secret, canonical(payload), hashlib.sha256).hexdigest()

    def verify(self, payload: Any, tag: object) -> bool:
        return isinstance(tag, str) and hmac.compare_digest(self.mac(payload), tag)


def _run_key_path(key_dir: Path, run_id: str) -> Path:
    if not RUN_ID.fullmatch(run_id):
        raise ConfigError(f"run id {run_id[:40]!r} is not 32 hex digits; run.json was changed")
    return key_dir / run_id


def create_run_key(key_dir: Path, run_id: str) -> RunKey:
    secret = secrets.token_bytes(32)
    _write_secret(_run_key_path(key_dir, run_id), secret.hex().encode())
    return RunKey(run_id, secret)


def load_run_key(key_dir: Path, run_id: str) -> RunKey | None:
    """The run's key, or None when ``key_dir`` does not hold it."""
    path = _run_key_path(key_dir, run_id)
    data = _read_secret(path)
    if data is None:
        return None
    try:
        return RunKey(run_id, bytes.fromhex(data.decode("ascii").strip()))
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"the key {path} is not 64 hex digits; it was changed") from None


def signing_key(key_dir: Path) -> Ed25519PrivateKey:
    """The key dir's Ed25519 signing key, made on first use."""
    path = key_dir / SIGNING_KEY
    data = _read_secret(path)
    if data is None:
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        _write_secret(path, raw.hex().encode())
        return key
    try:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(data.decode("ascii").strip()))
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(f"the signing key {path} is not an Ed25519 key in hex; it was changed") from None


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def sign(key: Ed25519PrivateKey, payload: Any) -> str:
    return key.sign(canonical(payload)).hex()


def signature_ok(public: str, payload: Any, signature: str) -> bool:
    """Whether ``signature`` (hex) is ``public``'s (hex, raw 32 bytes) over ``payload``."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)).verify(
            bytes.fromhex(signature), canonical(payload)
        )
    except (ValueError, InvalidSignature):
        return False
    return True


__all__ = [
    "RUN_ID",
    "SIGNING_KEY",
    "RunKey",
    "canonical",
    "create_run_key",
    "default_key_dir",
    "load_run_key",
    "new_run_id",
    "public_hex",
    "sign",
    "signature_ok",
    "signing_key",
]
