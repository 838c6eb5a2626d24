"""The strength ranking (``ranking = "strength"``; issue 27, the report's footnote on a PageRank-like
analysis): an attack's points count more when they come against defenses that stop most attacks, and
a defense's more when they come against attacks that beat most defenses.

Over the used attacks ``a`` and used defenses ``d`` (EVALINFRA's exclusion rules), with ``n`` images
a cell, the smoothed rates are

    L[a, d] = (correct[a, d] + ½) / (n + 1)       (the defense stopped the attack)
    W[a, d] = (success[a, d] + ½) / (n + 1)       (the attack won: an error, or a target hit)

and a walker moves from an attack to the defenses that stopped it, and from a defense to the attacks
that beat it, in proportion to those rates:

    P_AD[a, d] = L[a, d] / Σ_d' L[a, d'],        P_DA[d, a] = W[a, d] / Σ_a' W[a', d].

Like a page's PageRank, an entry's strength is the share of time the walker spends on it: the attacks'
strengths ``s_A`` are the stationary distribution of the two-step chain ``M = P_AD P_DA``
(``s_A = s_A M``, ``Σ s_A = 1``), and the defenses' are ``s_D = s_A P_AD`` (``Σ s_D = 1``). An attack
gains when the defenses it beats are where the walker often is, i.e. defenses that stop most attacks.
The smoothing keeps every rate positive, so ``M`` is positive and its stationary distribution unique.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from advengine.competition.scoring import Aggregate

F64 = npt.NDArray[np.float64]


def stationary(m: F64, tol: float = 1e-13, max_steps: int = 100_000) -> F64:
    """The stationary distribution of the row-stochastic, positive matrix ``m`` (power iteration)."""
    k = m.shape[0]
    s = np.full(k, 1.0 / k)
    for _ in range(max_steps):
        nxt = s @ m
        nxt /= nxt.sum()
        if np.abs(nxt - s).max() < tol:
            return nxt
        s = nxt
    return s


def strengths(correct: F64, success: F64, classified: F64) -> tuple[F64, F64]:
    """(attack strengths, defense strengths), each summing to 1, for ``[attack, defense]`` counts of
    correct labels, attack successes and images labelled."""
    n_att, n_def = correct.shape
    if n_att == 0 or n_def == 0:
        return np.full(n_att, np.nan), np.full(n_def, np.nan)
    lost = (correct + 0.5) / (classified + 1.0)
    won = (success + 0.5) / (classified + 1.0)
    p_ad = lost / lost.sum(axis=1, keepdims=True)
    p_da = (won / won.sum(axis=0, keepdims=True)).T
    s_att = stationary(p_ad @ p_da)
    s_def: F64 = s_att @ p_ad
    return s_att, s_def / s_def.sum()


def strength_of(agg: Aggregate, is_targeted: npt.NDArray[np.bool_]) -> tuple[F64, F64]:
    """Strengths of every attack and defense of a run (NaN for the excluded ones, which the walk
    leaves out as EVALINFRA's rules leave them out of the scores)."""
    att, dfn = np.asarray(agg.attacks_used, bool), np.asarray(agg.defenses_used, bool)
    success = np.where(is_targeted[:, None], agg.hit, agg.error).astype(np.float64)
    sub = np.ix_(att, dfn)
    s_att, s_def = strengths(
        agg.correct.astype(np.float64)[sub], success[sub], agg.classified.astype(np.float64)[sub]
    )
    out_att, out_def = np.full(len(att), np.nan), np.full(len(dfn), np.nan)
    out_att[att], out_def[dfn] = s_att, s_def
    return out_att, out_def


__all__ = ["stationary", "strength_of", "strengths"]
