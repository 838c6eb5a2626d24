"""Rule "stateless": each classifier and attack must be stateless and act one image at a time.

The entry runs again on a sample of the images it saw in the run, laid out as it never saw them:
each image alone (twice, the second time in the reverse order and with the same seeds, and once
more with other seeds), then shuffled into batches of another size. Per image, the re-runs are
compared with what the entry answered in the run (docs/rules.md):

- an entry whose answers for an image alone do not depend on its seed is deterministic, and every
  layout must give the run's answer exactly (labels; for attacks, the projected images);
- an entry that declares itself random (a defense's ``randomized``), or whose answers change with
  the seed, is random: then the answers need only agree in distribution, by an exact two-sided sign
  test (McNemar's test on correct/incorrect for defenses, the sign test on the per-image mean
  perturbation for attacks) between the run and each layout, Bonferroni-corrected;
- a built-in entry that answers one image alone, with the same seed, twice differently, remembers
  what it saw before: flagged whatever else holds;
- a submission gets no seed, so whether it is random cannot be probed: one whose answers all match
  the run's is deterministic, one whose answers change is judged in distribution.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from advengine.competition.artefacts import Finding
from advengine.competition.config import component
from advengine.competition.executor import Executor
from advengine.competition.pieces import AttackInputs, DefenseInputs, Inputs
from advengine.competition.projection import missing_mask, project_outputs
from advengine.competition.rules.rerun import FinishedRun, draw, run_inputs
from advengine.competition.rules.stats import sign_test
from advengine.errors import AdvEngineError
from advengine.kernels import read_png_batch
from advengine.seeds import derive_seed
from advengine.types import CLEAN, BuiltinEntry, Entry

#: The batch size of the "shuffled" layout: prime, so it matches no usual batch size.
ODD_BATCH = 7


@dataclasses.dataclass(frozen=True)
class Layout:
    """One way of running the sample: an order (indices into the sample), a batch size and a seed
    salt (the same salt gives the same seeds to the same images)."""

    name: str
    order: list[int]
    batch: int
    salt: str


def layouts(n: int, rng: np.random.Generator) -> list[Layout]:
    alone = [int(i) for i in rng.permutation(n)]
    return [
        Layout("alone", alone, 1, "alone"),
        Layout("alone-again", alone[::-1], 1, "alone"),
        Layout("alone-reseeded", alone, 1, "reseeded"),
        Layout(f"shuffled-b{min(ODD_BATCH, n)}", [int(i) for i in rng.permutation(n)], ODD_BATCH, "odd"),
        Layout(f"shuffled-b{n}", [int(i) for i in rng.permutation(n)], max(n, 1), "whole"),
    ]


#: The layouts compared with the run (the other two only tell whether the entry is reproducible).
COMPARED = (0, 3, 4)


@dataclasses.dataclass
class Verdict:
    findings: list[Finding]
    notes: list[str]


def _declared_random(entry: Entry) -> bool:
    if isinstance(entry, BuiltinEntry) and entry.track == "defense":
        return bool(component("defense", entry.name).setting("randomized"))
    return False


def _chunks(layout: Layout, groups: Sequence[int]) -> list[list[int]]:
    """The layout's batches: runs of its order cut at its batch size and wherever ``groups`` (the
    images' ε for attacks) changes, since one batch has one ε."""
    out: list[list[int]] = []
    by_group: dict[int, list[int]] = {}
    for i in layout.order:
        by_group.setdefault(groups[i], []).append(i)
    for members in by_group.values():
        out += [members[k : k + layout.batch] for k in range(0, len(members), layout.batch)]
    return out


def _rerun(
    run: FinishedRun,
    executor: Executor,
    entry: Entry,
    layout: Layout,
    groups: Sequence[int],
    make: Callable[[list[int], int], Inputs],
    finish: Callable[[list[int], object], list[object]],
) -> list[object]:
    """The entry's answer per sample image under ``layout`` (None where it gave none)."""
    chunks = _chunks(layout, groups)
    inputs = [
        make(c, derive_seed(run.config.seed, "rules", entry.label, layout.salt, *c[:1], len(c)))
        for c in chunks
    ]
    answers: list[object] = [None] * len(groups)
    for chunk, outcome in zip(chunks, run_inputs(executor, entry, layout.name, inputs), strict=True):
        if outcome.status != "ok":
            raise AdvEngineError(f"{entry.label} failed when run again ({layout.name}): {outcome.error}")
        for i, value in zip(chunk, finish(chunk, outcome.value), strict=True):
            answers[i] = value
    return answers


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def _differing(xs: Sequence[object], ys: Sequence[object]) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(xs, ys, strict=True)) if not _same(x, y)]


