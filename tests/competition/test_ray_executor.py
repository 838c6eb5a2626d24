"""The Ray executor on a small local Ray instance: same results as the local executors, the time limit
enforced on the node, clear errors for impossible resources, GPU ordinals and submission shipping."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from tests.competition.conftest import FAKES, REPO, MakeConfig
from tests.competition.test_executor import check_faults_are_outcomes

from advengine.competition import InProcessExecutor, ProcessExecutor, parse_config, run_competition
from advengine.competition.ray_executor import (
    RayExecutor,
    assigned_device,
    local_runtime_env,
    pack_submission,
)
from advengine.context import RunContext
from advengine.errors import ConfigError
from advengine.types import SubmissionEntry


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One small Ray instance for the module (starting one costs seconds)."""
    env = local_runtime_env()
    env["env_vars"]["PYTHONPATH"] = f"{REPO}:{env['env_vars']['PYTHONPATH']}"
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=env)
    try:
        yield
    finally:
        ray.shutdown()


def comparable(out: Path) -> dict[str, Any]:
    """results.json without what may differ between runs (timings) plus records.csv."""
    data = json.loads((out / "results.json").read_text())
    data.pop("timings")
    for item in (*data["attacks"], *data["defenses"]):
        for key in [k for k in item if "seconds" in k]:  # median_batch_seconds, median_seconds_per_100
            item.pop(key)
    return {"results": data, "records": (out / "records.csv").read_text()}


def test_executors_agree_on_the_sample(tmp_path: Path, local_ray: None) -> None:
    # Built-in pieces on real images: a seeded random attack, a gradient attack and a model defense.
    doc = {
        "batch_size": 2,
        "dataset": {"limit": 4},
        "attacks": [{"name": "random-noise"}, {"name": "fgsm", "models": ["efficientnet-lite0"]}],
        "defenses": [{"name": "classifier", "models": ["efficientnet-lite0"]}],
    }
    cfg = parse_config(doc, source="test.toml")
    runs = {
        "inprocess": InProcessExecutor(),
        "process": ProcessExecutor(1),
        "ray": RayExecutor(),
    }
    got = {}
    for name, executor in runs.items():
        run_competition(cfg, tmp_path / name, executor=executor)
        got[name] = comparable(tmp_path / name)
    assert got["process"] == got["inprocess"]
    assert got["ray"] == got["inprocess"]
    assert ray.is_initialized()  # the executor did not shut down an instance it did not start


def test_time_limit_and_crashes_are_outcomes_on_the_node(
    tmp_path: Path, local_ray: None, make_config: MakeConfig, sample_dir: str
) -> None:
    # The piece's own process dies, not the Ray worker: a crash, not retried as a system failure.
    ex = RayExecutor(time_limit=3.0, grace=1.0, plugins=(FAKES,))
    check_faults_are_outcomes(ex, make_config, sample_dir, tmp_path / "run")


def test_resources_the_cluster_lacks_are_refused(
    tmp_path: Path, local_ray: None, make_config: MakeConfig
) -> None:
    cfg = make_config(limit=2, attacks=[{"name": "fake-shift", "num_gpus": 0.5}])
    with pytest.raises(ConfigError, match=r"fake-shift: num_gpus = 0.5 but the Ray cluster has 0 GPUs"):
        run_competition(cfg, tmp_path / "run", executor=RayExecutor(plugins=(FAKES,)))


def test_assigned_device_is_the_ordinal_among_visible_gpus() -> None:
    assert assigned_device([], (), 3) == 3  # no GPU from Ray: --device
    assert assigned_device([5], ("5",), 0) == 0  # Ray narrowed CUDA_VISIBLE_DEVICES to GPU 5
    assert assigned_device([2], ("1", "2"), 0) == 1


def test_directory_submissions_are_shipped_as_one_archive(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    (sub / "code").mkdir(parents=True)
    (sub / "metadata.json").write_text("{}")
    (sub / "code" / "run.sh").write_text("echo")
    name, data = pack_submission(sub)
    assert name == "sub.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert sorted(tf.getnames()) == ["code", "code/run.sh", "metadata.json"]
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"PK")
    assert pack_submission(archive) == ("a.zip", b"PK")


def test_submissions_run_from_a_node_copy_of_their_archive(
    tmp_path: Path, local_ray: None, make_config: MakeConfig
) -> None:
    samples = REPO / "tests" / "submissions" / "samples"
    subs = [{"path": str(samples / name), "sandbox": "bwrap"} for name in ("noop_attack", "defense")]
    cfg = make_config(limit=2, batch_size=2, time_limit=120.0, plugins=[], submissions=subs)
    results = run_competition(cfg, tmp_path / "run", executor=RayExecutor(time_limit=120.0))
    assert results.attacks[0].pieces == {"ok": 1, "crashed": 0, "timeout": 0}
    assert results.defenses[0].pieces == {"ok": 2, "crashed": 0, "timeout": 0}  # clean + the attack's batch
    assert results.attacks[0].images_produced == 2
    for entry in cfg.entries:
        assert isinstance(entry, SubmissionEntry)
        landed = Path(tempfile.gettempdir(), "advengine-ray", "submissions", entry.digest)
        assert [p.name for p in landed.iterdir()] == [f"{Path(entry.path).name}.tar.gz"]
    assert not (tmp_path / "run" / "logs").exists()  # logs stay on the node


def test_cluster_nodes_use_their_own_cache_dir(local_ray: None, tmp_path: Path) -> None:
    context = RunContext(cache_dir=tmp_path)
    assert RayExecutor(context=context).settings.context.cache_dir == tmp_path  # local: same machine
    assert RayExecutor("auto", context=context).settings.context.cache_dir is None
