"""The one seeding scheme: every random draw comes from a seed derived from the user's seed and the
identity of what draws (a competition piece, an ε schedule, a batch of ``advengine attack``).

Derivation hashes, so a seed is stable across runs and processes (unlike ``hash``), independent of
the order work is done in, and unrelated for neighbouring identities (unlike ``seed * k + index``).
"""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from ``seed`` and the parts that name the draw, e.g. ("attack", "fgsm", 3)."""
    text = "/".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


__all__ = ["derive_seed"]
