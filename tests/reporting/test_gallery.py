"""The gallery: which images, the amplified perturbation, each defense's verdict, small data URIs."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from tests.reporting.conftest import Builder, full_run

from advengine.reporting import load_run
from advengine.reporting.classnames import class_name
from advengine.reporting.gallery import IMAGES, SIDE, _amplified, gallery


def _decode(uri: str) -> Image.Image:
    head, data = uri.split(",", 1)
    assert head == "data:image/jpeg;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_cards_cover_every_batch_and_attack(builder: Builder) -> None:
    b = builder()
    full_run(b)
    items = gallery(load_run(b.root))
    assert len(items) == IMAGES
    ids = b.ds.image_ids
    assert [it.image_id for it in items] == [ids[0], ids[4], ids[1], ids[5]]  # round-robin over batches
    assert [it.eps for it in items] == [4, 8, 4, 8]
    first = items[0]
    assert first.true_name == class_name(first.true_label)
    assert [r.attack for r in first.rows] == ["clean", "noop", "fgsm-x", "tgt"]
    assert first.rows[0].perturbation is None
    assert first.rows[1].linf == 0
    assert first.rows[2].linf == 4  # the +255 shift projected to ε = 4 (a few pixels already at 255)
    for row in first.rows:
        assert row.image is not None
        assert _decode(row.image).size == (SIDE, SIDE)


def test_verdicts_say_correct_wrong_or_target(builder: Builder) -> None:
    b = builder()
    full_run(b)
    card = gallery(load_run(b.root))[1]  # batch 1: `good` is fooled by fgsm-x and tgt
    by = {r.attack: [(v.defense, v.outcome) for v in r.verdicts] for r in card.rows}
    assert by["clean"] == [("good", "correct"), ("bad", "wrong")]
    assert by["fgsm-x"] == [("good", "wrong"), ("bad", "wrong")]
    assert by["tgt"] == [("good", "target"), ("bad", "wrong")]
    assert card.rows[3].verdicts[0].name == card.target_name


def test_missing_images_and_labels_are_shown_as_missing(builder: Builder) -> None:
    b = builder()
    b.attack("noop", 0)
    b.defense("good", "clean", 0, b.truth(0))
    card = gallery(load_run(b.root))[0]
    clean, noop, fgsm = card.rows[:3]
    assert [v.outcome for v in clean.verdicts] == ["correct", "missing"]
    assert [v.outcome for v in noop.verdicts] == ["missing", "missing"]
    assert (fgsm.image, fgsm.perturbation, fgsm.verdicts) == (None, None, [])


def test_no_gallery_without_the_dataset(builder: Builder) -> None:
    b = builder(dataset_dir="/nonexistent/dataset")
    full_run(b)
    assert gallery(load_run(b.root)) == []


def test_amplified_maps_the_eps_ball_onto_full_contrast() -> None:
    clean = np.full((1, 1, 3), 100, dtype=np.uint8)
    adv = np.array([[[96, 100, 104]]], dtype=np.uint8)
    assert _amplified(adv, clean, 4).tolist() == [[[0, 128, 255]]]
