"""The run dir's writer lock, run.json's format and the authenticated records (RunDir)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.competition.conftest import lock_holder

from advengine.competition.artefacts import DefenseRecord, PieceId
from advengine.competition.state import FORMAT, LOCK_FILE, RunDir
from advengine.errors import ConfigError

FINGERPRINT = {"config": {"seed": 0}, "dataset_hash": "d"}


def _record(piece: PieceId) -> DefenseRecord:
    return DefenseRecord(
        piece=str(piece), status="ok", seconds=0.5, image_ids=["a"], labels=[3],
        input_hash=None, output_hash="h", error=None,
    )  # fmt: skip


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    """The lock is held by another process (flock is per open file): the second prepare refuses with
    that process's pid, and after it exits the dir can be resumed."""
    root = tmp_path / "run"
    keys = tmp_path / "keys"
    prepare = f"RunDir(Path({str(root)!r}), Path({str(keys)!r})).prepare({FINGERPRINT!r}, resume=False)"
    with lock_holder(prepare) as holder:
        run = RunDir(root, keys)
        with pytest.raises(
            ConfigError, match=rf"being written by another advengine eval \(pid {holder.pid}\)"
        ):
            run.prepare(FINGERPRINT, resume=True)
    assert run.prepare(FINGERPRINT, resume=True) is True
    run.unlock()


def test_the_lock_file_does_not_make_a_dir_non_empty(tmp_path: Path) -> None:
    root = tmp_path / "run"
    root.mkdir()
    (root / LOCK_FILE).write_text("123\n")  # left by a killed run
    run = RunDir(root, tmp_path / "keys")
    assert run.prepare(FINGERPRINT, resume=False) is False
    run.unlock()


def test_run_json_and_records_carry_an_hmac_the_key_lives_outside(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    run = RunDir(tmp_path / "run", keys)
    run.prepare(FINGERPRINT, resume=False)
    data = json.loads((tmp_path / "run" / "run.json").read_text())
    assert data["format"] == FORMAT
    assert len(data["hmac"]) == 64
    key_file = keys / data["run_id"]
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert keys.stat().st_mode & 0o777 == 0o700
    assert not any(p.name == data["run_id"] for p in (tmp_path / "run").rglob("*"))
    piece = PieceId.of_defense("d", "clean", 0)
    run.save_record(piece, _record(piece))
    assert run.read_defense(piece) == (_record(piece), None)
    run.unlock()
    # Another RunDir over the same files authenticates the record once run.json opened the key.
    other = RunDir(tmp_path / "run", keys)
    assert other.open_key(other.read_run_file()) is None
    assert other.read_defense(piece)[0] == _record(piece)
    # A record moved to another piece's place still passes its MAC but not the piece check of
    # verify.py; a record edited fails its MAC.
    path = other.record_path(piece)
    edited = json.loads(path.read_text())
    edited["labels"] = [4]
    path.write_text(json.dumps(edited))
    assert other.read_defense(piece) == (None, other.mac_problem(path))
    assert "HMAC does not match" in str(other.mac_problem(path))


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    run = RunDir(tmp_path / "run", keys)
    run.prepare(FINGERPRINT, resume=False)
    run.unlock()
    run_id = json.loads((tmp_path / "run" / "run.json").read_text())["run_id"]
    (keys / run_id).chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by others \(mode 644\); chmod 600"):
        RunDir(tmp_path / "run", keys).prepare(FINGERPRINT, resume=True)


def test_a_run_id_that_is_a_path_is_refused(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run", tmp_path / "keys")
    with pytest.raises(ConfigError, match="is not 32 hex digits"):
        run.open_key({"format": FORMAT, "run_id": "../../etc/passwd", "hmac": "x"})


def test_a_non_empty_dir_without_resume_is_left_untouched(tmp_path: Path) -> None:
    root = tmp_path / "documents"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="is not empty; add --resume"):
        RunDir(root, tmp_path / "keys").prepare(FINGERPRINT, resume=False)
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
