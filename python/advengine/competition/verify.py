"""What ``--resume`` checks before it trusts a stored piece.

A record is a claim about a piece: its status, its images or labels, their hashes. A resumed run
scores what the records say, so each one is checked against the batch it belongs to and against the
files it vouches for; a piece that fails a check is redone (the engine prints one warning line with
the reason these functions return), so a changed file can never change the scores silently.

- attack records: the piece id and ε of the batch; image ids that are this batch's, in order, once
  each; a failed piece lists no images; an ``ok`` piece's PNGs decode and hash to ``output_hash``
  (so a modified or truncated PNG redoes the attack piece instead of failing every defense on it),
  and every one lies inside the batch's ε-ball around its clean image (the organiser's projection
  leaves it unchanged: a record whose hash was recomputed over images from outside the ball fails);
- every record and run.json: its HMAC (checked where it is read, by
  :class:`~advengine.competition.state.RunDir`);
- defense records: the piece id; exactly the image ids the piece classifies; a failed piece has no
  labels; an ``ok`` piece has one label per image, each MISSING (−1) or 0..1000, hashing to
  ``output_hash``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from advengine.competition.artefacts import (
    AttackRecord,
    DefenseRecord,
    PieceId,
    labels_hash,
    pixels_hash,
)
from advengine.competition.projection import outside_eps
from advengine.competition.scoring import MISSING
from advengine.errors import AdvEngineError

#: The largest label a defense may give (TF-Slim: 1..1000, 0 = background).
MAX_LABEL = 1000

ReadImages = Callable[[list[str]], npt.NDArray[np.uint8]]


def _in_batch_order(ids: Sequence[str], batch_ids: Sequence[str]) -> bool:
    where = {image_id: k for k, image_id in enumerate(batch_ids)}
    positions = [where.get(i, -1) for i in ids]
    return -1 not in positions and all(a < b for a, b in itertools.pairwise(positions))


def attack_problem(
    rec: AttackRecord,
    piece: PieceId,
    batch_ids: Sequence[str],
    eps: int,
    read: ReadImages,
    clean: ReadImages,
) -> str | None:
    """Why the stored attack piece cannot be trusted, or None. ``read`` loads its stored PNGs and
    ``clean`` the clean images of the same ids."""
    if rec.piece != str(piece):
        return f"its record is that of piece {rec.piece!r}"
    if rec.eps != eps:
        return f"its record says ε = {rec.eps}, the batch has ε = {eps}"
    if not _in_batch_order(rec.image_ids, batch_ids):
        return "its record lists images that are not this batch's"
    if rec.status != "ok":
        return "its record of a failed piece lists images" if rec.image_ids or rec.output_hash else None
    if not rec.image_ids:
        return None
    try:
        images = read(list(rec.image_ids))
    except AdvEngineError as exc:
        return f"a stored adversarial image cannot be read ({' '.join(str(exc).split())[:160]})"
    if pixels_hash(images) != rec.output_hash:
        return "its stored adversarial images do not match the hash recorded when they were written"
    outside = outside_eps(images, clean(list(rec.image_ids)), eps)
    if outside:
        first = rec.image_ids[outside[0]]
        return f"{len(outside)} stored adversarial images lie outside the ε = {eps} ball (first: {first})"
    return None


def defense_problem(rec: DefenseRecord, piece: PieceId, image_ids: Sequence[str]) -> str | None:
    """Why the stored defense piece cannot be trusted, or None. ``image_ids``: what it classifies."""
    if rec.piece != str(piece):
        return f"its record is that of piece {rec.piece!r}"
    if list(rec.image_ids) != list(image_ids):
        return "its record lists other images than the piece classifies"
    if rec.status != "ok":
        return "its record of a failed piece has labels" if rec.labels is not None else None
    if rec.labels is None or len(rec.labels) != len(image_ids):
        given = 0 if rec.labels is None else len(rec.labels)
        return f"its record has {given} labels for {len(image_ids)} images"
    bad = [v for v in rec.labels if not MISSING <= v <= MAX_LABEL]
    if bad:
        return f"its record has the label {bad[0]}, outside {MISSING}..{MAX_LABEL}"
    if rec.output_hash != labels_hash(rec.labels):
        return "its labels do not match the hash recorded when they were written"
    return None


__all__ = ["MAX_LABEL", "attack_problem", "defense_problem"]
