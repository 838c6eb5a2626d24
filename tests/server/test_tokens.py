"""The organiser token: written on first start with mode 0600, the same on every later start."""

from __future__ import annotations

import stat
from pathlib import Path

from advengine.server.tokens import organiser_token, same, token_hash


def test_the_organiser_token_is_private_and_stable(tmp_path: Path) -> None:
    token, path = organiser_token(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert organiser_token(tmp_path) == (token, path)
    assert len(token) >= 40


def test_tokens_compare_and_hash() -> None:
    assert same("abc", "abc")
    assert not same("abc", "abd")
    assert token_hash("abc") != token_hash("abd")
    assert len(token_hash("abc")) == 64
