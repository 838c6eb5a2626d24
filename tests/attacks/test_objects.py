"""``advengine.attacks`` as objects: the model as an argument, any array, any size."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

import advengine
from advengine.attacks import FGSM, MIFGSM, AttackObject, attack, evaluate
from advengine.errors import ParameterError
from advengine.models import Model

from ..models.conftest import tiny_classifier


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Model:
    monkeypatch.setenv("ADVENGINE_CONFIG", str(tmp_path / "config"))
    return Model.from_onnx(tiny_classifier(tmp_path / "tiny.onnx", size=8), normalization="none")


def test_uint8_299_stays_uint8_nhwc_within_eps(tiny: Model) -> None:
    x = np.random.default_rng(0).integers(0, 256, (2, 299, 299, 3), dtype=np.uint8)
    adv = MIFGSM(tiny, iterations=2)(x, eps=4)
    assert adv.dtype == np.uint8
    assert adv.shape == x.shape
    assert int(np.abs(adv.astype(int) - x).max()) == 4


def test_a_224_float_batch_comes_back_float_nchw_224_within_eps(tiny: Model) -> None:
    x = np.random.default_rng(1).uniform(0.1, 0.9, (3, 3, 224, 224)).astype(np.float32)
    adv = advengine.attack("fgsm", tiny, x, eps=8 / 255)
    assert adv.dtype == np.float32
    assert adv.shape == x.shape
    assert float(np.abs(adv - x).max()) <= 8 / 255 + 1e-6
    assert float(np.abs(adv - x).max()) > 4 / 255  # the perturbation survived the resize back


def test_a_torch_tensor_round_trips(tiny: Model) -> None:
    x = torch.rand(2, 3, 64, 48)
    adv = FGSM(tiny)(x, eps=0.05)
    assert isinstance(adv, torch.Tensor)
    assert adv.shape == x.shape
    assert adv.dtype == torch.float32
    assert float((adv - x).abs().max()) <= 0.05 + 1e-6


def test_the_class_and_the_one_liner_agree(tiny: Model) -> None:
    x = np.random.default_rng(2).integers(0, 256, (2, 299, 299, 3), dtype=np.uint8)
    np.testing.assert_array_equal(FGSM(tiny)(x, eps=8), attack("fgsm", tiny.name, x, eps=8))


def test_every_registered_attack_has_a_class() -> None:
    from advengine.attacks.generate import builtin_names, class_name

    names = builtin_names()
    assert {"fgsm", "mifgsm", "fcn"} <= set(names)
    for name in names:
        cls = getattr(advengine.attacks, class_name(name))
        assert issubclass(cls, AttackObject)
        assert cls.entry == name


def test_a_class_passes_each_keyword_of_its_signature_to_its_attack(tiny: Model) -> None:
    """The generated __init__ hands its locals() on: every parameter of the signature, and only those,
    reaches the registered attack (the models and the context go apart)."""
    keywords = set(inspect.signature(MIFGSM).parameters) - {"model_or_models", "context"}
    built = MIFGSM(tiny, iterations=3, mu=0.5)
    assert set(built.attack.params.model_dump()) == keywords
    assert (built.attack.params.iterations, built.attack.params.mu) == (3, 0.5)
    assert built.models == (tiny.name,)
    assert built.context is tiny.context


def test_targeted_attacks_need_targets_and_eps_follows_the_dtype(tiny: Model) -> None:
    x = np.zeros((1, 299, 299, 3), np.uint8)
    with pytest.raises(ParameterError, match="give target_classes"):
        attack("iter-target-class", tiny, x, eps=4, iterations=1)
    with pytest.raises(ParameterError, match=r"eps is in pixels .* for uint8 images"):
        FGSM(tiny)(x, eps=0.03)


def test_evaluate_reports_clean_and_robust_accuracy_per_image(tiny: Model) -> None:
    x = np.random.default_rng(3).integers(0, 256, (4, 299, 299, 3), dtype=np.uint8)
    labels = tiny.predict(x)
    result = evaluate(tiny, "pgd", x, labels, 16, iterations=3)
    assert result.accuracy == 1.0
    assert 0.0 <= result.robust_accuracy <= 1.0
    rows = result.per_image()
    assert len(rows) == 4
    assert all(r["correct"] for r in rows)
    assert result.robust_accuracy == np.mean([r["robust"] for r in rows])
    assert result.adversarial.shape == x.shape
    with pytest.raises(ParameterError, match="not to evaluate"):
        evaluate(tiny, FGSM(tiny), x, labels, 16, iterations=3)