def _judge(
    entry: Entry,
    names: list[str],
    original: Sequence[object],
    runs: list[list[object]],
    score: Callable[[int, object], float | None],
    what: str,
    alpha: float,
    tolerance: float,
) -> Verdict:
    """The verdict over the layouts (``runs`` in :func:`layouts` order), ``names`` naming the sample
    images in evidence, ``score`` the per-image number the random-entry test compares."""
    n = len(original)
    findings: list[Finding] = []
    notes: list[str] = []

    def flag(evidence: str, effect: float, p_value: float | None = None) -> None:
        findings.append(
            Finding(rule="stateless", entry=entry.label, evidence=evidence, p_value=p_value, effect=effect)
        )

    repeat = _differing(runs[0], runs[1])
    reseeded = _differing(runs[0], runs[2])
    declared = _declared_random(entry)
    if repeat and not declared and isinstance(entry, BuiltinEntry):
        flag(
            f"the same image alone with the same seed, twice, gave different {what} on {len(repeat)} of "
            f"{n} images (first {names[repeat[0]]}): its answer depends on what it saw before",
            len(repeat) / n,
        )
    # A submission gets no seed (it runs its own framework in a sandbox), so the reseeded layout tells
    # nothing: one that draws its own noise looks deterministic alone. Its answers are then required
    # to be identical only if every layout reproduces the run; otherwise it is judged in distribution.
    unseeded = not isinstance(entry, BuiltinEntry) and any(_differing(original, runs[k]) for k in COMPARED)
    random = declared or bool(reseeded) or bool(repeat) or unseeded
    if not random:
        notes.append(f"deterministic ({what} do not change with the seed): identical {what} required")
        for k in COMPARED[1:] + COMPARED[:1]:
            bad = _differing(original, runs[k])
            if len(bad) > tolerance * n:
                flag(
                    f"{len(bad)} of {n} {what} changed when run {_LAYOUT_WORDS.get(k, '')}"
                    f"({_name(k, n)}; first {names[bad[0]]}): its answer for an image depends on the other "
                    "images of its batch",
                    len(bad) / n,
                )
                break
        return Verdict(findings, notes)
    why = (
        "declared random"
        if declared
        else "answers change with the seed"
        if reseeded
        else "not reproducible"
        if repeat
        else "a submission gets no seed, and its answers change with the batch"
    )
    notes.append(f"random ({why}): {what} compared in distribution (exact sign test, Bonferroni)")
    worst: tuple[float, int, int, int] | None = None
    for k in COMPARED:
        up = down = 0
        for i, (a, b) in enumerate(zip(original, runs[k], strict=True)):
            sa, sb = score(i, a), score(i, b)
            if sa is None or sb is None or sa == sb:
                continue
            up, down = (up + 1, down) if sb > sa else (up, down + 1)
        p = min(1.0, sign_test(up, down) * len(COMPARED))
        if worst is None or p < worst[0]:
            worst = (p, k, up, down)
    assert worst is not None
    p, k, up, down = worst
    if p < alpha:
        flag(
            f"run {_LAYOUT_WORDS.get(k, '')}({_name(k, n)}) its {what} moved one way on {max(up, down)} of "
            f"{up + down} images that changed: the distribution depends on the batch",
            (up - down) / n,
            p_value=p,
        )
    return Verdict(findings, notes)


_LAYOUT_WORDS = {0: "one image at a time ", 3: "shuffled into other batches ", 4: "shuffled into one batch "}


def _name(k: int, n: int) -> str:
    return [
        "alone",
        "alone again",
        "alone, other seeds",
        f"batches of {min(ODD_BATCH, n)}",
        f"one batch of {n}",
    ][k]


