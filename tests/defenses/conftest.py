"""The defense tests reuse the attack tests' real-model fixtures (sample images, zoo classifiers)."""

from __future__ import annotations

from ..attacks.conftest import logits_of, sample8, true_label_ce, zoo

__all__ = ["logits_of", "sample8", "true_label_ce", "zoo"]
