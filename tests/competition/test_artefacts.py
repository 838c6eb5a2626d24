"""Run artefacts: typed, and byte-compatible with the run dirs earlier versions wrote (so ``--resume``
continues them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advengine.competition.artefacts import (
    AttackRecord,
    DefenseRecord,
    EntryResult,
    PieceId,
    dumps,
    load_record,
    save,
)
from advengine.competition.state import RunDir

# Records exactly as the version before the typed artefacts wrote them.
OLD_ATTACK = """{
  "piece": "attack/noop/b0003",
  "status": "ok",
  "seconds": 0.2517778550000003,
  "eps": 16,
  "image_ids": [
    "000b7d55b6184b08",
    "001b5e6f1b89fd3b"
  ],
  "output_hash": "6d137a3ad326b8134a7371d2e10fcd5e211bd806c3e1d1d2ca4d44764cb65375",
  "error": null
}
"""
OLD_DEFENSE = """{
  "piece": "defense/base-lite2/clean/b0000",
  "status": "crashed",
  "seconds": 0.49,
  "image_ids": [
    "000b7d55b6184b08"
  ],
  "labels": null,
  "input_hash": null,
  "output_hash": null,
  "error": "RuntimeError: boom"
}
"""


def test_piece_ids_are_built_not_parsed() -> None:
    attack = PieceId.of_attack("noop", 3)
    defense = PieceId.of_defense("base-lite2", "clean", 0)
    assert str(attack) == "attack/noop/b0003"
    assert str(defense) == "defense/base-lite2/clean/b0000"
    assert defense.parts == ("defense", "base-lite2", "clean", "b0000")
    assert (attack.stage, defense.stage) == ("attack/noop", "defense/base-lite2/clean")
    run = RunDir(Path("/r"))
    assert run.record_path(attack) == Path("/r/pieces/attack/noop/b0003.json")
    assert run.record_path(defense) == Path("/r/pieces/defense/base-lite2/clean/b0000.json")


@pytest.mark.parametrize(("text", "kind"), [(OLD_ATTACK, AttackRecord), (OLD_DEFENSE, DefenseRecord)])
def test_old_records_read_and_write_back_byte_for_byte(
    tmp_path: Path, text: str, kind: type[AttackRecord] | type[DefenseRecord]
) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    record = load_record(path, kind)
    assert isinstance(record, kind)
    assert dumps(record) == text
    save(tmp_path / "again.json", record)
    assert (tmp_path / "again.json").read_text() == text


def test_unreadable_or_foreign_records_mean_unfinished(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    assert load_record(path, AttackRecord) is None  # no file
    path.write_text('{"piece": "attack/x/b0000"')  # torn
    assert load_record(path, AttackRecord) is None
    path.write_text(json.dumps({"note": "not a record"}))
    assert load_record(path, AttackRecord) is None


def test_entry_results_carry_only_their_tracks_keys() -> None:
    common = {
        "name": "n",
        "entry": "noop",
        "track": "nontargeted",
        "params": {},
        "models": [],
        "score": 0.5,
        "raw_score": 2,
        "normalized_score": 0.5,
        "worst_score": None,
        "excluded": False,
        "median_batch_seconds": None,
        "pieces": {"ok": 1, "crashed": 0, "timeout": 0},
        "errors": [],
    }
    attack = EntryResult.model_validate({**common, "images_produced": 4})
    assert "images_classified" not in attack.model_dump()
    assert "exclusion_reason" not in attack.model_dump()
    defense = EntryResult.model_validate({**common, "images_classified": 4, "clean_accuracy": None})
    dumped = defense.model_dump()
    assert dumped["clean_accuracy"] is None  # given, so kept even when None
    assert list(dumped)[9:11] == ["images_classified", "clean_accuracy"]


def test_json_safe_sends_non_finite_numbers_as_null() -> None:
    from advengine.competition.artefacts import json_safe

    value = {"a": [1.0, float("nan")], "b": {"c": float("inf"), "d": -float("inf")}, "e": "x", "f": 2}
    assert json_safe(value) == {"a": [1.0, None], "b": {"c": None, "d": None}, "e": "x", "f": 2}
