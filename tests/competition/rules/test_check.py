"""``check_run`` on small planted runs: the colluding pair and the stateful defenses are flagged; the
honest entries (deterministic and random) are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.competition.conftest import MakeConfig, oracle

from advengine.competition import run_competition
from advengine.competition.artefacts import Results
from advengine.competition.rules import CheckSettings, check_run, save_rules
from advengine.errors import ConfigError


def _flags(report: object) -> set[tuple[str, str]]:
    return {(f.rule, f.entry) for f in report.findings}  # type: ignore[attr-defined]


def test_honest_entries_are_not_flagged(make_config: MakeConfig, sample_dir: str, tmp_path: Path) -> None:
    cfg = make_config(
        limit=12,
        attacks=[{"name": "noop"}, {"name": "random-noise"}, {"name": "fake-shift"}],
        defenses=[
            oracle(sample_dir),
            {"name": "fake-constant"},
            {"name": "fake-noisy", "params": {"dataset": sample_dir}},
        ],
    )
    run_competition(cfg, tmp_path / "run")
    report = check_run(tmp_path / "run", settings=CheckSettings(sample=12, all_pairs=True))
    assert report.findings == []
    checked = {c.entry: c for c in report.checked}
    honest = {"noop", "random-noise", "fake-shift", "fake-oracle", "fake-constant", "fake-noisy"}
    assert set(checked) == honest
    assert all("stateless" in c.rules for c in checked.values())
    # Every pair was swept as if one team owned it, so every entry was probed for collusion too.
    assert all({"collusion", "channel"} <= set(c.rules) for c in checked.values())
    assert any("random" in n for n in checked["fake-noisy"].notes)
    assert any("random" in n for n in checked["random-noise"].notes)
    assert any("deterministic" in n for n in checked["fake-oracle"].notes)


def test_stateful_defenses_are_flagged(make_config: MakeConfig, sample_dir: str, tmp_path: Path) -> None:
    cfg = make_config(
        limit=12,
        attacks=[{"name": "noop"}],
        defenses=[
            {"name": "fake-batch-stats", "params": {"dataset": sample_dir}},
            {"name": "fake-history", "params": {"dataset": sample_dir}},
            oracle(sample_dir),
        ],
    )
    run_competition(cfg, tmp_path / "run")
    report = check_run(tmp_path / "run", settings=CheckSettings(sample=12))
    assert _flags(report) == {("stateless", "fake-batch-stats"), ("stateless", "fake-history")}
    by = {f.entry: f for f in report.findings}
    assert "other images of its batch" in by["fake-batch-stats"].evidence
    assert "what it saw before" in by["fake-history"].evidence
    assert all(f.effect is not None and f.effect > 0 for f in report.findings)


def test_colluding_pair_is_flagged(make_config: MakeConfig, sample_dir: str, tmp_path: Path) -> None:
    stego = {"dataset": sample_dir}
    cfg = make_config(
        limit=16,
        attacks=[
            {"name": "fake-stego", "params": stego, "team": "evil"},
            {"name": "random-noise", "baseline": True},
            {"name": "noop", "baseline": True},
        ],
        defenses=[
            {"name": "fake-stego-reader", "team": "evil"},
            oracle(sample_dir),
            {"name": "fake-constant", "team": "other"},
        ],
    )
    run_competition(cfg, tmp_path / "run")
    report = check_run(tmp_path / "run", settings=CheckSettings(sample=16))
    assert _flags(report) == {("collusion", "fake-stego-reader"), ("channel", "fake-stego-reader")}
    for f in report.findings:
        assert f.partner == "fake-stego"
        assert f.p_value is not None
        assert f.p_value < 1e-3
    # Only the team that owns both an attack and a defense is probed.
    rules = {c.entry: c.rules for c in report.checked}
    assert rules["fake-stego-reader"] == ["stateless", "collusion", "channel"]
    assert rules["fake-oracle"] == ["stateless"]


def test_findings_go_into_results_json(make_config: MakeConfig, sample_dir: str, tmp_path: Path) -> None:
    cfg = make_config(
        limit=8,
        attacks=[{"name": "noop"}],
        defenses=[{"name": "fake-history", "params": {"dataset": sample_dir}}],
    )
    run_competition(cfg, tmp_path / "run")
    before = json.loads((tmp_path / "run" / "results.json").read_text())
    assert "rules" not in before  # absent until a check runs: older readers see the same file
    report = check_run(tmp_path / "run", entries=["fake-history"], settings=CheckSettings(sample=4))
    save_rules(tmp_path / "run", report)
    after = Results.model_validate_json((tmp_path / "run" / "results.json").read_text())
    assert after.rules is not None
    assert [(f.rule, f.entry) for f in after.rules.findings] == [("stateless", "fake-history")]
    assert after.rules.settings["sample"] == 4
    assert [c.entry for c in after.rules.checked] == ["fake-history"]


def test_bad_requests_say_what_to_fix(make_config: MakeConfig, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an advengine eval run"):
        check_run(tmp_path)
    cfg = make_config(limit=4, attacks=[{"name": "noop"}], defenses=[{"name": "fake-constant"}])
    run_competition(cfg, tmp_path / "run")
    with pytest.raises(ConfigError, match="no such entry"):
        check_run(tmp_path / "run", entries=["nope"])
    (tmp_path / "run" / "results.json").unlink()
    with pytest.raises(ConfigError, match="has not finished"):
        check_run(tmp_path / "run")


SAMPLES = Path(__file__).resolve().parents[2] / "submissions" / "samples"


def test_honest_submissions_are_not_flagged(make_config: MakeConfig, tmp_path: Path) -> None:
    # Original NIPS 2017 submissions, each batch in its own sandbox: a deterministic defense, a no-op
    # attack, and an attack drawing its own noise (no seed reaches a submission: judged as random).
    cfg = make_config(
        limit=4,
        submissions=[
            {"path": str(SAMPLES / name)} for name in ("defense", "noop_attack", "random_noise_attack")
        ],
    )
    run_competition(cfg, tmp_path / "run")
    report = check_run(tmp_path / "run", settings=CheckSettings(sample=4))
    assert report.findings == []
    notes = {c.entry: " ".join(c.notes) for c in report.checked}
    assert set(notes) == {"defense", "noop_attack", "random_noise_attack"}
    assert "deterministic" in notes["defense"]
    assert "deterministic" in notes["noop_attack"]
    assert "random" in notes["random_noise_attack"]


def test_save_rules_keeps_keys_it_does_not_know(make_config: MakeConfig, tmp_path: Path) -> None:
    from advengine.competition.artefacts import RulesReport

    cfg = make_config(limit=4, attacks=[{"name": "noop"}], defenses=[{"name": "fake-constant"}])
    run_competition(cfg, tmp_path / "run")
    path = tmp_path / "run" / "results.json"
    doc = json.loads(path.read_text())
    doc["from_a_newer_version"] = {"kept": True}
    path.write_text(json.dumps(doc))
    save_rules(tmp_path / "run", RulesReport(findings=[], checked=[]))
    after = json.loads(path.read_text())
    assert after["from_a_newer_version"] == {"kept": True}
    assert after["rules"]["findings"] == []


def test_a_random_defense_that_depends_on_its_batch_is_flagged(
    make_config: MakeConfig, sample_dir: str, tmp_path: Path
) -> None:
    cfg = make_config(
        limit=16,
        attacks=[{"name": "noop"}],
        defenses=[{"name": "fake-random-batch", "params": {"dataset": sample_dir}}],
    )
    run_competition(cfg, tmp_path / "run")
    report = check_run(tmp_path / "run", settings=CheckSettings(sample=16))
    [finding] = report.findings
    assert (finding.rule, finding.entry) == ("stateless", "fake-random-batch")
    # Alone, all 16 right answers became wrong: the two-sided sign test gives 2 · 2^-16, times 3 layouts.
    assert finding.p_value == pytest.approx(6 * 2**-16)
    assert "one image at a time" in finding.evidence
    assert any("declared random" in n for n in report.checked[1].notes)
