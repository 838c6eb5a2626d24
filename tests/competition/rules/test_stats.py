"""The exact tests, against values worked out by hand."""

from __future__ import annotations

import pytest

from advengine.competition.rules.stats import binom_sf, one_sided_sign_test, sign_test


def test_binom_sf_by_hand() -> None:
    # P(X ≥ 2 | n=3, p=½) = (3 + 1) / 8.
    assert binom_sf(2, 3, 0.5) == pytest.approx(0.5)
    # P(X ≥ 3 | n=3, p=0.1) = 0.001.
    assert binom_sf(3, 3, 0.1) == pytest.approx(1e-3)
    assert binom_sf(0, 5, 0.3) == 1.0
    assert binom_sf(6, 5, 0.3) == 0.0
    assert binom_sf(1, 4, 0.0) == 0.0
    assert binom_sf(4, 4, 1.0) == pytest.approx(1.0)


def test_sign_tests_by_hand() -> None:
    # 5 changes all one way: 2 · (1/2)^5 = 1/16.
    assert sign_test(5, 0) == pytest.approx(1 / 16)
    assert sign_test(0, 5) == pytest.approx(1 / 16)
    assert sign_test(2, 2) == 1.0
    assert sign_test(0, 0) == 1.0
    # 10 for the worse of 10: (1/2)^10.
    assert one_sided_sign_test(10, 0) == pytest.approx(2**-10)
    assert one_sided_sign_test(0, 10) == 1.0
