"""The shipped ``hgd`` defense: its weights are in the package with their sha256, it classifies like
a defense, and changed weights are refused with one clear error."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from advengine.data import load_dataset, sample_dataset_dir
from advengine.defenses import build_defense
from advengine.defenses.pipeline import HGD_MODEL
from advengine.errors import ModelError
from advengine.models import get_manifest, load_classifier, zoo
from advengine.models.locations import builtin_manifest_dir


def test_weights_ship_in_the_package_with_their_sha256() -> None:
    m = get_manifest(HGD_MODEL)
    assert (m.source_kind, m.classifier, m.input_size, m.origin) == (
        "denoised",
        "efficientnet-lite2",
        260,
        "builtin",
    )
    assert m.onnx_path is not None
    assert m.onnx_path.parent == builtin_manifest_dir().parent / "weights"
    data = m.onnx_path.read_bytes()
    assert len(data) <= 20 * 2**20
    assert hashlib.sha256(data).hexdigest() == m.sha256


def test_the_defense_is_the_denoiser_in_front_of_lite2() -> None:
    d = build_defense("hgd")
    spec = d.spec()
    assert spec is not None
    assert spec.models == (HGD_MODEL,)
    assert not spec.transforms
    assert not spec.randomized
    ds = load_dataset(sample_dataset_dir()).head(8)
    assert ds.true_labels is not None
    labels = d(ds.read_images())
    assert (labels == ds.true_labels).sum() >= 6  # lite2 gets 7 or 8 of these right; hgd keeps them


def test_changed_weights_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The package layout in a temporary copy: manifests/ beside weights/, one weight byte changed.
    shutil.copytree(builtin_manifest_dir(), tmp_path / "manifests")
    shutil.copytree(builtin_manifest_dir().parent / "weights", tmp_path / "weights")
    monkeypatch.setattr(zoo, "builtin_manifest_dir", lambda: tmp_path / "manifests")
    weights = get_manifest(HGD_MODEL).onnx_path
    assert weights is not None
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(
        ModelError, match=r"has sha256 [0-9a-f]{64} but the manifest says .*reinstall advengine"
    ):
        load_classifier(HGD_MODEL)
