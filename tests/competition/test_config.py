"""Bad configs get one ConfigError naming the key; the embedded default loads; flags override."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tests.competition.conftest import FAKES

from advengine.competition import load_config, parse_config
from advengine.env import PLUGINS as ENV
from advengine.errors import ConfigError


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "plugins": [FAKES],
        "attacks": [{"name": "noop"}, {"name": "random-noise"}, {"name": "fake-slow"}],
        "defenses": [{"name": "fake-constant"}],
    }
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size": 0}, "test.toml: batch_size must be an integer >= 1, got 0"),
        ({"batch_size": "25"}, "test.toml: batch_size must be an integer >= 1"),
        ({"eps": "sometimes"}, "test.toml: eps must be one of 'cycle', 'random'"),
        (
            {"scoring": "kaggle"},
            "test.toml: scoring must be one of 'paper', 'original', 'devkit', 'proposal'",
        ),
        ({"time_limit": -1}, "test.toml: time_limit must be a number of seconds in (0, 86400]"),
        ({"time_limit": float("nan")}, "test.toml: time_limit must be a number of seconds in"),
        ({"time_limit": 1e12}, "test.toml: time_limit must be a number of seconds in"),
        ({"warmup_limit": float("inf")}, "test.toml: warmup_limit must be a number of seconds in"),
        ({"seed": 1.5}, "test.toml: seed must be an integer >= 0"),
        ({"colour": "blue"}, "test.toml: colour is not a known key"),
        ({"dataset": {"limit": 0}}, "test.toml: dataset.limit must be an integer >= 1"),
        ({"dataset": {"path": "x"}}, "test.toml: dataset.path is not a known key"),
        (
            {
                "attacks": [
                    {"name": "noop"},
                    {"name": "random-noise"},
                    {"name": "fake-slow", "params": {"seconds": "ten"}},
                ]
            },
            "test.toml: attacks[2].params.seconds must be a number, got 'ten'",
        ),
        (
            {"attacks": [{"name": "noop", "params": {"steps": 3}}]},
            "test.toml: attacks[0].params: unknown parameter",
        ),
        (
            {"attacks": [{"name": "no-such-attack"}]},
            "test.toml: attacks[0].name: unknown attack 'no-such-attack'",
        ),
        (
            {"attacks": [{"name": "fake-target-noop"}]},
            "test.toml: attacks[0].name 'fake-target-noop' is a targeted",
        ),
        ({"attacks": [{"name": "noop", "colour": 1}]}, "test.toml: attacks[0].colour is not a known key"),
        ({"attacks": [{"name": "noop", "label": "a/b"}]}, "test.toml: attacks[0].label must be letters"),
        ({"attacks": [{"name": "noop", "label": "clean"}]}, "test.toml: attacks[0].label must be letters"),
        (
            {"attacks": [{"name": "noop"}, {"name": "noop"}]},
            "test.toml: attacks[1].label 'noop' is already used by attacks[0]",
        ),
        (
            {"defenses": [{"name": "fake-constant", "models": "lite0"}]},
            "test.toml: defenses[0].models must be a list",
        ),
        ({"defenses": {"name": "x"}}, "test.toml: defenses must be an array of tables"),
        ({"plugins": ["no.such.module"]}, "test.toml: plugins: cannot import plugin module 'no.such.module'"),
    ],
)
def test_bad_config_names_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_doc(**changes), source="test.toml")
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_toml_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("batch_size = [\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.toml")
    bad.write_text("time_limit = nan\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: time_limit must be a number of seconds in"):
        load_config(bad)
    bad.write_text("time_limit = inf\n")  # no limit: accepted here, refused by worker processes
    assert load_config(bad).time_limit == float("inf")
    bad.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: nested too deeply"):
        load_config(bad)


def test_relative_dataset_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[dataset]\ndir = "data"\nlimit = 3\n')
    cfg = load_config(cfg_file)
    assert cfg.dataset_dir == (tmp_path / "data").resolve()
    assert cfg.limit == 3


def test_default_config_is_the_documented_competition() -> None:
    cfg = load_config()
    assert cfg.dataset_dir is None  # the embedded sample
    # No limit: the embedded sample has exactly 100 images, and `--data DIR` must run all of DIR.
    # 500 s per piece as published, but batches of 25 and 5-step iterative attacks, so that no piece
    # nears the limit on a loaded 2-core machine (issue 26; docs/competition.md, "Default roster").
    assert (cfg.limit, cfg.batch_size, cfg.eps, cfg.scoring) == (None, 25, "cycle", "paper")
    assert cfg.time_limit == 500.0
    iter_target = next(e for e in cfg.targeted_attacks if e.name == "iter-target-class")
    assert iter_target.params.model_dump()["iterations"] == 5
    assert cfg.providers == ("CPUExecutionProvider",)
    # The minimum roster: 4 non-targeted attacks, 2 targeted attacks, 4 defenses.
    assert len(cfg.attacks) >= 4
    assert len(cfg.targeted_attacks) >= 2
    assert len(cfg.defenses) >= 4


def test_overrides_are_validated() -> None:
    cfg = parse_config(_doc(), source="test.toml")
    assert cfg.overridden(batch_size=7, limit=None).batch_size == 7
    with pytest.raises(ConfigError, match="command line: batch_size"):
        cfg.overridden(batch_size=0)
    with pytest.raises(ConfigError, match="command line: time_limit must be a number of seconds in"):
        cfg.overridden(time_limit=1e9)
    assert cfg.overridden(time_limit=float("inf")).time_limit == float("inf")  # none, for --workers 0


def test_env_plugins_are_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "no.such.plugin")
    with pytest.raises(ConfigError, match=f"{ENV}: cannot import plugin module 'no.such.plugin'"):
        parse_config({}, source="test.toml")


def test_rounds_take_the_files_settings_and_their_own_roster() -> None:
    doc = {
        **_doc(),
        "batch_size": 3,
        "rounds": [
            {"name": "dev", "dataset": {"limit": 2}},
            {"name": "final", "defenses": [{"name": "median", "team": "t"}]},
        ],
    }
    cfg = parse_config(doc, source="test.toml")
    dev, final = cfg.rounds
    assert (dev.round_name, dev.limit, dev.batch_size) == ("dev", 2, 3)
    assert [e.label for e in dev.entries] == [e.label for e in cfg.entries]  # the file's roster
    assert [(e.name, e.team) for e in final.defenses] == [("median", "t")]
    assert final.attacks == cfg.attacks
    assert cfg.overridden(batch_size=5).rounds[1].batch_size == 5
    bad = {**doc, "rounds": [{"name": "dev", "attacks": [{"name": "fgsn"}]}]}
    with pytest.raises(
        ConfigError, match=r"test.toml: rounds\[0\] \(dev\): attacks\[0\].name: unknown attack"
    ):
        parse_config(bad, source="test.toml")
    with pytest.raises(ConfigError, match=r"rounds\[0\].name"):
        parse_config({**doc, "rounds": [{"dataset": {"limit": 2}}]}, source="test.toml")


def test_source_defense_aims_an_adaptive_attack_at_the_pipeline() -> None:
    doc = {
        "attacks": [{"name": "eot-pgd", "label": "eot-rrp", "source_defense": "rrp", "params": {"draws": 2}}],
        "defenses": [{"name": "random-resize-pad", "label": "rrp", "models": ["efficientnet-lite2"]}],
    }
    cfg = parse_config(doc, source="test.toml")
    entry = cfg.attacks[0]
    assert entry.models == ("efficientnet-lite2",)
    assert entry.params.resize_pad_draws == 30
    assert entry.params.draws == 2


@pytest.mark.parametrize(
    ("attack", "message"),
    [
        (
            {"name": "eot-pgd", "source_defense": "nope"},
            "attacks[0].source_defense 'nope' is no defense label",
        ),
        ({"name": "ifgsm", "source_defense": "med"}, "'ifgsm' cannot take a pipeline as its source"),
        (
            {"name": "bpda-pgd", "source_defense": "med", "params": {"transforms": ["jpeg:50"]}},
            "attacks[0].params ['transforms'] come from source_defense",
        ),
    ],
)
def test_bad_source_defense(attack: dict[str, Any], message: str) -> None:
    doc = {"attacks": [attack], "defenses": [{"name": "median", "label": "med"}]}
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(doc, source="test.toml")
