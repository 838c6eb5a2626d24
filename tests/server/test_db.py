"""server/db.py: engines for the --db URL."""

from __future__ import annotations

import pytest

from advengine.errors import ConfigError
from advengine.server.db import make_engine


@pytest.mark.parametrize("url", ["nonsense://u:secret@host/db", "postgresql+nodriver://u:secret@host/db"])
def test_a_url_sqlalchemy_cannot_use_is_one_config_error_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^--db [a-z+]+://…: .*; give sqlite") as err:
        make_engine(url)
    assert "secret" not in str(err.value)
