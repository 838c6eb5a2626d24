"""``advengine submissions validate``: the original validator's checks (protocol §4) plus a dry run.

Errors make the submission invalid: archive type and size, safe extraction, unpacked size, metadata
fields, the entry point (present and executable: the original only found out at ``docker run``), and
a non-zero exit or a timeout of the dry run. Warnings keep it valid, as in the original: an entry point
not ending in ``.sh``, a missing ``container_gpu``, and outputs that do not match the inputs.
The dry run feeds ``images`` random-noise PNGs (EVALINFRA used 8) with ε drawn from {4, 8, 12, 16},
and random target classes for targeted attacks, inside the same sandbox as ``advengine eval``.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from advengine.errors import AdvEngineError
from advengine.submissions.archive import Caps, load_submission
from advengine.submissions.reaper import release, temp_dir
from advengine.submissions.runner import (
    MISSING,
    Settings,
    input_names,
    run_attack,
    run_defense,
)


@dataclasses.dataclass
class Report:
    path: str
    valid: bool = False
    name: str | None = None
    metadata: dict[str, Any] | None = None
    errors: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    dry_run: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def validate_submission(
    path: Path,
    settings: Settings,
    *,
    images: int = 8,
    seed: int = 0,
    caps: Caps | None = None,
    log_dir: Path | None = None,
) -> Report:
    """Check the submission at ``path`` and run it once on noise images."""
    report = Report(str(path))
    work = temp_dir("advengine-validate-")  # removed by the reaper even if validate is killed
    try:
        try:
            sub = load_submission(path, work / "s", caps)
        except AdvEngineError as exc:
            report.errors.append(str(exc))
            return report
        report.name, report.metadata = sub.name, sub.metadata.to_json()
        meta = sub.metadata
        if not meta.entry_point.endswith(".sh"):
            report.warnings.append(
                f"entry point {meta.entry_point!r} does not end with .sh (the original tools warn)"
            )
        if meta.container_gpu is None:
            report.warnings.append("metadata.json has no container_gpu; the original validators require it")
        rng = np.random.default_rng(seed)
        noise = rng.integers(0, 256, size=(images, 299, 299, 3), dtype=np.uint8)
        eps = int(rng.choice([4, 8, 12, 16]))
        names = input_names(images)
        try:
            if meta.type == "defense":
                labels, run = run_defense(sub, noise, settings, log_dir)
                missing = [n for n, v in zip(names, labels, strict=True) if v == MISSING]
                if missing:
                    report.warnings.append(f"result.csv has no label for {len(missing)} of {images} images")
            else:
                targets = rng.integers(1, 1001, size=images) if meta.type == "targeted_attack" else None
                outputs, run = run_attack(sub, noise, eps, targets, settings, log_dir)
                bad = [
                    n for n, o in zip(names, outputs, strict=True) if o is None or o.shape != (299, 299, 3)
                ]
                if bad:
                    report.warnings.append(
                        f"{len(bad)} of {images} output images are missing or not 299x299 RGB"
                    )
        except AdvEngineError as exc:
            report.errors.append(str(exc))
            return report
        report.dry_run = {
            "images": images,
            "eps": eps if meta.type != "defense" else None,
            "status": run.status,
            "exit_code": run.exit_code,
            "seconds": round(run.seconds, 3),
            "sandbox": run.sandbox,
            "budget": run.budget,
            "oom_killed": run.oom_killed,
        }
        if run.status != "ok":
            report.errors.append(run.describe(sub.name, settings.time_limit))
        report.valid = not report.errors
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)
        release(work)


__all__ = ["Report", "validate_submission"]
