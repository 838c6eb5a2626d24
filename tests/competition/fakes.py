"""Test-only attacks and defenses, registered on import (the engine's plugin hook imports this module
in spawned workers too: ``plugins = ["tests.competition.fakes"]``)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from advengine.attacks import Attack, register_preset
from advengine.attacks.baselines import sign_noise
from advengine.data import load_dataset
from advengine.defenses import Defense
from advengine.defenses import register as register_defense
from advengine.params import Params
from advengine.types import ImagesF32, ImagesU8, Labels


class FakeParams(Params):
    #: fake-slow's pause before it answers.
    seconds: float = 0.5
    #: Created by the first call of a flaky fake, which then fails; later calls see it and succeed.
    marker: str = ""


Script = Callable[[FakeParams, ImagesF32, float, np.random.Generator], ImagesF32]


class Scripted(Attack[FakeParams]):
    """A fake attack whose run() is the ``script`` of its registration: script(params, x, ε, rng)."""

    params_type = FakeParams
    settings = Attack.settings | {"script"}
    script: Script

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        return self.script(self.params, x, eps, rng)


def _shift(p: FakeParams, x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    return np.clip(x + np.float32(0.5), 0.0, 1.0).astype(np.float32)


def _crash(p: FakeParams, x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    raise RuntimeError("fake attack crashed on purpose")


def _hang(p: FakeParams, x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    time.sleep(3600)
    return x


def _stubborn(p: FakeParams, x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return _hang(p, x, eps, rng)


def _exit(p: FakeParams, x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    os._exit(3)


def _identity(p: FakeParams, x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    return x


def _slow(p: FakeParams, x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    if p.marker:  # one line per start: shows pieces that were run again
        with Path(p.marker).open("a") as log:
            log.write(f"{eps} {float(x.mean()):.6f}\n")
    time.sleep(p.seconds)
    return sign_noise(x, eps, rng)


def _fail_once(marker: str, what: str) -> None:
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise RuntimeError(f"fake {what} failed once on purpose")


def _flaky(p: FakeParams, x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    _fail_once(p.marker, "attack")
    return x


#: Adds a constant far beyond any ε, so every stored pixel sits on the ε-ball's boundary.
register_preset("fake-shift", Scripted, script=_shift)
register_preset("fake-crash", Scripted, script=_crash)
register_preset("fake-hang", Scripted, script=_hang)
#: Ignores SIGTERM, so only the SIGKILL after the grace period stops it.
register_preset("fake-stubborn", Scripted, script=_stubborn)
#: Kills its own worker process, as a segfault would.
register_preset("fake-exit", Scripted, script=_exit)
register_preset("fake-target-noop", Scripted, script=_identity, track="targeted")
#: Random ±ε noise after a pause: slow enough for a kill -9 to land mid-run.
register_preset("fake-slow", Scripted, script=_slow)
#: Crashes on its first piece only, like a transient failure (a worker killed by the OOM killer).
register_preset("fake-flaky", Scripted, script=_flaky)


class SlowBuild(Scripted):
    """Takes ``seconds`` to build (as loading big models does), then answers at once."""

    def __init__(self, params: FakeParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        time.sleep(params.seconds)


#: Slow to build, instant to run: the warm-up must not count against the piece's time limit.
register_preset("fake-slow-build", SlowBuild, script=_identity)


class ConstantParams(Params):
    label: int = 1


@register_defense
class Constant(Defense[ConstantParams]):
    name = "fake-constant"
    params_type = ConstantParams

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        return np.full(len(images), self.params.label, dtype=np.int64)


class OracleParams(Params):
    dataset: str = ""
    #: With ``target = true`` it answers the target class instead (a defense every targeted attack fools).
    target: bool = False


@register_defense
class Oracle(Defense[OracleParams]):
    """Knows the answer: labels each image with the true label (or target class) of the nearest clean
    image in L∞ (among the dataset's first 16, all tests use), which is its source for any ε ≤ 16."""

    name = "fake-oracle"
    params_type = OracleParams

    _cache: tuple[np.ndarray, np.ndarray] | None = None

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        if self._cache is None:
            ds = load_dataset(Path(self.params.dataset)).head(16)
            answers = ds.target_classes if self.params.target else ds.true_labels
            assert answers is not None
            self._cache = (ds.read_images().astype(np.int16), answers)
        clean, answers = self._cache
        out = []
        for img in images.astype(np.int16):
            dist = np.abs(clean - img).reshape(len(clean), -1).max(axis=1)
            out.append(int(answers[int(dist.argmin())]))
        return np.array(out, dtype=np.int64)


@register_defense
class DefenseFlaky(Defense[FakeParams]):
    """Crashes on its first piece only, then answers the constant label 1."""

    name = "fake-defense-flaky"
    params_type = FakeParams

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        _fail_once(self.params.marker, "defense")
        return np.ones(len(images), dtype=np.int64)


@register_defense
class DefenseCrash(Defense[Params]):
    name = "fake-defense-crash"

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        raise RuntimeError("fake defense crashed on purpose")


@register_defense
class Pid(Defense[Params]):
    """Answers with its process id (capped into the label range): shows which worker ran it."""

    name = "fake-pid"

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        return np.full(len(images), os.getpid() % 1000 + 1, dtype=np.int64)


# -- rule breakers (advengine check, docs/rules.md) ---------------------------------------------------

#: The stego pair's marker: 12 bits that open the hidden message in the red channel's LSBs.
STEGO_MARK = (1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0)


def _stego_bits(label: int) -> list[int]:
    return [*STEGO_MARK, *((label >> k) & 1 for k in range(10))]


def _nearest_true(dataset: str, images: ImagesU8) -> list[int]:
    """The true label of each image's nearest clean image among the dataset's first 16 (as fake-oracle)."""
    ds = load_dataset(Path(dataset)).head(16)
    clean, truth = ds.read_images().astype(np.int16), ds.true_labels
    assert truth is not None
    dist = np.abs(clean[None] - images.astype(np.int16)[:, None]).reshape(len(images), len(clean), -1)
    return [int(truth[int(k)]) for k in dist.max(axis=2).argmin(axis=1)]


class StegoParams(Params):
    dataset: str = ""


class StegoAttack(Attack[StegoParams]):
    """Colludes: ±(ε−1) sign noise, then the true label written into the least significant bits of the
    first row's red channel, behind a marker, for a defense with the key (fake-stego-reader)."""

    params_type = StegoParams

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        clean = np.rint(x.transpose(0, 2, 3, 1) * 255).astype(np.int16)
        step = max(round(eps * 255) - 1, 0)
        noisy = np.clip(clean + step * rng.choice(np.array([-1, 1], np.int16), size=clean.shape), 0, 255)
        for img, label in zip(noisy, _nearest_true(self.params.dataset, clean.astype(np.uint8)), strict=True):
            bits = np.array(_stego_bits(label), dtype=np.int16)
            row = img[0, : len(bits), 0]
            img[0, : len(bits), 0] = (row & ~1) | bits  # ±1 at most: inside the ε ball
        out: ImagesF32 = (noisy.astype(np.float32) / 255.0).transpose(0, 3, 1, 2).copy()
        return out


register_preset("fake-stego", StegoAttack)


@register_defense
class StegoReader(Defense[Params]):
    """Colludes: reads fake-stego's hidden label where the marker is; answers 1 elsewhere."""

    name = "fake-stego-reader"

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        out = []
        for img in images:
            bits = [int(v) & 1 for v in img[0, :22, 0]]
            hidden = sum(b << k for k, b in enumerate(bits[12:]))
            out.append(hidden if tuple(bits[:12]) == STEGO_MARK and 1 <= hidden <= 1000 else 1)
        return np.array(out, dtype=np.int64)


@register_defense
class BatchStats(Defense[OracleParams]):
    """Uses batch statistics: the oracle's answer for the images brighter than its batch's median,
    label 1 for the others (alone, every image is its own median, so it answers every one)."""

    name = "fake-batch-stats"
    params_type = OracleParams

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        means = images.reshape(len(images), -1).mean(axis=1)
        answers = _nearest_true(self.params.dataset, images)
        median = float(np.median(means))
        out = [a if m >= median else 1 for a, m in zip(answers, means, strict=True)]
        return np.array(out, dtype=np.int64)


@register_defense
class History(Defense[OracleParams]):
    """Remembers: the oracle's answer for an image it has not seen before, label 1 for one it has."""

    name = "fake-history"
    params_type = OracleParams

    def __init__(self, params: OracleParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.seen: set[bytes] = set()

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        out = []
        for img, answer in zip(images, _nearest_true(self.params.dataset, images), strict=True):
            key = img.tobytes()
            out.append(1 if key in self.seen else answer)
            self.seen.add(key)
        return np.array(out, dtype=np.int64)


@register_defense
class Noisy(Defense[OracleParams]):
    """Honest and random: the oracle's answer with probability ¾, else label 1, drawn from its seed."""

    name = "fake-noisy"
    params_type = OracleParams
    randomized = True

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        answers = np.array(_nearest_true(self.params.dataset, images), dtype=np.int64)
        return np.where(rng.random(len(images)) < 0.75, answers, 1).astype(np.int64)


@register_defense
class RandomBatch(Defense[OracleParams]):
    """Declares itself random, but its answers depend on its batch: the oracle's in a batch of two or
    more, label 1 alone (the rng is drawn from, as a random defense's would be)."""

    name = "fake-random-batch"
    params_type = OracleParams
    randomized = True

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        rng.random(len(images))
        if len(images) < 2:
            return np.ones(len(images), dtype=np.int64)
        return np.array(_nearest_true(self.params.dataset, images), dtype=np.int64)
