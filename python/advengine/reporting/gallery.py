"""The gallery: a handful of images, each clean and as every attack left it, with the amplified
perturbation and the label every defense gave. Images are downscaled and inlined as JPEG data URIs,
so the page stays one small file."""

from __future__ import annotations

import base64
import dataclasses
import io

import numpy as np
import numpy.typing as npt
from PIL import Image

from advengine.competition.state import RunDir
from advengine.errors import ImageError
from advengine.kernels import read_png_batch
from advengine.reporting.classnames import class_name
from advengine.reporting.rundir import RunView

#: Thumbnail side in pixels (the page shows them at this size; the originals are 299).
SIDE = 140
#: How many images the gallery shows.
IMAGES = 4


@dataclasses.dataclass(frozen=True)
class Verdict:
    defense: str
    label: int | None
    name: str
    #: "correct" (the true class), "target" (the attack's target), "wrong", or "missing" (no label).
    outcome: str


@dataclasses.dataclass(frozen=True)
class Tile:
    """One row of an image's card: the clean image or one attack's version of it."""

    attack: str
    track: str
    image: str | None
    perturbation: str | None
    linf: int | None
    verdicts: list[Verdict]


@dataclasses.dataclass(frozen=True)
class Item:
    image_id: str
    eps: int
    true_label: int
    true_name: str
    target_label: int
    target_name: str
    rows: list[Tile]


def _data_uri(pixels: npt.NDArray[np.uint8], resample: Image.Resampling) -> str:
    img = Image.fromarray(pixels).resize((SIDE, SIDE), resample)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _amplified(adv: npt.NDArray[np.uint8], clean: npt.NDArray[np.uint8], eps: int) -> npt.NDArray[np.uint8]:
    """adv − clean mapped from [−ε, ε] onto the full 0..255 range (grey = unchanged)."""
    delta = adv.astype(np.float32) - clean.astype(np.float32)
    out: npt.NDArray[np.uint8] = np.clip(np.rint(127.5 + delta * (127.5 / max(eps, 1))), 0, 255).astype(
        np.uint8
    )
    return out


def _picks(view: RunView) -> list[int]:
    """Up to :data:`IMAGES` image indices, taken round-robin over the batches so every ε shows."""
    assert view.truth is not None
    batches, picks = view.truth.batches, []
    for k in range(IMAGES * len(batches)):
        b = batches[k % len(batches)]
        i = b.start + k // len(batches)
        if i < b.stop:
            picks.append(i)
        if len(picks) == IMAGES:
            break
    return picks


def _verdicts(view: RunView, labels: npt.NDArray[np.int64], i: int) -> list[Verdict]:
    assert view.truth is not None
    true, target = int(view.truth.true_labels[i]), int(view.truth.target_classes[i])
    out = []
    for d, label in zip(view.defenses, labels.tolist(), strict=True):
        if label < 0:
            out.append(Verdict(d.label, None, "no label", "missing"))
            continue
        outcome = "correct" if label == true else ("target" if label == target else "wrong")
        out.append(Verdict(d.label, label, class_name(label), outcome))
    return out


def gallery(view: RunView) -> list[Item]:
    """The gallery's cards (empty when the dataset is not at hand)."""
    if view.truth is None or view.predictions is None or view.clean_predictions is None:
        return []
    run, truth, items = RunDir(view.root), view.truth, []
    eps_of = truth.image_eps
    for i in _picks(view):
        clean = truth.dataset.read_images(i, i + 1)[0]
        image_id, eps = truth.dataset.image_ids[i], int(eps_of[i])
        rows = [
            Tile(
                "clean",
                "clean",
                _data_uri(clean, Image.Resampling.LANCZOS),
                None,
                None,
                _verdicts(view, view.clean_predictions[:, i], i),
            )
        ]
        for a, attack in enumerate(view.attacks):
            path = run.adv_image(attack.label, image_id)
            if not path.is_file():
                rows.append(Tile(attack.label, attack.track, None, None, None, []))
                continue
            try:
                adv = read_png_batch([path], strict=True)[0]
            except ImageError as exc:
                raise ImageError(
                    f"report: {' '.join(str(exc).split())[:200]}; the run dir is damaged "
                    f"(`advengine verify {view.root}` lists every damaged piece, `advengine eval --resume` "
                    "redoes them)"
                ) from None
            linf = int(np.abs(adv.astype(np.int16) - clean.astype(np.int16)).max())
            rows.append(
                Tile(
                    attack.label,
                    attack.track,
                    _data_uri(adv, Image.Resampling.LANCZOS),
                    # Nearest keeps the perturbation's texture; averaging would wash it out to grey.
                    _data_uri(_amplified(adv, clean, eps), Image.Resampling.NEAREST),
                    linf,
                    _verdicts(view, view.predictions[a, :, i], i),
                )
            )
        true, target = int(truth.true_labels[i]), int(truth.target_classes[i])
        items.append(Item(image_id, eps, true, class_name(true), target, class_name(target), rows))
    return items


__all__ = ["IMAGES", "SIDE", "Item", "Tile", "Verdict", "gallery"]
