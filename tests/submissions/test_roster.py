"""Submissions inside a competition: config entries, a full eval run with hostile neighbours."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from advengine.competition import load_config, parse_config, run_competition
from advengine.data import load_dataset, sample_dataset_dir
from advengine.errors import ConfigError
from advengine.kernels import read_png_batch
from advengine.submissions.adapter import settings_of
from advengine.submissions.roster import add_submissions, content_digest
from advengine.types import SandboxSettings, SubmissionEntry

from .conftest import SAMPLES, CopySample

LIMITS = {"memory_mb": 1024, "nproc": 16, "sandbox": "bwrap"}


def test_entries_take_track_and_name_from_the_submission(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "attacks": [{"name": "noop"}],
            "submissions": [
                {"path": str(SAMPLES / "targeted_attack")},
                {"path": str(SAMPLES / "defense"), "label": "my-defense", "nproc": 8},
            ],
        }
    )
    assert [e.label for e in cfg.attacks] == ["noop"]
    (targeted,) = cfg.targeted_attacks
    assert (targeted.label, targeted.track, targeted.name) == ("targeted_attack", "targeted", "submission")
    assert isinstance(targeted, SubmissionEntry)
    assert targeted.path == str((SAMPLES / "targeted_attack").resolve())
    (defense,) = cfg.defenses
    assert isinstance(defense, SubmissionEntry)
    assert (defense.label, defense.settings.nproc) == ("my-defense", 8)
    assert defense.to_json()["submission"].endswith("defense")


def test_config_file_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    conf = SAMPLES.parent / f"tmp-{uuid.uuid4().hex}.toml"
    conf.write_text('[[submissions]]\npath = "samples/noop_attack"\n')
    try:
        cfg = load_config(conf)
    finally:
        conf.unlink()
    entry = cfg.attacks[0]
    assert isinstance(entry, SubmissionEntry)
    assert entry.path == str((SAMPLES / "noop_attack").resolve())


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"path": "/no/such/sub"}, "no such submission"),
        ({"path": str(SAMPLES / "defense"), "sandbox": "chroot"}, "sandbox must be one of"),
        ({"path": str(SAMPLES / "defense"), "nproc": 0}, "nproc must be a positive integer"),
        ({"path": str(SAMPLES / "defense"), "colour": 1}, "colour is not a known key"),
        (
            {"path": str(SAMPLES / "defense"), "label": "a b"},
            r"submissions\[0\]\.label must be letters.*got 'a b'",
        ),
        ({}, r"submissions\[0\].path must be"),
    ],
)
def test_bad_submission_entries(raw: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config({"submissions": [raw]}, source="c.toml")


def test_add_submissions(copy_sample: CopySample) -> None:
    base = parse_config({"attacks": [{"name": "noop"}]})
    cfg = add_submissions(base, [copy_sample("defense")], builtins=False, sandbox="unsafe-none")
    assert cfg.attacks == ()
    added = cfg.defenses[0]
    assert isinstance(added, SubmissionEntry)
    assert added.settings.sandbox == "unsafe-none"
    with pytest.raises(ConfigError, match="--no-builtins leaves no roster"):
        add_submissions(base, [], builtins=False)
    src = copy_sample("noop_attack")
    with pytest.raises(ConfigError, match="two roster entries are named 'noop'"):
        add_submissions(base, [src.rename(src.parent / "noop")])


def test_time_limit_leaves_room_for_the_grace() -> None:
    entry = SubmissionEntry(
        track="defense",
        label="d",
        path="/d",
        digest="x",
        settings=SandboxSettings.model_validate({**LIMITS, "fsize_mb": 4}),
    )
    s = settings_of(entry.for_run(500.0, "/run/logs"))
    assert (s.time_limit, s.grace) == (500.0, 10.0)  # the full limit, then docker stop
    assert s.limits.memory_bytes == 1024 << 20
    assert s.gpus is None


def test_disk_budget_and_gpus_reach_the_run_settings() -> None:
    raw = {"path": str(SAMPLES / "defense"), "disk_mb": 64, "gpus": "device=0"}
    (entry,) = parse_config({"submissions": [raw]}, source="c.toml").defenses
    assert isinstance(entry, SubmissionEntry)
    s = settings_of(entry)
    assert (s.limits.disk_bytes, s.gpus) == (64 << 20, "device=0")
    with pytest.raises(ConfigError, match="disk_mb must be a positive integer"):
        parse_config({"submissions": [{**raw, "disk_mb": 0}]}, source="c.toml")


def test_eval_run_with_submissions_and_hostile_neighbours(copy_sample: CopySample, tmp_path: Path) -> None:
    marker = f"advengine-hang-{uuid.uuid4().hex}"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        paths = [
            copy_sample("noop_attack"),
            copy_sample("random_noise_attack"),
            copy_sample("targeted_attack"),
            copy_sample("defense"),
            copy_sample("net_attack", port_txt=str(listener.getsockname()[1])),
            copy_sample("escape_attack"),
            copy_sample("forkbomb_attack"),
            copy_sample("memhog_attack"),
            copy_sample("hang_attack", marker_txt=marker),
        ]
        cfg = parse_config(
            {
                "batch_size": 4,
                # Room for the good samples on a loaded machine (4 s was seen to cut one short at load 14).
                "time_limit": 10.0,
                "dataset": {"dir": str(sample_dataset_dir()), "limit": 4},
                "attacks": [{"name": "noop", "label": "builtin-noop"}],
                "submissions": [{"path": str(p), **LIMITS} for p in paths],
            }
        )
        results = run_competition(cfg, tmp_path / "run")
        with pytest.raises(TimeoutError):
            listener.accept()
    attacks = {a.name: a for a in results.attacks}
    for good in ("builtin-noop", "noop_attack", "random_noise_attack", "targeted_attack"):
        assert attacks[good].images_produced == 4, good
        assert attacks[good].pieces["ok"] == 1
    errors = {name: " ".join(attacks[name].errors) for name in attacks}
    assert "ConnectionRefusedError" in errors["net_attack"]
    assert "exited with code 3" in errors["escape_attack"]
    assert "MemoryError" in errors["memhog_attack"]
    assert "killed after" in errors["forkbomb_attack"]
    assert "killed after" in errors["hang_attack"]
    for bad in ("net_attack", "escape_attack", "forkbomb_attack", "memhog_attack", "hang_attack"):
        assert attacks[bad].images_produced == 0
    # The submitted defense labelled the clean images and each produced adversarial batch.
    (defense,) = results.defenses
    assert defense.name == "defense"
    clean = load_dataset(sample_dataset_dir()).read_images(0, 4)
    record = json.loads((tmp_path / "run/pieces/defense/defense/noop_attack/b0000.json").read_text())
    assert record["labels"] == [1 + int(img.mean() * 10) % 1000 for img in clean]
    adv = read_png_batch(sorted((tmp_path / "run/adv/targeted_attack").glob("*.png")))
    assert adv.shape == (4, 299, 299, 3)
    assert np.abs(adv.astype(int) - clean.astype(int)).max() <= 4  # batch 0 has ε = 4: projected
    logs = tmp_path / "run/logs/attack/hang_attack/b0000"
    assert json.loads((logs / "run.json").read_text())["status"] == "timeout"
    assert "targeted 4 images" in (tmp_path / "run/logs/attack/targeted_attack/b0000/stdout.txt").read_text()
    resumed = run_competition(cfg.model_copy(), tmp_path / "run", resume=True)
    assert resumed.attacks == results.attacks


def test_digest_follows_the_contents(copy_sample: CopySample) -> None:
    path = copy_sample("noop_attack")
    before = content_digest(path)
    assert content_digest(path) == before
    (path / "noop.py").write_text((path / "noop.py").read_text() + "\n")
    changed = content_digest(path)
    assert changed != before
    (path / "noop.py").chmod(0o755)
    assert content_digest(path) != changed
    entry = parse_config({"submissions": [{"path": str(path)}]}).attacks[0]
    assert isinstance(entry, SubmissionEntry)
    assert entry.digest == content_digest(path)


def test_a_non_executable_entry_point_is_refused_at_load(copy_sample: CopySample) -> None:
    path = copy_sample("noop_attack")
    (path / "run_attack.sh").chmod(0o644)
    with pytest.raises(ConfigError, match=r"c.toml: submissions\[0\]: .*'run_attack.sh' is not executable"):
        parse_config({"submissions": [{"path": str(path)}]}, source="c.toml")
