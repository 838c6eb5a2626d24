"""The entries of a test round (``mode = "uploads"``) as ordinary roster entries, so the existing
engine runs and scores them like any other: an attack that answers each clean image with the image a
team uploaded for it, and a defense that answers each image with the label a team gave it.

Images are matched by content (:func:`image_key`, a hash of the pixels), not by name: the engine hands
pieces pixels, and released images carry opaque ids. Imported as a plugin (``plugins``) by the engine
and by every worker of an uploads round; it imports no server code, so workers stay small."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from advengine.attacks import ATTACKS, Attack, from_model_output, to_model_input
from advengine.defenses import DEFENSES, Defense
from advengine.kernels import read_png_batch
from advengine.params import Params
from advengine.types import ImagesF32, ImagesU8, Labels

PLUGIN = "advengine.server.uploaded"
IMAGES, TARGETED_IMAGES, LABELS = "uploaded-images", "uploaded-targeted-images", "uploaded-labels"


def image_key(image: ImagesU8) -> str:
    """Identifies one uint8 [h, w, 3] image by its pixels."""
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:32]


class UploadedParams(Params):
    #: Attacks: the directory of ``<image_key of the clean image>.png``; defenses: a JSON file
    #: ``{image_key: label}``.
    path: str = ""


class UploadedImages(Attack[UploadedParams]):
    """Each clean image replaced by its uploaded image; an image the team did not upload (or whose
    upload broke the ε rule and was refused) stays clean: the attack did nothing there."""

    name = IMAGES
    params_type = UploadedParams

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        out = x.copy()
        for k, clean in enumerate(from_model_output(x)):
            path = Path(self.params.path) / f"{image_key(clean)}.png"
            if path.is_file():
                out[k] = to_model_input(read_png_batch([path], strict=True))[0]
        return out


class UploadedLabels(Defense[UploadedParams]):
    """The team's label of each image (0, always wrong, where it gave none)."""

    name = LABELS
    params_type = UploadedParams

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        table: dict[str, int] = json.loads(Path(self.params.path).read_text(encoding="utf-8"))
        return np.array([table.get(image_key(img), 0) for img in images], dtype=np.int64)


if IMAGES not in ATTACKS.names():  # a plugin may be imported twice (engine, config checks)
    ATTACKS.register(UploadedImages)
    ATTACKS.register_preset(TARGETED_IMAGES, UploadedImages, track="targeted")
    DEFENSES.register(UploadedLabels)

__all__ = ["IMAGES", "LABELS", "PLUGIN", "TARGETED_IMAGES", "UploadedParams", "image_key"]
