"""Bearer tokens: made with :mod:`secrets`, shown once, stored only as their sha256 (a token is 256
random bits, so a plain hash is enough; no salt or slow hash is needed against guessing)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ORGANISER_TOKEN = "organiser-token"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison (no timing oracle on the organiser token)."""
    return hmac.compare_digest(a.encode(), b.encode())


def organiser_token(state: Path) -> tuple[str, Path]:
    """The organiser's token, written on first start to ``STATE/organiser-token`` with mode 0600
    (created with that mode: never readable by others, not even for a moment)."""
    path = state / ORGANISER_TOKEN
    if path.is_file():
        return path.read_text(encoding="utf-8").strip(), path
    token = new_token()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token, path


__all__ = ["ORGANISER_TOKEN", "new_token", "organiser_token", "same", "token_hash"]
