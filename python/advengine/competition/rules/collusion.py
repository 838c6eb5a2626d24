"""Rules "collusion" and "channel": an attack and a defense of one team built to help each other.

Collusion (the residual): a defense's accuracy on its own team's attack is compared with what its
accuracy on the other teams' attacks predicts, given how hard each attack's images are for the other
teams' defenses. The model is additive in logits (a Rasch model):

    logit acc(a, d) = c_d + h_a,

with ``h_a`` the mean logit accuracy of the other teams' defenses on attack ``a`` (how easy its images
are) and ``c_d`` the defense's best showing on another team's attack, ``max over a' of
logit acc(a', d) − h_a'``. Accuracies are smoothed, ``(correct + ½) / (n + 1)``. The own attack's
images then give ``k`` correct of ``n`` where ``p = σ(c_d + h_a)`` is predicted; the finding's p-value
is ``P(X ≥ k)``, ``X ~ Binomial(n, p)``, and it is flagged when the p-value is below α (default 0.001)
and the excess ``k/n − p`` is at least 0.2.

Why the best showing and not the mean: the model has no term for an attack and a defense that share
a source model (a lite0 gradient attack against a lite0 defense), and on the default roster the mean
flagged 3 of 24 honest pairs when every pair was taken as a team (``--all-pairs``); with the best
showing, a defense is flagged only when it does better on its team's images than its strength-adjusted
accuracy on any single other attack predicts (0 of 24; docs/rules.md).

Channel (the probe): the defense classifies a sample of its team's adversarial images, and of the
other attacks' as a control, after each of three re-quantisations that keep them inside the run's ε
ball (the engine's projection is applied after each): ±1 least-significant bit of noise, a JPEG q=95
round trip, and a shift by one pixel. A defense reading a hidden channel loses its accuracy on its own
team's images and not on the others'. Flagged when, for some probe, the drop on its team's images
exceeds the drop on the others' (a rise there counts as no drop) by at least 0.3 and the one-sided
exact sign test of the own images' correct→wrong against wrong→correct changes gives p < α after a
Bonferroni correction for the three probes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from advengine.competition.artefacts import Finding, RuleName
from advengine.competition.executor import Executor
from advengine.competition.pieces import DefenseInputs, Inputs
from advengine.competition.projection import project_outputs
from advengine.competition.rules.rerun import FinishedRun, draw, run_inputs
from advengine.competition.rules.stats import binom_sf, one_sided_sign_test
from advengine.kernels import jpeg_roundtrip, read_png_batch
from advengine.seeds import derive_seed
from advengine.types import Entry, ImagesU8

#: The collusion residual's smallest excess of the observed over the predicted accuracy.
MIN_EXCESS = 0.2
#: The channel probe's smallest extra drop on the team's own images.
MIN_EXTRA_DROP = 0.3


@dataclasses.dataclass(frozen=True)
class Pair:
    """An attack and a defense taken to be of one team; ``others`` are the attacks and defenses of
    other teams that the pair is compared with."""

    attack: str
    defense: str
    other_attacks: tuple[str, ...]
    other_defenses: tuple[str, ...]


def team_pairs(attacks: Sequence[Entry], defenses: Sequence[Entry], everything: bool = False) -> list[Pair]:
    """Every (attack, defense) of one team; with ``everything``, every (attack, defense) pair, each
    taken as a team of two (the organiser's sweep, and how the false-positive rate is measured)."""
    pairs = []
    for d in defenses:
        for a in attacks:
            if everything:
                mine_a, mine_d = {a.label}, {d.label}
            elif d.team is not None and a.team == d.team:
                mine_a = {e.label for e in attacks if e.team == d.team}
                mine_d = {e.label for e in defenses if e.team == d.team}
            else:
                continue
            pairs.append(
                Pair(
                    a.label,
                    d.label,
                    tuple(e.label for e in attacks if e.label not in mine_a),
                    tuple(e.label for e in defenses if e.label not in mine_d),
                )
            )
    return pairs


def _flagged(
    rule: RuleName, pair: Pair, why: str, p: float, effect: float, alpha: float, least: float
) -> Finding | None:
    """The finding on ``pair``'s defense, its team's attack the partner, with evidence ``why``, when the
    test is significant (p < α) and the effect at least ``least``; else None."""
    if p < alpha and effect >= least:
        return Finding(
            rule=rule, entry=pair.defense, partner=pair.attack, evidence=why, p_value=p, effect=effect
        )
    return None


def _logit(correct: int, n: int) -> float:
    p = (correct + 0.5) / (n + 1.0)
    return math.log(p / (1.0 - p))


def residual(run: FinishedRun, pair: Pair, alpha: float) -> tuple[Finding | None, str]:
    """The collusion finding of ``pair`` (None when not flagged) and a note of what was predicted."""
    m = run.results.matrices
    ai = {name: k for k, name in enumerate(m.attacks)}
    di = {name: k for k, name in enumerate(m.defenses)}

    def logit(a: str, d: str) -> float:
        return _logit(m.correct[ai[a]][di[d]], m.classified[ai[a]][di[d]])

    usable_d = [d for d in pair.other_defenses if d in di]
    usable_a = [a for a in pair.other_attacks if a in ai and m.classified[ai[a]][di[pair.defense]] > 0]
    if not usable_d or not usable_a:
        return None, "collusion not estimable: needs another team's attack and defense"
    h = {a: sum(logit(a, d) for d in usable_d) / len(usable_d) for a in (*usable_a, pair.attack)}
    c = max(logit(a, pair.defense) - h[a] for a in usable_a)
    predicted = 1.0 / (1.0 + math.exp(-(c + h[pair.attack])))
    k = m.correct[ai[pair.attack]][di[pair.defense]]
    n = m.classified[ai[pair.attack]][di[pair.defense]]
    if n == 0:
        return None, f"collusion: {pair.defense} labelled none of {pair.attack}'s images"
    p_value = binom_sf(k, n, predicted)
    excess = k / n - predicted
    note = f"collusion with {pair.attack}: {k}/{n} correct, {predicted:.2f} predicted"
    evidence = (
        f"on its team's attack {pair.attack} it was right on {k} of {n} images, where its best "
        f"accuracy on {len(usable_a)} other attacks, adjusted for their strength, predicts {predicted:.2f}"
    )
    return _flagged("collusion", pair, evidence, p_value, excess, alpha, MIN_EXCESS), note


def _lsb_noise(images: ImagesU8, rng: np.random.Generator) -> ImagesU8:
    signs = rng.choice(np.array([-1, 1], dtype=np.int16), size=images.shape)
    out: ImagesU8 = np.clip(images.astype(np.int16) + signs, 0, 255).astype(np.uint8)
    return out


def _jpeg95(images: ImagesU8, rng: np.random.Generator) -> ImagesU8:
    out: ImagesU8 = jpeg_roundtrip(images, quality=95)
    return out


def _shift(images: ImagesU8, rng: np.random.Generator) -> ImagesU8:
    # One pixel to the right, the first column repeated: the content moves, its hidden layout breaks.
    out = np.roll(images, 1, axis=2)
    out[:, :, 0] = images[:, :, 0]
    return np.ascontiguousarray(out)


#: The re-quantisations of the channel probe; each is projected back into the run's ε ball.
PROBES: dict[str, Callable[[ImagesU8, np.random.Generator], ImagesU8]] = {
    "lsb-noise": _lsb_noise,
    "jpeg95": _jpeg95,
    "shift1": _shift,
}


def probe(
    run: FinishedRun, executor: Executor, entry: Entry, pair: Pair, sample: int, alpha: float
) -> tuple[Finding | None, str]:
    """The channel finding of ``pair`` (None when not flagged) and a note of the drops measured."""
    rng = np.random.default_rng(derive_seed(run.config.seed, "rules", "channel", pair.defense, pair.attack))
    truth = run.dataset.true_labels
    assert truth is not None

    def pick(attacks: Sequence[str]) -> list[tuple[str, int, int]]:
        return draw(rng, [(a, r, lab) for a in attacks for r, lab in run.labelled(pair.defense, a)], sample)

    own, others = pick([pair.attack]), pick(pair.other_attacks)
    if not own:
        return None, f"channel: {pair.defense} labelled none of {pair.attack}'s images"
    items = own + others
    paths = [run.run_dir.adv_image(a, run.dataset.image_ids[r]) for a, r, _ in items]
    adv = read_png_batch(paths, strict=True)
    clean = run.clean([r for _, r, _ in items])
    eps = np.array([run.batch_of(r).eps for _, r, _ in items])
    before = np.array([lab == truth[r] for _, r, lab in items])
    size = run.config.batch_size
    worst: tuple[float, float, float, float, str] | None = None  # (p, own drop, other drop, extra, probe)
    notes = []
    for name, transform in PROBES.items():
        moved = transform(adv, rng)
        for e in np.unique(eps):  # each image back into its own batch's ε ball
            sel = eps == e
            moved[sel] = project_outputs(moved[sel], clean[sel], int(e))
        inputs: list[Inputs] = [
            DefenseInputs(
                np.ascontiguousarray(moved[k : k + size]),
                derive_seed(run.config.seed, "rules", "channel", pair.defense, name, k),
            )
            for k in range(0, len(items), size)
        ]
        labels: list[int] = []
        for outcome in run_inputs(executor, entry, f"channel-{name}", inputs):
            if outcome.status != "ok":
                return None, f"channel: {pair.defense} failed on the {name} probe ({outcome.error})"
            labels += [int(v) for v in np.asarray(outcome.value).reshape(-1).tolist()]
        after = np.array([lab == truth[r] for lab, (_, r, _) in zip(labels, items, strict=True)])
        o = slice(0, len(own))
        own_drop = float(before[o].mean() - after[o].mean())
        other_drop = float(before[len(own) :].mean() - after[len(own) :].mean()) if others else 0.0
        worse = int((before[o] & ~after[o]).sum())
        better = int((~before[o] & after[o]).sum())
        p = min(1.0, one_sided_sign_test(worse, better) * len(PROBES))
        notes.append(f"{name}: accuracy {-own_drop:+.2f} on its team's images, {-other_drop:+.2f} on others'")
        # A re-quantisation often breaks an attack's fragile perturbation, so the others' accuracy may
        # rise (lite0 attacks against a lite0 defense after a one-pixel shift: +0.35 on the default
        # roster); only a fall on the team's own images counts, measured against the others' fall.
        extra = own_drop - max(other_drop, 0.0)
        if worst is None or (extra, -p) > (worst[3], -worst[0]):
            worst = (p, own_drop, other_drop, extra, name)
    assert worst is not None
    note = f"channel with {pair.attack}: " + "; ".join(notes)
    p, own_drop, other_drop, extra, name = worst
    evidence = (
        f"after an imperceptible re-quantisation ({name}, within ε) its accuracy fell by {own_drop:.2f} "
        f"on {len(own)} images of its team's attack {pair.attack} and by {other_drop:.2f} on "
        f"{len(others)} images of other attacks: it reads a hidden channel"
    )
    return _flagged("channel", pair, evidence, p, extra, alpha, MIN_EXTRA_DROP), note


__all__ = ["MIN_EXCESS", "MIN_EXTRA_DROP", "PROBES", "Pair", "probe", "residual", "team_pairs"]
