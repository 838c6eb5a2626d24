"""The gradient attacks on real zoo models, at reduced size (8 images, few iterations).

Every attack's output is checked against the ε budget; the research claims the project documents
are checked on a smooth measure (mean cross-entropy of the true label on a held-out model), which
separates the attacks reliably on 8 images where top-1 counts would be noise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from advengine.attacks import ATTACKS, build_attack
from advengine.attacks.ensemble_eot import sangxia_schedule
from advengine.attacks.gradient import IterativeAttack, MifgsmTargeted
from advengine.errors import ConfigError, ParameterError

from .conftest import true_label_ce

U8 = npt.NDArray[np.uint8]
Sample = tuple[U8, npt.NDArray[np.int64], npt.NDArray[np.int64]]
Logits = Callable[[str, U8], npt.NDArray[np.float32]]
LITE0 = ("efficientnet-lite0",)
LITE01 = ("efficientnet-lite0", "efficientnet-lite1")

#: Reduced parameters so every attack runs in seconds on 2 images.
SMALL: dict[str, dict[str, Any]] = {
    "ifgsm": {"iterations": 2},
    "pgd": {"iterations": 2},
    "cw-linf": {"iterations": 2},
    "mifgsm": {"iterations": 2},
    "difgsm": {"iterations": 2, "reference_schedule": False, "diversity_prob": 1.0},
    "tifgsm": {"iterations": 2},
    "iter-target-class": {"iterations": 2},
    "mifgsm-targeted": {"iterations": 2, "reference_schedule": False},
    "ensemble-eot": {"samples": 1},
    "cross-iterative-targeted": {"iterations": 2},
    "fatfingers": {"iterations": 2},
    "fatfingers-targeted": {"iterations": 2},
}


GRADIENT_ATTACKS = [n for n in ATTACKS.names() if n not in ("noop", "random-noise")]
#: ε = 16 for every attack, plus ε = 4 where the attack branches on ε (TSAIL's targeted schedule).
CASES = [(n, 16) for n in GRADIENT_ATTACKS] + [("fgsm", 4), ("mifgsm-targeted", 4)]


@pytest.mark.parametrize(("name", "eps"), CASES)
def test_every_attack_stays_within_eps(name: str, eps: int, sample8: Sample) -> None:
    images, _, targets = sample8
    models = LITE01 if name.startswith(("cross-iterative", "fatfingers")) else LITE0
    attack = build_attack(name, SMALL.get(name, {}), models)
    adv = attack(images[:2], eps=eps, target_classes=targets[:2], seed=1)
    assert adv.dtype == np.uint8
    assert adv.shape == images[:2].shape
    diff = np.abs(adv.astype(np.int16) - images[:2].astype(np.int16))
    assert int(diff.max()) <= eps
    assert int(diff.max()) > 0, f"{name} did not change the images at all"


def test_attacks_are_deterministic_for_a_seed(sample8: Sample) -> None:
    images = sample8[0][:2]
    attack = build_attack("pgd", {"iterations": 1}, LITE0)
    a = attack(images, eps=8, seed=3)
    b = attack(images, eps=8, seed=3)
    c = attack(images, eps=8, seed=4)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_whitebox_ifgsm_fools_its_source(sample8: Sample, logits_of: Logits) -> None:
    images, labels, _ = sample8
    clean_pred = logits_of("lite0", images).argmax(1) + 1
    adv = build_attack("ifgsm", {}, LITE0)(images, eps=16)
    adv_pred = logits_of("lite0", adv).argmax(1) + 1
    # The label attacked is the model's own clean prediction, so fooling = prediction changed.
    assert (adv_pred != clean_pred).mean() >= 0.95
    assert (adv_pred != labels).mean() >= 0.95


def test_mifgsm_transfers_better_than_ifgsm(sample8: Sample, logits_of: Logits) -> None:
    images, labels, _ = sample8
    i_adv = build_attack("ifgsm", {}, LITE0)(images, eps=16)
    m_adv = build_attack("mifgsm", {}, LITE0)(images, eps=16)
    for held_out in ("lite1", "lite2"):
        i_ce = true_label_ce(logits_of(held_out, i_adv), labels)
        m_ce = true_label_ce(logits_of(held_out, m_adv), labels)
        assert m_ce > i_ce, f"on {held_out}: MI-FGSM CE {m_ce:.3f} <= I-FGSM CE {i_ce:.3f}"


def test_ensemble_source_transfers_better_than_a_single_model(sample8: Sample, logits_of: Logits) -> None:
    images, labels, _ = sample8
    params = {"iterations": 5}
    single = build_attack("mifgsm", params, LITE0)(images, eps=16)
    ensemble = build_attack("mifgsm", params, LITE01)(images, eps=16)
    s_ce = true_label_ce(logits_of("lite2", single), labels)
    e_ce = true_label_ce(logits_of("lite2", ensemble), labels)
    assert e_ce > s_ce, f"ensemble source CE {e_ce:.3f} <= single source CE {s_ce:.3f} on lite2"


def test_iter_target_class_reaches_the_target_white_box(sample8: Sample, logits_of: Logits) -> None:
    images, _, targets = sample8
    adv = build_attack("iter-target-class", {}, LITE0)(images[:4], eps=16, target_classes=targets[:4])
    hit = (logits_of("lite0", adv).argmax(1) + 1) == targets[:4]
    assert hit.mean() >= 0.75


def test_targeted_attacks_need_targets(sample8: Sample) -> None:
    with pytest.raises(ParameterError, match="target_classes"):
        build_attack("step-target-class", {}, LITE0)(sample8[0][:1], eps=4)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("ifgsm", {"iterations": 0}, "iterations"),
        ("mifgsm", {"mu": -1}, "mu"),
        ("difgsm", {"diversity_prob": 2}, "diversity_prob"),
        ("tifgsm", {"ti_size": 4}, "ti_size"),
        ("pgd", {"direction": "up"}, "direction"),
        ("ensemble-eot", {"samples": 0}, "samples"),
        ("fgsm", {"step": 300}, "step"),
    ],
)
def test_bad_parameters_are_one_config_error(name: str, params: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_attack(name, params)


def test_unknown_source_model_is_named() -> None:
    with pytest.raises(ParameterError, match="unknown source model 'no-such-model'"):
        build_attack("fgsm", {}, ("no-such-model",))


def _iterative(name: str) -> IterativeAttack[Any]:
    return ATTACKS.build_as(IterativeAttack, name)


def test_published_defaults() -> None:
    p = _iterative("mifgsm").params
    assert (p.iterations, p.mu, p.direction) == (10, 1.0, "mean-abs")
    ti = _iterative("tifgsm").params
    assert (ti.ti_size, ti.ti_nsig) == (15, 3.0)
    it = _iterative("iter-target-class")
    assert (it.params.iterations, it.params.step, it.track, it.models) == (20, 1.0, "targeted", LITE0)
    assert len(sangxia_schedule()) == 19
    assert _iterative("cross-iterative").params.iterations == 2
    pgd = _iterative("pgd")
    assert (pgd.params.step_scale, pgd.params.random_start, pgd.track) == (2.5, True, "nontargeted")
    assert pgd.models == ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


def test_presets_of_one_class_keep_their_own_names() -> None:
    assert repr(build_attack("fgsm")).startswith("fgsm(iterations=1, ")
    assert type(build_attack("fgsm")) is type(build_attack("pgd")) is IterativeAttack


def test_mifgsm_targeted_schedule_depends_on_eps() -> None:
    attack = ATTACKS.build_as(MifgsmTargeted, "mifgsm-targeted")
    assert attack.schedule(16 / 255) == (20, pytest.approx(16 / 255 / 12))
    assert attack.schedule(4 / 255) == (40, pytest.approx(4 / 255 / 28))
    assert attack.source(16).key.models == ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
    assert attack.source(4).key.models == ("efficientnet-lite0", "efficientnet-lite2")
    assert attack.source(4).key.weights == pytest.approx((1 / 3, 2 / 3))


def test_difgsm_reference_schedule() -> None:
    attack = _iterative("difgsm")
    assert attack.schedule(16 / 255)[0] == 20
    assert attack.schedule(4 / 255)[0] == 5
