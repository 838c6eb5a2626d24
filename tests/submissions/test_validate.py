from __future__ import annotations

import json
from pathlib import Path

from advengine.submissions import Settings
from advengine.submissions.validate import validate_submission

from .conftest import CopySample


def test_valid_samples(copy_sample: CopySample, settings: Settings) -> None:
    for name in ("noop_attack", "targeted_attack", "defense"):
        report = validate_submission(copy_sample(name), settings, images=3)
        assert report.valid, report.errors
        assert report.dry_run is not None
        assert report.dry_run["status"] == "ok"
        assert report.dry_run["sandbox"] == "bwrap"
    attack = validate_submission(copy_sample("random_noise_attack"), settings, images=2)
    assert attack.dry_run is not None
    assert attack.dry_run["eps"] in (4, 8, 12, 16)
    assert attack.warnings == ["entry point 'attack.py' does not end with .sh (the original tools warn)"]


def test_failing_dry_run_is_invalid(copy_sample: CopySample, settings: Settings) -> None:
    report = validate_submission(copy_sample("memhog_attack"), settings, images=2)
    assert not report.valid
    assert "MemoryError" in report.errors[0]


def test_output_mismatch_is_a_warning(tmp_path: Path, settings: Settings) -> None:
    src = tmp_path / "lazy"
    src.mkdir()
    (src / "metadata.json").write_text(
        json.dumps({"type": "defense", "container": "c", "entry_point": "run.sh"})
    )
    (src / "run.sh").write_text("#!/bin/sh\necho IMG000000.png,5 > $2\n")
    (src / "run.sh").chmod(0o755)
    report = validate_submission(src, settings, images=3)
    assert report.valid
    assert report.warnings == [
        "metadata.json has no container_gpu; the original validators require it",
        "result.csv has no label for 2 of 3 images",
    ]


def test_broken_archive_is_invalid(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "s.zip").write_bytes(b"junk")
    report = validate_submission(tmp_path / "s.zip", settings)
    assert not report.valid
    assert report.dry_run is None
    assert "cannot read the archive" in report.errors[0]