def check_defense(
    run: FinishedRun, executor: Executor, entry: Entry, sample: int, alpha: float, tolerance: float
) -> Verdict:
    """The stateless rule for one defense, on up to ``sample`` of the adversarial images it labelled."""
    attacks = [a.label for a in run.config.all_attacks] or [CLEAN]
    # (attack, dataset row, the run's label)
    items = [(attack, r, lab) for attack in attacks for r, lab in run.labelled(entry.label, attack)]
    rng = np.random.default_rng(derive_seed(run.config.seed, "rules", "sample", entry.label))
    chosen = draw(rng, items, sample)
    if not chosen:
        return Verdict([], ["no labelled images to re-run"])
    images = np.stack(
        [
            run.clean([r])[0]
            if a == CLEAN
            else read_png_batch([run.run_dir.adv_image(a, run.dataset.image_ids[r])], strict=True)[0]
            for a, r, _ in chosen
        ]
    )
    truth = run.dataset.true_labels
    assert truth is not None
    original: list[object] = [np.int64(lab) for _, _, lab in chosen]
    names = [f"{run.dataset.image_ids[r]} from {a}" for a, r, _ in chosen]

    def make(chunk: list[int], seed: int) -> Inputs:
        return DefenseInputs(np.ascontiguousarray(images[chunk]), seed)

    def finish(chunk: list[int], value: object) -> list[object]:
        labels = np.asarray(value, dtype=np.int64).reshape(-1)
        return [None if v < 0 else np.int64(v) for v in labels.tolist()]

    groups = [0] * len(chosen)
    runs = [_rerun(run, executor, entry, lay, groups, make, finish) for lay in layouts(len(chosen), rng)]

    def score(i: int, label: object) -> float | None:
        # Correct or not: McNemar's test compares the run's and a layout's correctness per image.
        return None if label is None else float(int(label) == int(truth[chosen[i][1]]))  # type: ignore[call-overload]

    return _judge(entry, names, original, runs, score, "labels", alpha, tolerance)


def check_attack(
    run: FinishedRun, executor: Executor, entry: Entry, sample: int, alpha: float, tolerance: float
) -> Verdict:
    """The stateless rule for one attack, on up to ``sample`` of the clean images it attacked: its
    projected output per input image."""
    items: list[tuple[str, int, int]] = []  # (attack, dataset row, ε)
    for b in run.batches:
        rec = run.run_dir.attack_record(entry.label, b.index)
        if rec is not None and rec.status == "ok":
            items += [(entry.label, run.row_of[i], b.eps) for i in rec.image_ids]
    rng = np.random.default_rng(derive_seed(run.config.seed, "rules", "sample", entry.label))
    chosen = draw(rng, items, sample)
    if not chosen:
        return Verdict([], ["no images to re-run"])
    clean = run.clean([r for _, r, _ in chosen])
    ids = [run.dataset.image_ids[r] for _, r, _ in chosen]
    stored = read_png_batch([run.run_dir.adv_image(entry.label, i) for i in ids], strict=True)
    original: list[object] = list(stored)
    targets = run.dataset.target_classes
    eps = [e for _, _, e in chosen]

    def make(chunk: list[int], seed: int) -> Inputs:
        rows_ = [chosen[i][1] for i in chunk]
        tc = targets[rows_] if entry.track == "targeted" and targets is not None else None
        return AttackInputs(np.ascontiguousarray(clean[chunk]), eps[chunk[0]], tc, seed)

    def finish(chunk: list[int], value: object) -> list[object]:
        kept = missing_mask(value)
        produced = list(range(len(chunk))) if kept is None else [int(k) for k in kept]
        items_ = value if kept is None else [value[k] for k in produced]  # type: ignore[index]
        adv = project_outputs(items_, clean[[chunk[k] for k in produced]], eps[chunk[0]])
        out: list[object] = [None] * len(chunk)
        for k, image in zip(produced, adv, strict=True):
            out[k] = image
        return out

    runs = [_rerun(run, executor, entry, lay, eps, make, finish) for lay in layouts(len(chosen), rng)]

    def score(i: int, image: object) -> float | None:
        # The perturbation's mean size: a random attack's draws change it little and both ways.
        if image is None:
            return None
        return float(np.abs(np.asarray(image, np.int16) - clean[i].astype(np.int16)).mean())

    return _judge(entry, ids, original, runs, score, "images", alpha, tolerance)


__all__ = ["COMPARED", "ODD_BATCH", "Layout", "Verdict", "check_attack", "check_defense", "layouts"]
