"""``advengine list`` through main()."""

from __future__ import annotations

import json

import pytest

from advengine.attacks import ATTACKS
from advengine.cli import main
from advengine.defenses import DEFENSES

Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)


def test_list_names_every_attack_and_defense(capsys: Capsys) -> None:
    assert main(["list", "--json"]) == 0
    catalogue = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in catalogue["attacks"]] == ATTACKS.names()
    assert [d["name"] for d in catalogue["defenses"]] == DEFENSES.names()
    mi = next(a for a in catalogue["attacks"] if a["name"] == "mifgsm")
    assert {"name": "mu", "type": "float", "default": "1.0"} in mi["params"]
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "mifgsm-targeted [targeted]" in text
    assert "random-resize-pad [randomized]" in text


def test_help(capsys: Capsys) -> None:
    assert main(["list", "--help"]) == 0
    assert "Usage" in capsys.readouterr().out
