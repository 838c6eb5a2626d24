"""Run keys (HMAC-SHA256) and the Ed25519 signing key of a key dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from advengine.competition.keys import (
    canonical,
    create_run_key,
    load_run_key,
    new_run_id,
    public_hex,
    sign,
    signature_ok,
    signing_key,
)
from advengine.errors import ConfigError


def test_canonical_bytes_ignore_key_order_and_whitespace() -> None:
    assert canonical({"b": 1, "a": [1.5, None]}) == b'{"a":[1.5,null],"b":1}'
    assert canonical({"a": "é"}) == '{"a":"é"}'.encode()


def test_a_run_key_is_made_once_and_read_back(tmp_path: Path) -> None:
    run_id = new_run_id()
    key = create_run_key(tmp_path, run_id)
    again = load_run_key(tmp_path, run_id)
    assert again is not None
    assert again.mac({"x": 1}) == key.mac({"x": 1}) != key.mac({"x": 2})
    assert key.verify({"x": 1}, key.mac({"x": 1}))
    assert not key.verify({"x": 1}, None)
    assert load_run_key(tmp_path, new_run_id()) is None
    with pytest.raises(ConfigError, match="never overwritten"):
        create_run_key(tmp_path, run_id)
    (tmp_path / run_id).write_text("not hex")
    with pytest.raises(ConfigError, match="not 64 hex digits"):
        load_run_key(tmp_path, run_id)


def test_signatures_check_with_the_public_key_alone(tmp_path: Path) -> None:
    key = signing_key(tmp_path)
    assert public_hex(signing_key(tmp_path)) == public_hex(key)  # made once, then read
    (tmp_path / "ed25519.key").stat()
    sig = sign(key, {"a": 1})
    assert signature_ok(public_hex(key), {"a": 1}, sig)
    assert not signature_ok(public_hex(key), {"a": 2}, sig)
    assert not signature_ok(public_hex(key), {"a": 1}, "zz")
    assert not signature_ok("00" * 32, {"a": 1}, sig)
