"""The exact tests the rule checks use: binomial tails and the sign test (McNemar's exact test is the
sign test on the discordant pairs). Exact, so they hold on the small samples a check re-runs."""

from __future__ import annotations

import math


def _log_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return min(1.0, sum(math.exp(_log_pmf(j, n, p)) for j in range(k, n + 1)))


def sign_test(up: int, down: int) -> float:
    """Two-sided exact sign test: the p-value of ``up`` against ``down`` changes (ties dropped) when
    each change is up or down with probability ½."""
    n = up + down
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binom_sf(max(up, down), n, 0.5))


def one_sided_sign_test(worse: int, better: int) -> float:
    """P(≥ ``worse`` of ``worse + better`` changes are for the worse) when both are equally likely."""
    return binom_sf(worse, worse + better, 0.5)


__all__ = ["binom_sf", "one_sided_sign_test", "sign_test"]
