"""Rule "test-round": results uploaded for a test round (the server's upload mode) that the entry's
code could not have made.

- :func:`check_uploaded_labels`: a defense's uploaded label CSV is compared with the true labels. It
  is flagged when it is right on so many images that even the best accuracy any submitted defense's
  code reached on the same images makes that count improbable: ``P(X ≥ k) < α`` for
  ``X ~ Binomial(n, best)``, and ``k/n − best ≥ margin``.
- :func:`check_clean_copies`: an attack's uploaded images are compared with the clean ones. The no-op
  baseline is the one entry that returns clean copies; an attack whose share of exact clean copies
  exceeds the baseline share allowed (``allowed``, default 0: the other baselines make none) by more
  than ``margin`` is flagged.

Both are plain functions of arrays and mappings, so the server calls them without a run directory.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from advengine.competition.artefacts import Finding
from advengine.competition.rules.stats import binom_sf
from advengine.errors import DatasetError
from advengine.types import ImagesU8


def read_label_csv(path: Path) -> dict[str, int]:
    """An uploaded defense output: ``ImageId,Label`` rows (NIPS 2017's ``<image>.png,<label>``; a
    header row and the ``.png`` suffix are optional)."""
    out: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the label CSV ({exc})") from None
    for n, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or (n == 1 and not row[-1].strip().lstrip("-").isdigit()):
            continue  # blank line or header
        if len(row) != 2 or not row[1].strip().lstrip("-").isdigit():
            raise DatasetError(f"{path}: line {n} is not 'ImageId,Label'; fix the file")
        out[row[0].strip().removesuffix(".png")] = int(row[1])
    return out


def check_uploaded_labels(
    entry: str,
    uploaded: Mapping[str, int],
    truth: Mapping[str, int],
    defense_accuracies: Mapping[str, float],
    *,
    alpha: float = 1e-3,
    margin: float = 0.05,
) -> Finding | None:
    """The finding for ``entry``'s uploaded labels (ImageId → label) against ``truth`` (ImageId →
    true label), given the accuracies the submitted defenses' code reached on the same images when
    the engine ran it (``defense_accuracies``, by entry name, in [0, 1]); None when it is plausible.
    An image the upload leaves out counts as wrong."""
    if not truth:
        raise DatasetError("no true labels to check the upload against")
    if not defense_accuracies:
        raise DatasetError("no defense accuracies to compare the upload with; run the defenses first")
    n = len(truth)
    k = sum(uploaded.get(image_id) == label for image_id, label in truth.items())
    best_name, best = max(defense_accuracies.items(), key=lambda kv: kv[1])
    p_value = binom_sf(k, n, min(max(best, 0.0), 1.0))
    if p_value < alpha and k / n - best >= margin:
        return Finding(
            rule="test-round",
            entry=entry,
            evidence=(
                f"the uploaded labels are right on {k} of {n} images ({k / n:.2f}); the best any submitted "
                f"defense's code reached on them is {best:.2f} ({best_name})"
            ),
            p_value=p_value,
            effect=k / n - best,
        )
    return None


def check_clean_copies(
    entry: str, adversarial: ImagesU8, clean: ImagesU8, *, allowed: float = 0.0, margin: float = 0.1
) -> Finding | None:
    """The finding for ``entry``'s uploaded adversarial images when more of them than ``allowed +
    margin`` are exact copies of their clean images (the no-op baseline's answer); None otherwise."""
    if adversarial.shape != clean.shape:
        raise DatasetError(f"{entry}: {adversarial.shape} adversarial images for {clean.shape} clean ones")
    n = len(clean)
    if n == 0:
        return None
    copies = int((adversarial.reshape(n, -1) == clean.reshape(n, -1)).all(axis=1).sum())
    share = copies / n
    if share > allowed + margin:
        return Finding(
            rule="test-round",
            entry=entry,
            evidence=(
                f"{copies} of {n} uploaded adversarial images are exact copies of the clean images "
                f"(the no-op baseline's answer; {allowed:.2f} allowed)"
            ),
            effect=share - allowed,
        )
    return None


__all__ = ["check_clean_copies", "check_uploaded_labels", "read_label_csv"]
