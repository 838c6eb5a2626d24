"""Pipeline defenses and presets on real zoo models (reduced sizes: a few DEV sample images)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from advengine.attacks import build_attack
from advengine.data import load_dataset, sample_dataset_dir
from advengine.defenses import DEFENSES, build_defense
from advengine.defenses.pipeline import PAD_GRAY, PipelineDefense, draw_resize_pad, resize_pad_nearest
from advengine.errors import ConfigError, ParameterError

from .conftest import true_label_ce

U8 = npt.NDArray[np.uint8]
Sample = tuple[U8, npt.NDArray[np.int64], npt.NDArray[np.int64]]
LITE0 = ("efficientnet-lite0",)


def pipeline(
    name: str, params: dict[str, Any] | None = None, models: tuple[str, ...] = ()
) -> PipelineDefense:
    return DEFENSES.build_as(PipelineDefense, name, params, models)


def test_presets_are_registered_with_their_published_defaults() -> None:
    assert {"pipeline", "ensemble", "median", "random-resize-pad", "resize", "jpeg", "bit-depth"} <= set(
        DEFENSES.names()
    )
    assert DEFENSES.get("random-resize-pad").setting("randomized")
    rrp = pipeline("random-resize-pad")
    assert rrp.randomized
    published = (30, 0.5, 310, 331, 331, True, "logit")
    q = rrp.params
    assert (q.draws, q.flip_prob, q.size_low, q.size_high, q.canvas, q.per_image, q.fusion) == published
    assert pipeline("median").params.transforms == ("median:2",)
    assert not pipeline("median").randomized
    assert pipeline("ensemble").params.fusion == "prob"
    ens = build_defense("ensemble")
    assert ens.models == ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


def test_drop_resize_is_registered_with_its_stated_defaults() -> None:
    assert DEFENSES.get("drop-resize").setting("randomized")
    d = pipeline("drop-resize")
    q = d.params
    assert (q.draws, q.dropout, q.fusion, q.size_low, q.size_high, q.canvas, q.per_image) == (
        10,
        0.2,
        "prob",
        310,
        331,
        331,
        True,
    )
    spec = d.spec()
    assert spec.randomized
    assert spec.dropout == 0.2
    assert spec.describe() == "resize-pad×10 → dropout 0.2 → efficientnet-lite0"


def test_drop_resize_at_rate_zero_is_the_plain_resize_pad_pipeline(sample8: Sample) -> None:
    images = sample8[0][:2]
    drop = pipeline("drop-resize", {"draws": 2, "dropout": 0.0}, LITE0)
    plain = pipeline("random-resize-pad", {"draws": 2, "fusion": "prob"}, LITE0)
    np.testing.assert_array_equal(
        drop.probabilities(images, np.random.default_rng(3)),
        plain.probabilities(images, np.random.default_rng(3)),
    )


def test_resize_pad_is_nearest_on_gray() -> None:
    img = np.zeros((1, 4, 4, 3), np.uint8)
    img[0, 0, 0] = 255
    out = resize_pad_nearest(img, 8, 10, 1, 2)
    assert out.shape == (1, 10, 10, 3)
    assert (out[0, 0] == PAD_GRAY).all()
    assert (out[0, 1:3, 2:4] == 255).all()  # the corner pixel doubled by nearest upscaling
    assert out[0, 3, 4, 0] == 0


@pytest.mark.parametrize(
    ("name", "draws"),
    # drop-resize with draws = 0 is one pass: any difference between seeds comes from its dropout.
    [("random-resize-pad", 2), ("drop-resize", 2), ("drop-resize", 0)],
)
def test_randomised_defense_is_stochastic_across_seeds_and_reproducible_for_one(
    sample8: Sample, name: str, draws: int
) -> None:
    images = sample8[0][:2]
    d = pipeline(name, {"draws": draws}, LITE0)
    a = d.probabilities(images, np.random.default_rng(5))
    b = d.probabilities(images, np.random.default_rng(5))
    c = d.probabilities(images, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-9)


@pytest.mark.parametrize(
    ("name", "params"),
    [("median", {}), ("random-resize-pad", {})],
)
def test_clean_accuracy_stays_within_a_few_points(name: str, params: dict[str, Any]) -> None:
    ds = load_dataset(sample_dataset_dir()).head(32)
    images = ds.read_images()
    plain = build_defense("classifier", {}, LITE0)(images)
    defended = build_defense(name, params, LITE0)(images, seed=0)
    lost = int((plain == ds.true_labels).sum()) - int((defended == ds.true_labels).sum())
    # Within 3 points of 32 images: at most one image lost.
    assert lost <= 1, f"{name} lost {lost} of 32 clean images"


@pytest.fixture(scope="module")
def transfer_adv(sample8: Sample) -> U8:
    """I-FGSM at ε = 16 from lite1, which the lite0-based defenses below never see."""
    return build_attack("ifgsm", {}, ("efficientnet-lite1",))(sample8[0], eps=16)


@pytest.mark.parametrize(
    ("name", "params"),
    [("median", {}), ("random-resize-pad", {"draws": 10})],
)
def test_defenses_resist_transfer_better_than_the_plain_model(
    name: str, params: dict[str, Any], sample8: Sample, transfer_adv: U8
) -> None:
    _, labels, _ = sample8
    rng = np.random.default_rng(0)
    plain = build_defense("classifier", {}, LITE0)
    plain_p = pipeline("pipeline", {}, LITE0)
    defended = pipeline(name, params, LITE0)
    ce_plain = true_label_ce(np.log(plain_p.probabilities(transfer_adv, rng)).astype(np.float32), labels)
    ce_defended = true_label_ce(np.log(defended.probabilities(transfer_adv, rng)).astype(np.float32), labels)
    assert ce_defended < ce_plain, f"{name}: true-label CE {ce_defended:.3f} >= plain {ce_plain:.3f}"
    acc_plain = (plain(transfer_adv) == labels).mean()
    acc_defended = (defended(transfer_adv, seed=0) == labels).mean()
    assert acc_defended >= acc_plain


@pytest.fixture(scope="module")
def own_model_adv(sample8: Sample) -> dict[str, U8]:
    """FGSM and I-FGSM at ε = 8 crafted on plain lite0: the attacker knows the model, not the transform."""
    return {a: build_attack(a, {}, LITE0)(sample8[0], eps=8) for a in ("fgsm", "ifgsm")}


@pytest.mark.parametrize(
    ("attack", "name", "params", "gain"),
    [
        # Xie et al.: random resize-pad undoes iterative perturbations that overfit the model.
        ("ifgsm", "random-resize-pad", {"draws": 10}, 3),
        ("fgsm", "random-resize-pad", {"draws": 10}, 2),
        # The 2×2 median filter removes part of the single-step sign pattern.
        ("fgsm", "median", {}, 1),
    ],
)
def test_defenses_raise_accuracy_against_attacks_on_their_base_model(
    attack: str, name: str, params: dict[str, Any], gain: int, sample8: Sample, own_model_adv: dict[str, U8]
) -> None:
    labels = sample8[1]
    adv = own_model_adv[attack]
    plain = int((build_defense("classifier", {}, LITE0)(adv) == labels).sum())
    defended = int((build_defense(name, params, LITE0)(adv, seed=0) == labels).sum())
    assert defended >= plain + gain, f"{name} vs {attack}@8: {defended}/8 correct, plain lite0 {plain}/8"


@pytest.mark.parametrize(
    ("name", "params", "models", "error", "match"),
    [
        ("pipeline", {"transforms": "blur"}, (), ConfigError, "unknown transform"),
        ("pipeline", {"draws": -1}, (), ConfigError, "draws"),
        ("pipeline", {"fusion": "max"}, (), ConfigError, "fusion"),
        ("drop-resize", {"dropout": 1.0}, (), ConfigError, "dropout"),
        ("median", {}, ("nope",), ParameterError, "unknown model 'nope'"),
    ],
)
def test_bad_configuration_is_one_clear_error(
    name: str, params: dict[str, Any], models: tuple[str, ...], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        build_defense(name, params, models)


class _Recorder:
    """Stands in for the model ensemble: records each batch it is shown, answers fixed logits."""

    def __init__(self) -> None:
        self.seen: list[U8] = []

    def scores(
        self, images: U8, fusion: str, rng: np.random.Generator | None = None
    ) -> npt.NDArray[np.float64]:
        self.seen.append(images.copy())
        z = np.zeros((len(images), 1000))
        z[:, len(self.seen)] = 1.0  # draw k votes for class k: the mean shows every draw counted once
        return z


def _reference_draw(stored: U8, rng: np.random.Generator, flip_prob: float) -> tuple[U8, list[int]]:
    """The published formula for one draw, image by image in plain numpy: flip with p (persistent),
    rnd ∈ [310, 331), TF1 nearest resize (src = min(⌊dst·float32(299/rnd)⌋, 298)), gray pad to 331 at
    (top, left) ∈ [0, 331 − rnd]²."""
    n = len(stored)
    flips = rng.random(n) < flip_prob
    sizes = rng.integers(310, 331, size=n)
    tops = rng.integers(0, 331 - sizes + 1)
    lefts = rng.integers(0, 331 - sizes + 1)
    out = np.full((n, 331, 331, 3), PAD_GRAY, np.uint8)
    for i in range(n):
        if flips[i]:
            stored[i] = stored[i, :, ::-1]
        rnd = int(sizes[i])
        src = np.minimum(np.floor(np.arange(rnd, dtype=np.float32) * np.float32(299 / rnd)), 298).astype(int)
        out[i, tops[i] : tops[i] + rnd, lefts[i] : lefts[i] + rnd] = stored[i][src][:, src]
    return out, [int(v) for v in sizes]


def test_random_resize_pad_follows_the_published_formula_per_image() -> None:
    images = np.random.default_rng(1).integers(0, 256, (3, 299, 299, 3), dtype=np.uint8)
    rrp = pipeline("random-resize-pad", {"draws": 4}, LITE0)
    rec = _Recorder()
    rrp.ensemble = rec  # type: ignore[assignment]
    probs = rrp.probabilities(images, np.random.default_rng(7))
    ref_rng, stored, sizes = np.random.default_rng(7), images.copy(), []
    for seen in rec.seen:
        want, drawn = _reference_draw(stored, ref_rng, 0.5)
        assert np.array_equal(seen, want)
        sizes += drawn
    assert len(rec.seen) == 4
    assert all(310 <= s <= 330 for s in sizes)
    assert len(set(sizes)) > 1  # drawn per image, not once per batch
    # Logits averaged over the draws, then softmax: each draw's class gets the same probability.
    assert np.allclose(probs[0, 1:5], probs[0, 1])
    assert probs[0, 1] > probs[0, 0]


def test_random_resize_pad_bounds_are_parameters() -> None:
    rrp = pipeline("random-resize-pad", {"size_low": 299, "size_high": 300, "canvas": 299, "flip_prob": 0.0})
    flips, rows = draw_resize_pad(5, rrp.params, np.random.default_rng(0))
    assert not flips.any()
    assert (rows == [[299, 0, 0]] * 5).all()  # the identity: no resize, no offset
    with pytest.raises(ConfigError, match="resize range"):
        pipeline("random-resize-pad", {"size_low": 320, "size_high": 310})


def test_erko_is_the_median_in_front_of_the_zoo_ensemble_with_probabilities() -> None:
    erko = pipeline("erko")
    assert erko.params.transforms == ("median:2",)
    assert erko.params.fusion == "prob"
    assert erko.models == ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
