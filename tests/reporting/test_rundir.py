"""Reading a run dir: records → prediction arrays, missing pieces, provisional scores, no dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.reporting.conftest import Builder, full_run, results_json

from advengine.competition.scoring import MISSING, NO_IMAGE
from advengine.errors import ConfigError
from advengine.reporting import load_run


def test_a_dir_without_run_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"holds no run\.json"):
        load_run(tmp_path)


def test_full_run_gives_the_labels_of_every_record(builder: Builder) -> None:
    b = builder()
    full_run(b)
    view = load_run(b.root)
    assert not view.finished  # no results.json: scored from the records
    assert view.missing == []
    assert [a.label for a in view.attacks] == ["noop", "fgsm-x", "tgt"]
    assert [(a.label, a.baseline) for a in view.attacks + view.defenses] == [
        ("noop", True),
        ("fgsm-x", True),
        ("tgt", True),
        ("good", True),
        ("bad", False),
    ]
    assert view.predictions is not None
    assert view.clean_predictions is not None
    assert view.predictions.shape == (3, 2, 8)
    assert view.predictions[1, 0, 4:].tolist() == [1 if v != 1 else 2 for v in b.truth(1)]
    assert view.clean_predictions[0].tolist() == b.truth(0) + b.truth(1)
    assert len(view.pieces) == 3 * 2 + 2 * 4 * 2


def test_provisional_scores_follow_the_rules(builder: Builder) -> None:
    b = builder()
    full_run(b)
    scored = load_run(b.root).scored
    by = {x["name"]: x for x in scored["attacks"] + scored["defenses"]}
    assert by["good"]["raw_score"] == 8 + 4 + 4
    assert by["good"]["score"] == pytest.approx(16 / 24)
    assert by["good"]["clean_accuracy"] == 1.0
    # Right on half of the images under fgsm-x and tgt each: robust on at most half.
    assert 0.0 <= by["good"]["robust_accuracy"] <= 0.5
    assert by["bad"]["robust_accuracy"] == 0.0
    assert by["bad"]["raw_score"] == 0
    assert (by["fgsm-x"]["raw_score"], by["fgsm-x"]["worst_score"]) == (12, 0.5)
    assert by["noop"]["score"] == pytest.approx(0.5)
    assert by["tgt"]["raw_score"] == 4
    assert not any(x["excluded"] for x in by.values())


def test_original_mode_scores_are_raw_counts(builder: Builder) -> None:
    b = builder(scoring="original")
    full_run(b)
    by = {x["name"]: x["score"] for x in load_run(b.root).scored["defenses"]}
    assert by == {"good": 16, "bad": 0}


def test_partial_run_lists_missing_pieces_and_marks_unproduced_images(builder: Builder) -> None:
    b = builder()
    b.attack("noop", 0)
    b.attack("fgsm-x", 0, status="crashed")
    b.defense("good", "clean", 0, b.truth(0))
    b.defense("good", "noop", 0, None, status="timeout")
    view = load_run(b.root)
    assert "attack/noop/b0001" in view.missing
    assert "attack/tgt/b0000" in view.missing
    # A crashed attack batch has no images: no defense piece is due on it.
    assert not any(m.startswith("defense/good/fgsm-x/b0000") for m in view.missing)
    assert "defense/bad/noop/b0000" in view.missing
    assert view.predictions is not None
    assert view.predictions[0, 0, :4].tolist() == [MISSING] * 4  # the defense timed out
    assert view.predictions[0, 0, 4:].tolist() == [NO_IMAGE] * 4  # not attacked yet
    assert view.predictions[1].max() == NO_IMAGE
    failed = {p.piece_id: p.status for p in view.pieces if p.status != "ok"}
    assert failed == {"attack/fgsm-x/b0000": "crashed", "defense/good/noop/b0000": "timeout"}
    assert {x["name"] for x in view.scored["attacks"] if x["excluded"]} == {"noop", "fgsm-x", "tgt"}
    clean = {x["name"]: x["clean_accuracy"] for x in view.scored["defenses"]}
    assert clean == {"good": 1.0, "bad": None}  # over the clean images labelled so far


def test_finished_run_uses_results_json_as_written(builder: Builder) -> None:
    b = builder()
    full_run(b)
    (b.root / "results.json").write_text(results_json([("noop", 0.123)]))
    view = load_run(b.root)
    assert view.finished
    assert view.scored["attacks"][0]["score"] == 0.123


def test_a_missing_dataset_leaves_the_labels_out_but_reads_the_pieces(
    builder: Builder, tmp_path: Path
) -> None:
    b = builder(dataset_dir=str(tmp_path / "gone"))
    full_run(b)
    view = load_run(b.root)
    assert view.truth is None
    assert view.truth_error is not None
    assert "gone" in view.truth_error
    assert view.predictions is None
    assert len(view.pieces) == 22  # batches found from the records themselves
    assert view.scored == {}


def test_submission_logs_are_linked_when_the_runner_kept_them(builder: Builder) -> None:
    b = builder()
    b.attack("noop", 0, status="crashed")
    log = b.root / "logs" / "attack" / "noop" / "b0000"
    log.mkdir(parents=True)
    (log / "stderr.txt").write_text("Traceback ...\n")
    (piece,) = load_run(b.root).pieces
    assert (piece.log, piece.record) == ("logs/attack/noop/b0000", "pieces/attack/noop/b0000.json")


def test_eps_of_each_image_follows_the_batches(builder: Builder) -> None:
    b = builder()
    view = load_run(b.root)
    assert view.truth is not None
    assert np.array_equal(view.truth.image_eps, [4] * 4 + [8] * 4)
