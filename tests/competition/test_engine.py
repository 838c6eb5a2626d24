"""The engine in-process: Algorithm 1, crash rules, ε budgets on disk, determinism, resume rules."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.competition.conftest import MakeConfig, oracle

from advengine.competition import PieceId, Results, eps_schedule, run_competition
from advengine.data import load_dataset
from advengine.errors import ConfigError
from advengine.kernels import read_png_batch


class Recorder:
    def __init__(self) -> None:
        self.pieces: list[tuple[str, str]] = []
        self.messages: list[str] = []

    def message(self, text: str) -> None:
        self.messages.append(text)

    def stage(self, name: str, total: int, done: int) -> None:
        return None

    def piece(self, piece: PieceId, status: str, seconds: float) -> None:
        self.pieces.append((str(piece), status))


def _scores(results: Results) -> list[tuple[str, Any, Any, Any]]:
    return [(x.name, x.score, x.raw_score, x.worst_score) for x in results.attacks + results.defenses]


def test_eps_schedule() -> None:
    assert eps_schedule(10, "cycle", 0) == [4, 8, 12, 16, 4, 8, 12, 16, 4, 8]
    rand = eps_schedule(50, "random", 3)
    assert set(rand) <= {4, 8, 12, 16}
    assert len(set(rand)) > 1
    assert rand == eps_schedule(50, "random", 3) != eps_schedule(50, "random", 4)


def test_crashing_attack_and_defense(make_config: MakeConfig, sample_dir: str, tmp_path: Path) -> None:
    cfg = make_config(
        attacks=[{"name": "noop"}, {"name": "fake-crash"}],
        defenses=[oracle(sample_dir), {"name": "fake-defense-crash"}, {"name": "fake-constant"}],
    )
    results = run_competition(cfg, tmp_path / "run")
    by = {x.name: x for x in results.attacks + results.defenses}
    assert [(x.name, x.track) for x in results.exclusions] == [
        ("fake-crash", "nontargeted"),
        ("fake-defense-crash", "defense"),
    ]
    crash = by["fake-crash"]
    assert crash.excluded
    assert crash.images_produced == 0
    assert crash.pieces == {"ok": 0, "crashed": 2, "timeout": 0}
    assert "fake attack crashed on purpose" in crash.errors[0]
    assert not (tmp_path / "run" / "adv" / "fake-crash").exists()
    assert by["fake-defense-crash"].excluded
    # Defenses are scored on noop only (8 images); attacks only by the two working defenses.
    assert by["fake-oracle"].score == 1.0
    assert by["fake-oracle"].raw_score == 8
    assert by["noop"].raw_score == 8  # the constant label 1 is nobody's true label
    assert by["noop"].score == pytest.approx(8 / 16)
    leaderboard = (tmp_path / "run" / "leaderboard.md").read_text()
    assert "fake-defense-crash (defense): labelled 0 of 8 adversarial images" in leaderboard


def test_stored_images_are_within_their_batch_eps(
    make_config: MakeConfig, tmp_path: Path, sample_dir: str
) -> None:
    cfg = make_config(limit=16, attacks=[{"name": "fake-shift"}, {"name": "random-noise"}])
    results = run_competition(cfg, tmp_path / "run")
    ds = load_dataset(Path(sample_dir)).head(16)
    clean = ds.read_images().astype(int)
    eps_of = {b.index: b.eps for b in results.batches}
    assert sorted(eps_of.values()) == [4, 8, 12, 16]
    for attack in ("fake-shift", "random-noise"):
        paths = [tmp_path / "run" / "adv" / attack / f"{i}.png" for i in ds.image_ids]
        adv = read_png_batch(paths, strict=True).astype(int)
        for k in range(16):
            eps = eps_of[k // 4]
            assert np.abs(adv[k] - clean[k]).max() <= eps
        # fake-shift pushes far past the budget, so the projection must be binding somewhere.
        if attack == "fake-shift":
            assert np.abs(adv[-1] - clean[-1]).max() == 16


def test_records_csv(make_config: MakeConfig, tmp_path: Path, sample_dir: str) -> None:
    cfg = make_config(
        limit=4,
        attacks=[{"name": "noop"}],
        targeted_attacks=[{"name": "fake-target-noop", "label": "tgt"}],
        defenses=[oracle(sample_dir)],
    )
    run_competition(cfg, tmp_path / "run")
    with (tmp_path / "run" / "records.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 4  # clean + 2 attacks, 4 images, 1 defense
    assert {r["attack"] for r in rows} == {"clean", "noop", "tgt"}
    assert all(r["label"] == r["true_label"] and r["eps"] == "4" and r["batch"] == "0" for r in rows)
    assert list(rows[0]) == [
        "attack",
        "defense",
        "image_id",
        "batch",
        "eps",
        "label",
        "true_label",
        "target_class",
    ]


def test_same_seed_same_run_other_seed_other_images(make_config: MakeConfig, tmp_path: Path) -> None:
    def hashes(seed: int, name: str) -> list[str]:
        cfg = make_config(seed=seed, attacks=[{"name": "random-noise"}], defenses=[{"name": "fake-constant"}])
        run_competition(cfg, tmp_path / name)
        recs = sorted((tmp_path / name / "pieces" / "attack" / "random-noise").glob("*.json"))
        return [json.loads(p.read_text())["output_hash"] for p in recs]

    assert hashes(1, "a") == hashes(1, "b") != hashes(2, "c")


def test_out_dir_rules(make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(limit=4, attacks=[{"name": "noop"}], defenses=[{"name": "fake-constant"}])
    out = tmp_path / "run"
    run_competition(cfg, out)
    with pytest.raises(ConfigError, match="is not empty; add --resume"):
        run_competition(cfg, out)
    with pytest.raises(ConfigError, match="different config or dataset"):
        run_competition(cfg.overridden(seed=5), out, resume=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an advengine eval run"):
        run_competition(cfg, other, resume=True)


def test_resume_redoes_only_unfinished_pieces(
    make_config: MakeConfig, tmp_path: Path, sample_dir: str
) -> None:
    cfg = make_config(
        attacks=[{"name": "random-noise"}], defenses=[oracle(sample_dir), {"name": "fake-constant"}]
    )
    out = tmp_path / "run"
    first = run_competition(cfg, out)
    # Forget one attack piece and one defense piece, as a kill -9 in flight would.
    (out / "pieces" / "attack" / "random-noise" / "b0001.json").unlink()
    (out / "pieces" / "defense" / "fake-constant" / "clean" / "b0000.json").unlink()
    rec = Recorder()
    again = run_competition(cfg, out, resume=True, listener=rec)
    assert sorted(p for p, _ in rec.pieces) == [
        "attack/random-noise/b0001",
        "defense/fake-constant/clean/b0000",
    ]
    assert _scores(again) == _scores(first)
    assert again.defenses[1].clean_accuracy == first.defenses[1].clean_accuracy


def test_retry_failed_redoes_only_crashed_pieces(
    make_config: MakeConfig, tmp_path: Path, sample_dir: str
) -> None:
    cfg = make_config(
        attacks=[{"name": "noop"}, {"name": "fake-flaky", "params": {"marker": str(tmp_path / "a")}}],
        defenses=[
            oracle(sample_dir),
            {"name": "fake-defense-flaky", "params": {"marker": str(tmp_path / "d")}},
        ],
    )
    out = tmp_path / "run"
    first = run_competition(cfg, out)
    by = {x.name: x for x in first.attacks + first.defenses}
    assert by["fake-flaky"].pieces == {"ok": 1, "crashed": 1, "timeout": 0}
    assert by["fake-flaky"].excluded
    assert by["fake-defense-flaky"].excluded is False  # its failed piece was on the clean images
    clean_piece = out / "pieces" / "defense" / "fake-defense-flaky" / "clean" / "b0000.json"
    assert json.loads(clean_piece.read_text())["status"] == "crashed"
    # A plain resume keeps failures final: nothing runs and the scores stay.
    rec = Recorder()
    assert _scores(run_competition(cfg, out, resume=True, listener=rec)) == _scores(first)
    assert rec.pieces == []
    rec = Recorder()
    again = run_competition(cfg, out, retry_failed=True, listener=rec)
    assert sorted(p for p, _ in rec.pieces) == [
        "attack/fake-flaky/b0000",
        "defense/fake-defense-flaky/clean/b0000",
        "defense/fake-defense-flaky/fake-flaky/b0000",
        "defense/fake-oracle/fake-flaky/b0000",
    ]
    assert {s for _, s in rec.pieces} == {"ok"}
    by = {x.name: x for x in again.attacks + again.defenses}
    assert by["fake-flaky"].pieces == {"ok": 2, "crashed": 0, "timeout": 0}
    assert not by["fake-flaky"].excluded
    assert again.exclusions == []
    assert json.loads(clean_piece.read_text())["status"] == "ok"
    # fake-flaky is a noop once it works, so it now scores exactly as noop does.
    assert by["fake-flaky"].raw_score == by["noop"].raw_score
    assert by["fake-flaky"].score == by["noop"].score


def test_timings_break_the_run_into_stages(make_config: MakeConfig, tmp_path: Path, sample_dir: str) -> None:
    cfg = make_config(limit=4, attacks=[{"name": "noop"}], defenses=[oracle(sample_dir)])
    said = Recorder()
    results = run_competition(cfg, tmp_path / "run", listener=said)
    stages = ("startup", "build", "warmup", "attack", "defense", "io", "projection", "scoring", "reports")
    assert set(stages) <= set(results.timings)
    assert results.timings["startup"] > 0  # this process's age when the run began
    assert results.timings["build"] > 0  # the noop attack and the oracle were built in this run
    assert json.loads((tmp_path / "run" / "results.json").read_text())["timings"] == results.timings
    line = said.messages[-1]
    assert line.startswith("stages: start-up ")
    assert " · warm-up " in line
    assert " · reports " in line
