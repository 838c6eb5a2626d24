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

from advengine.competition.artefacts import Checked, Finding, Results, RuleName, RulesReport, read_json, save
from advengine.competition.config import MAX_TIME_LIMIT
from advengine.competition.executor import Executor, ProcessExecutor
from advengine.competition.rules.collusion import Pair, probe, residual, team_pairs
from advengine.competition.rules.rerun import FinishedRun, load_finished
from advengine.competition.rules.stateless import check_attack, check_defense
from advengine.context import RunContext
from advengine.errors import AdvEngineError, ConfigError
from advengine.types import Entry


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


def _stateless(
    run: FinishedRun,
    ex: Executor,
    entry: Entry,
    s: CheckSettings,
    rules: list[RuleName],
    findings: list[Finding],
    say: Callable[[str], None],
) -> list[str]:
    """The stateless rule for ``entry``: its findings added to ``findings``, its notes returned."""
    say(f"stateless: {entry.label}")
    check = check_defense if entry.track == "defense" else check_attack
    try:
        verdict = check(run, ex, entry, s.sample, s.alpha, s.tolerance)
    except AdvEngineError as exc:
        return [f"stateless not checked: {exc}"]
    rules.append("stateless")
    findings += verdict.findings
    return verdict.notes


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
    cfg = run.config

    def fresh() -> Executor:
        # One worker process per entry (the eval's executor): the entry is built afresh, so what it
        # remembers is only what the check showed it, and its models leave memory with the worker
        # (one warm worker for every entry held 5.4 GB on the default roster).
        return ProcessExecutor(
            1,
            time_limit=cfg.time_limit if math.isfinite(cfg.time_limit) else MAX_TIME_LIMIT,
            warmup_limit=cfg.warmup_limit,
            plugins=cfg.plugins,
            context=RunContext.from_env(providers=cfg.providers),
        )

    say = say or (lambda _: None)
    pairs: dict[str, list[Pair]] = {}
    for p in team_pairs(cfg.all_attacks, cfg.defenses, s.all_pairs):
        if p.defense in chosen or p.attack in chosen:
            pairs.setdefault(p.defense, []).append(p)
    total, done = len(chosen) + sum(map(len, pairs.values())), 0
    findings: list[Finding] = []
    rules: dict[str, list[RuleName]] = {label: [] for label in chosen}
    notes: dict[str, list[str]] = {label: [] for label in chosen}
    t0 = time.perf_counter()
    try:
        for label in [*chosen, *(d for d in pairs if d not in chosen)]:
            ex = executor or fresh()
            try:
                if label in chosen:
                    notes[label] += _stateless(run, ex, run.entry(label), s, rules[label], findings, say)
                    done += 1
                    if step:
                        step(done, total)
                for pair in pairs.get(label, []):
                    say(f"collusion and channel: {pair.defense} with {pair.attack}")
                    for who in (pair.defense, pair.attack):
                        rules.setdefault(who, [])
                        notes.setdefault(who, [])
                        rules[who] += [r for r in ("collusion", "channel") if r not in rules[who]]
                    found, note = residual(run, pair, s.alpha)
                    findings += [found] if found else []
                    notes[pair.defense].append(note)
                    found, note = probe(run, ex, run.entry(pair.defense), pair, s.sample, s.alpha)
                    findings += [found] if found else []
                    notes[pair.defense].append(note)
                    done += 1
                    if step:
                        step(done, total)
            finally:
                if executor is None:
                    ex.close()
    finally:
        if executor is not None:
            executor.close()
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
    # As a dict, not through Results: keys this version does not know (a newer writer's) are kept.
    data = read_json(path)
    Results.model_validate(data)  # still a results object: refuse to add to anything else
    data["rules"] = report.model_dump()
    save(path, data)


__all__ = ["CheckSettings", "check_run", "save_rules"]
