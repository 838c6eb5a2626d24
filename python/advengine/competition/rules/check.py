"""``advengine check``: the competition's rules checked on a finished run (docs/rules.md).

:func:`check_run` re-runs a sample of each chosen entry through the engine's own executor and piece
runners and returns a :class:`~advengine.competition.artefacts.RulesReport`; :func:`save_rules` adds
it to the run's results.json (its ``rules`` key), from which the report draws its "Rules" section.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from advengine.competition.artefacts import Checked, Finding, Results, RuleName, RulesReport, save
from advengine.competition.config import MAX_TIME_LIMIT
from advengine.competition.executor import Executor, ProcessExecutor
from advengine.competition.rules.collusion import probe, residual, team_pairs
from advengine.competition.rules.rerun import FinishedRun, load_finished
from advengine.competition.rules.stateless import check_attack, check_defense
from advengine.context import RunContext
from advengine.errors import AdvEngineError, ConfigError


@dataclasses.dataclass(frozen=True)
class CheckSettings:
    #: Images re-run per entry (and per side of the channel probe).
    sample: int = 100
    #: The tests' significance level (after their Bonferroni corrections).
    alpha: float = 1e-3
    #: Deterministic entries: the share of a layout's answers that may differ before it is flagged.
    tolerance: float = 0.0
    #: Collusion and channel checks on every (attack, defense) pair, each taken as one team.
    all_pairs: bool = False

    def __post_init__(self) -> None:
        if self.sample < 1:
            raise ConfigError(f"--sample must be at least 1, got {self.sample}")


def _select(run: FinishedRun, entries: Sequence[str] | None) -> list[str]:
    labels = [e.label for e in run.config.entries]
    if not entries:
        return labels
    unknown = [e for e in entries if e not in labels]
    if unknown:
        raise ConfigError(
            f"--entries {', '.join(unknown)}: no such entry in the run; its entries: {', '.join(labels)}"
        )
    return [e for e in labels if e in entries]


def check_run(
    root: Path,
    *,
    entries: Sequence[str] | None = None,
    settings: CheckSettings | None = None,
    executor: Executor | None = None,
    say: Callable[[str], None] | None = None,
    step: Callable[[int, int], None] | None = None,
) -> RulesReport:
    """Check the finished run in ``root``: every entry (or those labelled ``entries``) for the
    stateless rule, every team's (attack, defense) pair among them for collusion and hidden channels.
    ``say`` gets one line per step, ``step`` (done, total) the progress."""
    s = settings or CheckSettings()
    run = load_finished(root)
    chosen = _select(run, entries)
    # A worker process of its own, as in the eval: each entry is built afresh there, so what it
    # remembers is only what the check showed it.
    cfg = run.config
    ex = executor or ProcessExecutor(
        1,
        time_limit=cfg.time_limit if math.isfinite(cfg.time_limit) else MAX_TIME_LIMIT,
        warmup_limit=cfg.warmup_limit,
        plugins=cfg.plugins,
        context=RunContext.from_env(providers=cfg.providers),
    )
    say = say or (lambda _: None)
    attacks, defenses = run.config.all_attacks, run.config.defenses
    pairs = [
        p for p in team_pairs(attacks, defenses, s.all_pairs) if p.defense in chosen or p.attack in chosen
    ]
    total, done = len(chosen) + len(pairs), 0
    findings: list[Finding] = []
    rules: dict[str, list[RuleName]] = {label: [] for label in chosen}
    notes: dict[str, list[str]] = {label: [] for label in chosen}
    t0 = time.perf_counter()
    try:
        for label in chosen:
            entry = run.entry(label)
            say(f"stateless: {label}")
            check = check_defense if entry.track == "defense" else check_attack
            try:
                verdict = check(run, ex, entry, s.sample, s.alpha, s.tolerance)
            except AdvEngineError as exc:
                notes[label].append(f"stateless not checked: {exc}")
            else:
                rules[label].append("stateless")
                findings += verdict.findings
                notes[label] += verdict.notes
            done += 1
            if step:
                step(done, total)
        for pair in pairs:
            say(f"collusion and channel: {pair.defense} with {pair.attack}")
            for label in (pair.defense, pair.attack):
                rules.setdefault(label, [])
                notes.setdefault(label, [])
            found, note = residual(run, pair, s.alpha)
            findings += [found] if found else []
            notes[pair.defense].append(note)
            found, note = probe(run, ex, run.entry(pair.defense), pair, s.sample, s.alpha)
            findings += [found] if found else []
            notes[pair.defense].append(note)
            for label in (pair.defense, pair.attack):
                rules[label] += [r for r in ("collusion", "channel") if r not in rules[label]]
            done += 1
            if step:
                step(done, total)
    finally:
        ex.close()
    checked = [Checked(entry=label, rules=rules[label], notes=notes[label]) for label in rules]
    return RulesReport(
        findings=findings,
        checked=checked,
        settings={
            "sample": s.sample,
            "alpha": s.alpha,
            "tolerance": s.tolerance,
            "all_pairs": s.all_pairs,
        },
        seconds=time.perf_counter() - t0,
    )


def save_rules(root: Path, report: RulesReport) -> None:
    """Add ``report`` to the run's results.json (replacing an earlier check's)."""
    path = root / "results.json"
    results = Results.model_validate_json(path.read_text(encoding="utf-8"))
    results.rules = report
    save(path, results)


__all__ = ["CheckSettings", "check_run", "save_rules"]
