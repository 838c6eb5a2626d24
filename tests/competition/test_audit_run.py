"""``check_run``: the offline check of a run dir behind ``advengine verify``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.competition.conftest import MakeConfig

from advengine.competition import run_competition
from advengine.competition.audit_run import check_run
from advengine.data import sample_dataset_dir


def _run(make_config: MakeConfig, tmp_path: Path, data: Path | None = None) -> Path:
    doc = {"attacks": [{"name": "random-noise"}], "defenses": [{"name": "fake-constant"}]}
    if data is not None:
        doc["dataset"] = {"dir": str(data), "limit": 8}
    out = tmp_path / "run"
    run_competition(make_config(**doc), out)
    return out


def test_without_the_dataset_the_hashes_are_still_checked(make_config: MakeConfig, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_dataset_dir(), data)
    out = _run(make_config, tmp_path, data)
    shutil.rmtree(data)
    check = check_run(out)
    assert check.ok, check.problems
    assert (check.eps_checked, check.hmac_checked) == (False, True)
    assert any(line.startswith("ε not checked: the dataset at ") for line in check.unchecked)
    png = sorted((out / "adv" / "random-noise").iterdir())[0]
    png.write_bytes(png.read_bytes()[:-30])
    problems = check_run(out).problems
    assert len(problems) == 1
    assert problems[0].startswith("attack/random-noise/b0000: a stored adversarial image cannot be read")


def test_records_added_moved_or_forged_are_listed(make_config: MakeConfig, tmp_path: Path) -> None:
    out = _run(make_config, tmp_path)
    assert check_run(out).ok
    pieces = out / "pieces" / "defense" / "fake-constant"
    # A record copied to another piece's place: its MAC holds (same run) but the piece id does not,
    # and the signed digest never listed that file.
    extra = pieces / "random-noise" / "b0007.json"
    shutil.copy(pieces / "random-noise" / "b0001.json", extra)
    problems = check_run(out).problems
    assert "defense/fake-constant/random-noise/b0007: its attack piece has no valid record" in problems
    added = "pieces/defense/fake-constant/random-noise/b0007.json: not in the signed digest"
    assert f"{added} (added after the run was signed)" in problems
    extra.unlink()
    rec = json.loads((pieces / "clean" / "b0000.json").read_text())
    rec["labels"] = [7 for _ in rec["labels"]]
    (pieces / "clean" / "b0000.json").write_text(json.dumps(rec))
    problems = check_run(out).problems
    assert problems[0].startswith("defense/fake-constant/clean/b0000: its record's HMAC does not match")
    assert "pieces/defense/fake-constant/clean/b0000.json: changed since the run was signed" in problems
