"""Checkpoints round trip exactly; a damaged or missing one is one clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advengine.errors import CheckpointError
from advengine.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


def sample() -> Checkpoint:
    rng = np.random.default_rng(3)
    params = {"dunet.enc1.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32)}
    gen = np.random.default_rng(7)
    gen.random(5)
    return Checkpoint(
        step=12,
        params=params,
        adam_m={k: v * 0.5 for k, v in params.items()},
        adam_v={k: v * v for k, v in params.items()},
        adam_t=12,
        rng_state=gen.bit_generator.state,
        losses=[3.5, 2.25, 1.0],
        seconds=4.5,
        settings={"lr": 0.001, "channels": [4, 8]},
        sessions=[{"start_step": 0, "end_step": 12}],
    )


def test_round_trip(tmp_path: Path) -> None:
    ckpt = sample()
    save_checkpoint(tmp_path / "c.npz", ckpt)
    back = load_checkpoint(tmp_path / "c.npz")
    assert (back.step, back.adam_t, back.losses, back.seconds) == (12, 12, [3.5, 2.25, 1.0], 4.5)
    assert back.settings == ckpt.settings
    assert back.sessions == ckpt.sessions
    for group in ("params", "adam_m", "adam_v"):
        for k, v in getattr(ckpt, group).items():
            np.testing.assert_array_equal(getattr(back, group)[k], v)
    # The sampler continues where it stopped.
    a, b = np.random.default_rng(), np.random.default_rng(7)
    a.bit_generator.state = back.rng_state
    b.random(5)
    assert a.random() == b.random()


def test_damaged_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    save_checkpoint(path, sample())
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"checkpoint .*c\.npz is damaged"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "none.npz")
