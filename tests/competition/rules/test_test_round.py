"""The test-round rule's two functions, for the server's upload mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advengine.competition.rules import check_clean_copies, check_uploaded_labels, read_label_csv
from advengine.errors import DatasetError

TRUTH = {f"img{k:03d}": 1 + k % 7 for k in range(100)}


def _upload(right: int) -> dict[str, int]:
    """An upload right on the first ``right`` images and wrong (label 999) on the rest."""
    return {i: (label if k < right else 999) for k, (i, label) in enumerate(TRUTH.items())}


def test_an_upload_far_better_than_any_defense_is_flagged() -> None:
    # 98 of 100 right where the best defense's code reached 0.60: P(X ≥ 98 | n=100, p=0.6) is ~1e-19.
    f = check_uploaded_labels("team-x", _upload(98), TRUTH, {"a": 0.55, "b": 0.60})
    assert f is not None
    assert (f.rule, f.entry) == ("test-round", "team-x")
    assert f.p_value is not None
    assert f.p_value < 1e-15
    assert f.effect == pytest.approx(0.38)
    assert "best any submitted defense's code reached on them is 0.60 (b)" in f.evidence


def test_a_plausible_upload_is_not_flagged() -> None:
    # 63 of 100 against a best of 0.60: P(X ≥ 63) ≈ 0.31, an ordinary draw.
    assert check_uploaded_labels("team-x", _upload(63), TRUTH, {"a": 0.60}) is None
    # Far below the best: nothing to flag either.
    assert check_uploaded_labels("team-x", _upload(10), TRUTH, {"a": 0.60}) is None


def test_a_missing_image_counts_as_wrong() -> None:
    upload = _upload(100)
    del upload["img000"]
    f = check_uploaded_labels("team-x", upload, TRUTH, {"a": 0.5})
    assert f is not None
    assert "right on 99 of 100" in f.evidence


def test_uploads_need_truth_and_defenses() -> None:
    with pytest.raises(DatasetError, match="run the defenses first"):
        check_uploaded_labels("t", {}, TRUTH, {})
    with pytest.raises(DatasetError, match="no true labels"):
        check_uploaded_labels("t", {}, {}, {"a": 0.5})


def test_read_label_csv(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text("ImageId,Label\nimg000.png,1\nimg001,2\n\n")
    assert read_label_csv(p) == {"img000": 1, "img001": 2}
    p.write_text("img000.png,1\nimg001.png,one\n")
    with pytest.raises(DatasetError, match="line 2 is not 'ImageId,Label'"):
        read_label_csv(p)
    with pytest.raises(DatasetError, match="cannot read"):
        read_label_csv(tmp_path / "missing.csv")


def test_clean_copies() -> None:
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, size=(10, 4, 4, 3), dtype=np.uint8)
    adv = clean.copy()
    adv[:8] ^= 1  # 8 of 10 perturbed, 2 clean copies: 0.2 > 0 + 0.1
    f = check_clean_copies("lazy", adv, clean)
    assert f is not None
    assert f.effect == pytest.approx(0.2)
    assert "2 of 10 uploaded adversarial images are exact copies" in f.evidence
    adv[:9] = clean[:9] ^ 1  # one copy: 0.1 is not beyond the margin
    assert check_clean_copies("fine", adv, clean) is None
    # The no-op baseline itself is allowed every copy.
    assert check_clean_copies("noop", clean, clean, allowed=1.0) is None
    with pytest.raises(DatasetError, match="adversarial images for"):
        check_clean_copies("bad", adv[:3], clean)
