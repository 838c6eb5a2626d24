"""``--resume`` verifies before it trusts: each test tampers with a finished run dir the way a stray
edit, a truncated copy or a cheat would, then resumes. The tampered piece is redone with one warning
line naming it, and the scores are those of the untouched run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.competition.conftest import MakeConfig, oracle
from tests.competition.test_engine import Recorder

from advengine.competition import CompetitionConfig, PieceId, Results, run_competition
from advengine.competition.artefacts import AttackRecord, DefenseRecord, labels_hash
from advengine.competition.verify import attack_problem, defense_problem
from advengine.errors import ConfigError

Tamper = Callable[[Path], None]


def _scores(results: Results) -> list[tuple[str, Any, Any]]:
    return [(x.name, x.score, x.raw_score) for x in results.attacks + results.defenses]


@pytest.fixture
def finished(make_config: MakeConfig, sample_dir: str, tmp_path: Path) -> tuple[CompetitionConfig, Results]:
    cfg = make_config(
        attacks=[{"name": "random-noise"}], defenses=[oracle(sample_dir), {"name": "fake-constant"}]
    )
    return cfg, run_competition(cfg, tmp_path / "run")


def _edit(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


DEFENSE = "run/pieces/defense/fake-oracle/random-noise/b0001.json"
ATTACK = "run/pieces/attack/random-noise/b0001.json"


def _labels_changed(root: Path) -> None:
    rec = json.loads((root / DEFENSE).read_text())
    _edit(root / DEFENSE, labels=[1 for _ in rec["labels"]])  # valid JSON, other scores


def _labels_short(root: Path) -> None:
    rec = json.loads((root / DEFENSE).read_text())
    labels = rec["labels"][:-1]
    _edit(root / DEFENSE, labels=labels, output_hash=labels_hash(labels))


def _status_unknown(root: Path) -> None:
    _edit(root / DEFENSE, status="great")


def _labels_not_integers(root: Path) -> None:
    rec = json.loads((root / DEFENSE).read_text())
    _edit(root / DEFENSE, labels=[str(v) for v in rec["labels"]])


def _label_out_of_range(root: Path) -> None:
    rec = json.loads((root / DEFENSE).read_text())
    labels = [5000, *rec["labels"][1:]]
    _edit(root / DEFENSE, labels=labels, output_hash=labels_hash(labels))


def _png_modified(root: Path) -> None:
    from PIL import Image

    png = sorted((root / "run/adv/random-noise").iterdir())[5]  # batch 1
    img = np.asarray(Image.open(png)).copy()
    img[0, 0] ^= 1
    Image.fromarray(img).save(png)


def _png_truncated(root: Path) -> None:
    png = sorted((root / "run/adv/random-noise").iterdir())[5]
    png.write_bytes(png.read_bytes()[:200])


def _attack_record_broken(root: Path) -> None:
    (root / ATTACK).write_text('{"piece": "attack/random-noise/b0001", "status": "ok"')


@pytest.mark.parametrize(
    ("tamper", "redone", "why"),
    [
        (_labels_changed, "defense/fake-oracle/random-noise/b0001", "do not match the hash"),
        (_labels_short, "defense/fake-oracle/random-noise/b0001", "3 labels for 4 images"),
        (_status_unknown, "defense/fake-oracle/random-noise/b0001", "status"),
        (_labels_not_integers, "defense/fake-oracle/random-noise/b0001", "labels.0"),
        (_label_out_of_range, "defense/fake-oracle/random-noise/b0001", "label 5000, outside -1..1000"),
        (_png_modified, "attack/random-noise/b0001", "do not match the hash"),
        (_png_truncated, "attack/random-noise/b0001", "cannot be read"),
        (_attack_record_broken, "attack/random-noise/b0001", "not a valid record"),
    ],
)
def test_a_tampered_piece_is_redone_with_one_warning(
    tamper: Tamper, redone: str, why: str, finished: tuple[CompetitionConfig, Results], tmp_path: Path
) -> None:
    cfg, first = finished
    tamper(tmp_path)
    rec = Recorder()
    again = run_competition(cfg, tmp_path / "run", resume=True, listener=rec)
    warnings = [m for m in rec.messages if m.startswith("warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: {redone} is redone: ")
    assert why in warnings[0]
    assert (redone, "ok") in rec.pieces
    assert _scores(again) == _scores(first)  # never a silent change
    if redone.startswith("attack/"):
        # The attack piece was redone, not blamed on the defenses that classify its images.
        assert all(p.startswith(("attack/", "defense/")) and s == "ok" for p, s in rec.pieces)


def test_an_unreadable_run_json_is_one_clear_error(
    finished: tuple[CompetitionConfig, Results], tmp_path: Path
) -> None:
    cfg, _ = finished
    for text in ("", '{"fingerprint": "ab'):
        (tmp_path / "run" / "run.json").write_text(text)
        with pytest.raises(ConfigError, match=r"run\.json is unreadable .*start again with a new --out"):
            run_competition(cfg, tmp_path / "run", resume=True)


def _attack(**changes: Any) -> AttackRecord:
    base: dict[str, Any] = {
        "piece": "attack/a/b0000", "status": "ok", "seconds": 1.0, "eps": 4,
        "image_ids": ["x", "z"], "output_hash": "h", "error": None,
    }  # fmt: skip
    return AttackRecord.model_validate({**base, **changes})


def test_attack_checks() -> None:
    piece, batch = PieceId.of_attack("a", 0), ["x", "y", "z"]
    never: Callable[[list[str]], Any] = lambda ids: pytest.fail("no image may be read")  # noqa: E731
    assert "is that of piece" in str(attack_problem(_attack(piece="attack/a/b0001"), piece, batch, 4, never))
    assert "ε = 8" in str(attack_problem(_attack(eps=8), piece, batch, 4, never))
    for ids in (["x", "w"], ["z", "x"], ["x", "x"]):
        assert "not this batch's" in str(attack_problem(_attack(image_ids=ids), piece, batch, 4, never))
    failed = _attack(status="crashed", image_ids=[], output_hash=None)
    assert attack_problem(failed, piece, batch, 4, never) is None
    assert "failed piece lists images" in str(
        attack_problem(_attack(status="timeout"), piece, batch, 4, never)
    )


def test_defense_checks() -> None:
    piece = PieceId.of_defense("d", "clean", 0)
    good = DefenseRecord(
        piece=str(piece), status="ok", seconds=1.0, image_ids=["x"], labels=[-1],
        input_hash=None, output_hash=labels_hash([-1]), error=None,
    )  # fmt: skip
    assert defense_problem(good, piece, ["x"]) is None
    assert "other images" in str(defense_problem(good, piece, ["y"]))
    crashed = good.model_copy(update={"status": "crashed"})
    assert "failed piece has labels" in str(defense_problem(crashed, piece, ["x"]))


def test_counts_are_honest(make_config: MakeConfig, tmp_path: Path) -> None:
    """images_produced counts images made even with no defense; clean-batch crashes are counted."""
    cfg = make_config(attacks=[{"name": "fake-crash"}, {"name": "noop"}])
    by = {a.name: a for a in run_competition(cfg, tmp_path / "a").attacks}
    assert (by["fake-crash"].images_produced, by["noop"].images_produced) == (0, 8)
    (crash,) = run_competition(
        make_config(defenses=[{"name": "fake-defense-crash"}]), tmp_path / "d"
    ).defenses
    assert crash.pieces == {"ok": 0, "crashed": 2, "timeout": 0}
    assert crash.errors[0].startswith("defense/fake-defense-crash/clean/b0000: ")
