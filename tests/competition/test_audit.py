"""The audit's roster and its gradient-masking flags (the full run is in tests/cli/test_audit.py)."""

from __future__ import annotations

import weakref
from typing import Any

import pytest

from advengine.competition.audit import AuditRow, Kind, audit_roster, masking_flags

LITE0 = ("efficientnet-lite0",)
#: An audit's rows at ε = 16 as (label, attack, kind, ε): transfer, adaptive, score, adaptive at 8 and 255.
ROWS: list[tuple[str, str, Kind, int]] = [
    ("mifgsm[lite1]", "mifgsm", "transfer", 16),
    ("eot-pgd", "eot-pgd", "adaptive", 16),
    ("square-linf", "square-linf", "score", 16),
    ("eot-pgd@8", "eot-pgd", "adaptive", 8),
    ("eot-pgd@255", "eot-pgd", "adaptive", 255),
]


def rows(*accuracies: float) -> list[AuditRow]:
    """:data:`ROWS` with these accuracies, in order."""
    return [
        AuditRow(label=label, attack=attack, kind=kind, eps=eps, accuracy=accuracy, seconds=1.0)
        for (label, attack, kind, eps), accuracy in zip(ROWS, accuracies, strict=True)
    ]


def test_roster_has_every_kind_and_the_eps_checks() -> None:
    roster = audit_roster(LITE0, {"transforms": ("median:2",)}, 16, iterations=5, draws=2, queries=10)
    kinds = {a.kind for a in roster}
    assert kinds == {"transfer", "white-box", "adaptive", "score"}
    assert {a.models for a in roster if a.kind == "transfer"} == {
        ("efficientnet-lite1",),
        ("efficientnet-lite2",),
    }
    assert sorted(a.eps for a in roster if a.attack == "eot-pgd") == [8, 16, 255]
    # Only the attacks at the audit's ε count for robust accuracy.
    assert all(a.counts == (a.eps == 16) for a in roster)
    assert next(a for a in roster if a.attack == "eot-pgd").params["transforms"] == ("median:2",)


def test_a_sound_audit_raises_no_flag() -> None:
    assert masking_flags(rows(0.4, 0.05, 0.3, 0.2, 0.0), 16) == []


def test_every_sign_of_masking_is_flagged() -> None:
    flags = masking_flags(rows(0.3, 0.6, 0.2, 0.5, 0.1), 16)
    assert len(flags) == 4
    assert flags[0].startswith("white-box weaker than transfer")
    assert flags[1].startswith("accuracy not falling as ε grows")
    assert flags[2].startswith("ε = 255 does not reach 0 %")
    assert flags[3].startswith("the score-based attack beats the gradient ones")


def test_budgets_and_their_overrides() -> None:
    from advengine.competition.audit import BUDGETS, budget

    assert budget("fast").queries == 100
    assert budget("standard") == BUDGETS["standard"]
    custom = budget("fast", iterations=3)
    assert (custom.iterations, custom.draws, custom.queries) == (3, 2, 100)
    assert custom.name == "fast (changed: iterations 3)"


def test_a_low_clean_accuracy_and_a_fast_budget_are_warned() -> None:
    from advengine.competition.audit import BUDGETS, _warnings

    assert _warnings(0.9, BUDGETS["standard"]) == []
    warned = _warnings(0.25, BUDGETS["fast"])
    assert "clean accuracy is 25.0 % (< 50 %)" in warned[0]
    assert "Square ran at 100 queries" in warned[1]


def test_the_estimate_counts_model_passes() -> None:
    from advengine.competition.audit import AuditAttack, estimate

    roster = [
        AuditAttack("pgd", "pgd", ("m",), 16, "white-box", {"iterations": 10}),
        AuditAttack("sq", "square-linf", ("m",), 16, "score", {"queries": 100}),
    ]
    assert estimate(roster, 2) == "2 attacks on 2 images: about 240 model passes (120 per image)"


def test_each_stage_s_sessions_are_gone_before_the_next_stage_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    # What keeps the audit's memory bounded (docs/benchmarks.md, "Audit memory"): when an attack is
    # built, no earlier attack's source or session is alive (the shared-session cache once kept every
    # stage's gradient graphs loaded to the end), while the defense's own classifiers go on working.
    from advengine.attacks import build_attack, sources
    from advengine.competition import audit
    from advengine.data import sample_dataset_dir
    from advengine.models import sessions

    roster = [
        audit.AuditAttack("a", "fgsm", ("efficientnet-lite1",), 16, "transfer"),
        audit.AuditAttack("b", "fgsm", ("efficientnet-lite2",), 16, "white-box"),
    ]
    monkeypatch.setattr(audit, "audit_roster", lambda *args, **kwargs: roster)
    live: list[tuple[int, int]] = []
    built: list[weakref.ref[object]] = []

    def recording_build(*args: Any, **kwargs: Any) -> Any:
        live.append((len(sessions._SESSIONS), len(sources._SOURCES)))
        assert all(ref() is None for ref in built), "an earlier stage's attack is still alive"
        attack = build_attack(*args, **kwargs)
        built.append(weakref.ref(attack))
        return attack

    monkeypatch.setattr(audit, "build_attack", recording_build)
    report = audit.run_audit("median", sample_dataset_dir(), limit=2, batch_size=1)
    assert [r.label for r in report.attacks] == ["a", "b"]
    assert 0.0 <= report.clean_accuracy <= 1.0
    # The defense's classifier session was in the cache when the first attack was built; when the
    # second was, the cache and the sources were empty (the defense holds its session itself).
    assert live[0][0] >= 1, live
    assert live[1] == (0, 0), live
