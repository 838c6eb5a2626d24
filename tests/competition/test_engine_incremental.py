"""``Competition.incremental`` (the hook ``advengine serve`` drives) and ``partial_results``: a run
dir resumed with a larger roster runs only the new pieces; an entry whose definition changed has its
pieces, and the defense pieces on its images, redone; the scores equal a fresh run's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.competition.conftest import MakeConfig, oracle
from tests.competition.test_engine import Recorder, _scores

from advengine.competition import CompetitionConfig, run_competition
from advengine.competition.engine import Competition


def _incremental(cfg: CompetitionConfig, out: Path) -> tuple[Any, Recorder]:
    rec = Recorder()
    comp = Competition(cfg, out, listener=rec)
    comp.incremental = True
    return comp.run(resume=True), rec


def test_a_growing_roster_runs_only_new_pieces(
    make_config: MakeConfig, sample_dir: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    small = make_config(attacks=[{"name": "noop"}], defenses=[oracle(sample_dir)])
    _incremental(small, out)
    grown = make_config(
        attacks=[{"name": "noop"}, {"name": "fake-shift"}],
        defenses=[oracle(sample_dir), {"name": "fake-constant"}],
    )
    results, rec = _incremental(grown, out)
    ran = {p for p, _ in rec.pieces}
    # The new attack's 2 batches, the old defense on them, and the new defense on everything.
    assert ran == {
        "attack/fake-shift/b0000",
        "attack/fake-shift/b0001",
        *(f"defense/fake-oracle/fake-shift/b{b:04d}" for b in range(2)),
        *(f"defense/fake-constant/{a}/b{b:04d}" for a in ("clean", "noop", "fake-shift") for b in range(2)),
    }
    assert _scores(results) == _scores(run_competition(grown, tmp_path / "fresh"))
    # Nothing new: nothing runs.
    assert _incremental(grown, out)[1].pieces == []


def test_a_changed_entry_is_redone_with_what_depends_on_it(
    make_config: MakeConfig, sample_dir: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    before = make_config(
        attacks=[{"name": "noop"}, {"name": "random-noise", "label": "rn"}], defenses=[oracle(sample_dir)]
    )
    _incremental(before, out)
    after = make_config(
        attacks=[{"name": "noop"}, {"name": "fake-shift", "label": "rn"}], defenses=[oracle(sample_dir)]
    )
    results, rec = _incremental(after, out)
    assert {p for p, _ in rec.pieces} == {
        "attack/rn/b0000",
        "attack/rn/b0001",
        "defense/fake-oracle/rn/b0000",
        "defense/fake-oracle/rn/b0001",
    }
    assert any("rn changed since it last ran" in m for m in rec.messages)
    assert _scores(results) == _scores(run_competition(after, tmp_path / "fresh"))


def test_an_incremental_run_refuses_other_settings(
    make_config: MakeConfig, sample_dir: str, tmp_path: Path
) -> None:
    import pytest

    from advengine.errors import ConfigError

    out = tmp_path / "run"
    _incremental(make_config(attacks=[{"name": "noop"}], defenses=[oracle(sample_dir)]), out)
    with pytest.raises(ConfigError, match="different config or dataset"):
        _incremental(make_config(attacks=[{"name": "noop"}], defenses=[oracle(sample_dir)], seed=1), out)


def test_partial_results(make_config: MakeConfig, sample_dir: str, tmp_path: Path) -> None:
    cfg = make_config(attacks=[{"name": "noop"}], defenses=[oracle(sample_dir)])
    comp = Competition(cfg, tmp_path / "run")
    comp._prepare(resume=False)
    assert comp.partial_results() is None  # no attack piece has a record yet
    comp.run_dir.unlock()  # _prepare took the run dir's lock, as run() does (run releases it)
    results = Competition(cfg, tmp_path / "run").run(resume=True)
    finished = Competition(cfg, tmp_path / "run")
    finished._prepare(resume=True)
    partial = finished.partial_results()
    finished.run_dir.unlock()
    assert partial is not None
    assert _scores(partial) == _scores(results)
