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


def test_list_is_short_by_default_and_verbose_on_request(capsys: Capsys) -> None:
    assert main(["list"]) == 0
    short = capsys.readouterr().out
    entries = len(ATTACKS.names()) + len(DEFENSES.names())
    assert len(short.splitlines()) == entries + 3  # two headings and the --verbose hint
    assert "``" not in short
    assert main(["list", "--verbose"]) == 0
    long = capsys.readouterr().out
    assert "``" not in long
    assert "      mu (float) = 1.0" in long
    assert "apgd_loss ('ce' | 'dlr' | 'dlr-targeted') = 'ce'" in long


def test_pipeline_fields_are_apart_from_an_attacks_own_parameters(capsys: Capsys) -> None:
    assert main(["list", "--json"]) == 0
    apgd = next(a for a in json.loads(capsys.readouterr().out)["attacks"] if a["name"] == "apgd-ce")
    own = {p["name"] for p in apgd["params"]}
    apart = {p["name"] for p in apgd["pipeline_params"]}
    assert {"transforms", "flip_prob", "canvas"} <= apart
    assert not own & apart
    assert "iterations" in own


def test_help(capsys: Capsys) -> None:
    assert main(["list", "--help"]) == 0
    assert "Usage" in capsys.readouterr().out
