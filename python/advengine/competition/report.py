"""The results object (results.json) and the files written beside it: records.csv, leaderboard.md and
the DEVKIT-layout CSVs. The schema is documented in docs/competition.md."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.competition.artefacts import EntryResult, PieceRecord, Results
from advengine.competition.config import EPS_VALUES, CompetitionConfig
from advengine.competition.scoring import MISSING, NO_IMAGE, Aggregate, aggregate, headline, robust_accuracy
from advengine.competition.strength import strength_of
from advengine.files import atomic_write
from advengine.types import CLEAN, Entry

SCHEMA = "advengine.eval/1"
I64 = npt.NDArray[np.int64]


@dataclasses.dataclass
class RunData:
    """Everything a finished run knows, gathered from the piece records."""

    config: CompetitionConfig
    dataset_dir: Path
    dataset_hash: str
    image_ids: list[str]
    true_labels: I64
    target_classes: I64
    image_batch: I64
    image_eps: I64
    #: ``[attack, defense, image]`` labels or MISSING / NO_IMAGE.
    predictions: I64
    #: ``[defense, image]`` labels on the clean images, or MISSING.
    clean_predictions: I64
    #: Piece records per entry key (defenses: adversarial batches only).
    pieces: dict[str, list[PieceRecord]]
    timings: dict[str, float]


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _aggregate(data: RunData, mask: npt.NDArray[np.bool_] | None = None) -> Aggregate:
    cfg = data.config
    is_targeted = np.array([e.track == "targeted" for e in cfg.all_attacks], dtype=np.bool_)
    preds, truth, target = data.predictions, data.true_labels, data.target_classes
    if mask is not None:
        preds, truth, target = preds[:, :, mask], truth[mask], target[mask]
    teams = [e.team for e in cfg.all_attacks], [e.team for e in cfg.defenses]
    return aggregate(preds, truth, target, is_targeted, cfg.scoring, *teams)


def _piece_summary(records: list[PieceRecord]) -> dict[str, Any]:
    ok = [r for r in records if r.status == "ok"]
    # The report's tables give time per 100 images (its batch size); scaled per piece so that runs with
    # other batch sizes compare.
    per_100 = [r.seconds * 100.0 / len(r.image_ids) for r in ok if r.image_ids]
    errors = sorted({f"{r.piece}: {r.error}" for r in records if r.status != "ok"})
    return {
        "median_batch_seconds": statistics.median(r.seconds for r in ok) if ok else None,
        "median_seconds_per_100": statistics.median(per_100) if per_100 else None,
        "pieces": {s: sum(r.status == s for r in records) for s in ("ok", "crashed", "timeout")},
        "errors": errors,
    }


def _entry_base(e: Entry) -> dict[str, Any]:
    return {
        **e.membership_json(),
        "name": e.label,
        "entry": e.name,
        "track": e.track,
        "params": e.to_json()["params"],
        "models": list(e.models),
    }


def build_results(data: RunData) -> Results:
    cfg, mode = data.config, data.config.scoring
    agg = _aggregate(data)
    n = len(data.image_ids)
    attacks_out, defenses_out, exclusions = [], [], []
    strong: dict[str, dict[str, Any]] = {"attacks": {}, "defenses": {}}
    if cfg.ranking == "strength":
        is_targeted = np.array([e.track == "targeted" for e in cfg.all_attacks], dtype=np.bool_)
        s_att, s_def = strength_of(agg, is_targeted)
        strong = {
            "attacks": {e.label: {"strength": _num(float(s_att[a]))} for a, e in enumerate(cfg.all_attacks)},
            "defenses": {e.label: {"strength": _num(float(s_def[d]))} for d, e in enumerate(cfg.defenses)},
        }
    # Counted from the records, not from the prediction matrix: with no defenses that matrix has no
    # column to mark missing images in, and the kernel then reports every image as produced.
    produced = [
        sum(len(r.image_ids) for r in data.pieces[e.key] if r.status == "ok") for e in cfg.all_attacks
    ]
    for a, e in enumerate(cfg.all_attacks):
        excluded = not bool(agg.attacks_used[a])
        item = {
            **_entry_base(e),
            "score": headline(mode, int(agg.attack_raw[a]), float(agg.attack_score[a])),
            "raw_score": int(agg.attack_raw[a]),
            "normalized_score": _num(float(agg.attack_score[a])),
            "worst_score": _num(float(agg.attack_worst[a])),
            "images_produced": produced[a],
            "excluded": excluded,
            **_piece_summary(data.pieces[e.key]),
            **strong["attacks"].get(e.label, {}),
        }
        if excluded:
            reason = f"produced {produced[a]} of {n} images; not used to score defenses"
            item["exclusion_reason"] = reason
            exclusions.append({"name": e.label, "track": e.track, "reason": reason})
        attacks_out.append(item)
    produced_total = sum(produced)
    robust = robust_accuracy(data.predictions, data.true_labels, agg.attacks_used)
    for d, e in enumerate(cfg.defenses):
        excluded = not bool(agg.defenses_used[d])
        clean = data.clean_predictions[d]
        item = {
            **_entry_base(e),
            "score": headline(mode, int(agg.defense_raw[d]), float(agg.defense_score[d])),
            "raw_score": int(agg.defense_raw[d]),
            "normalized_score": _num(float(agg.defense_score[d])),
            "worst_score": _num(float(agg.defense_worst[d])),
            "images_classified": int(agg.classified[:, d].sum()),
            "clean_accuracy": float((clean == data.true_labels).mean()) if n else None,
            "robust_accuracy": _num(float(robust[d])),
            "excluded": excluded,
            **_piece_summary(data.pieces[e.key]),
            **strong["defenses"].get(e.label, {}),
        }
        if excluded:
            reason = (
                f"labelled {int(agg.classified[:, d].sum())} of {produced_total} adversarial images; "
                "not used to score attacks"
            )
            item["exclusion_reason"] = reason
            exclusions.append({"name": e.label, "track": e.track, "reason": reason})
        defenses_out.append(item)
    per_eps = []
    for eps in sorted(set(data.image_eps.tolist()) | set()):
        mask = data.image_eps == eps
        sub = _aggregate(data, mask)
        per_eps.append(
            {
                "eps": int(eps),
                "images": int(mask.sum()),
                "attacks": {
                    e.label: headline(mode, int(sub.attack_raw[a]), float(sub.attack_score[a]))
                    for a, e in enumerate(cfg.all_attacks)
                },
                "defenses": {
                    e.label: headline(mode, int(sub.defense_raw[d]), float(sub.defense_score[d]))
                    for d, e in enumerate(cfg.defenses)
                },
            }
        )
    batches = sorted({(int(b), int(e)) for b, e in zip(data.image_batch, data.image_eps, strict=True)})
    payload = {
        "schema": SCHEMA,
        "mode": mode,
        **({"ranking": cfg.ranking} if cfg.ranking != "score" else {}),
        "seed": cfg.seed,
        "dataset": {
            "dir": str(data.dataset_dir),
            "images": n,
            "hash": data.dataset_hash,
            "limit": cfg.limit,
        },
        "eps_values": list(EPS_VALUES),
        "batches": [{"index": b, "eps": e, "images": int((data.image_batch == b).sum())} for b, e in batches],
        "config": cfg.to_json(),
        "attacks": attacks_out,
        "defenses": defenses_out,
        "exclusions": exclusions,
        "per_eps": per_eps,
        "matrices": {
            "attacks": [e.label for e in cfg.all_attacks],
            "defenses": [e.label for e in cfg.defenses],
            "correct": agg.correct.tolist(),
            "error": agg.error.tolist(),
            "hit": agg.hit.tolist(),
            "classified": agg.classified.tolist(),
        },
    }
    return Results.model_validate(payload)


def _csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _records_csv(data: RunData) -> str:
    cfg = data.config
    rows: list[list[Any]] = [
        ["attack", "defense", "image_id", "batch", "eps", "label", "true_label", "target_class"]
    ]

    def add(attack: str, defense: str, i: int, label: int) -> None:
        rows.append(
            [
                attack,
                defense,
                data.image_ids[i],
                int(data.image_batch[i]),
                int(data.image_eps[i]),
                "" if label == MISSING else int(label),
                int(data.true_labels[i]),
                int(data.target_classes[i]),
            ]
        )

    for d, dfn in enumerate(cfg.defenses):
        for i, label in enumerate(data.clean_predictions[d].tolist()):
            add(CLEAN, dfn.label, i, label)
        for a, att in enumerate(cfg.all_attacks):
            for i, label in enumerate(data.predictions[a, d].tolist()):
                if label != NO_IMAGE:
                    add(att.label, dfn.label, i, label)
    return _csv(rows)


def _matrix(values: I64, rows: list[str], cols: list[str]) -> str:
    """DEVKIT's np.savetxt layout: empty top-left cell, defense names across, attack names down."""
    out: list[list[Any]] = [["", *cols]]
    out += [[name, *map(int, row)] for name, row in zip(rows, values.tolist(), strict=True)]
    return _csv(out)


def ranked(items: list[EntryResult]) -> list[EntryResult]:
    """Best first: by score (higher is better), entries without a score last, ties by name; by
    strength instead in a run with ``ranking = "strength"`` (its entries have one). The one ranking of
    the CLI summary, leaderboard.md and the DEVKIT ranking CSVs."""
    if any("strength" in it.model_fields_set for it in items):
        return sorted(items, key=lambda it: (it.strength is None, -(it.strength or 0), it.name))
    return sorted(items, key=lambda it: (it.score is None, -(it.score or 0), it.name))


def fmt(v: float | int | None) -> str:
    """A score as the summary and leaderboard print it: 4 decimals, "–" for none."""
    if v is None:
        return "–"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def groups(results: Results) -> list[tuple[str, list[EntryResult]]]:
    """The three tracks of the results, in the order every report lists them."""
    return [
        ("defense", results.defenses),
        ("nontargeted", results.nontargeted()),
        ("targeted", results.targeted()),
    ]


def _ranking(header: str, items: list[EntryResult]) -> str:
    rows: list[list[Any]] = [[header, "Score"]]
    rows += [[it.name, "" if it.score is None else it.score] for it in ranked(items)]
    return _csv(rows)


_TITLES = {"defense": "Defenses", "nontargeted": "Non-targeted attacks", "targeted": "Targeted attacks"}


def _leaderboard(results: Results) -> str:
    lines = [
        "# Leaderboard",
        "",
        f"Mode **{results.mode}**, seed {results.seed}, {results.dataset.images} images "
        f"(dataset sha256 `{results.dataset.hash[:16]}…`).",
        "",
    ]
    for track, items in groups(results):
        lines += [f"## {_TITLES[track]}", ""]
        if not items:
            lines += ["(none)", ""]
            continue
        strong = results.ranking == "strength"
        lines += [
            f"| rank | name |{' strength |' if strong else ''} score | raw | worst case "
            "| median s/100 images | excluded |",
            f"|---:|---|{'---:|' if strong else ''}---:|---:|---:|---:|---|",
        ]
        for rank, it in enumerate(ranked(items), 1):
            strength = f" {fmt(it.strength)} |" if strong else ""
            lines.append(
                f"| {rank} | {it.name} |{strength} {fmt(it.score)} | {it.raw_score} | {fmt(it.worst_score)} "
                f"| {fmt(it.median_seconds_per_100)} | {'yes' if it.excluded else ''} |"
            )
        lines.append("")
    if results.exclusions:
        lines += ["## Exclusions", ""]
        lines += [f"- {x.name} ({x.track}): {x.reason}" for x in results.exclusions]
        lines.append("")
    return "\n".join(lines)


def write_reports(out: Path, data: RunData, results: Results) -> None:
    """records.csv, leaderboard.md and the DEVKIT CSVs (results.json is the engine's to write)."""
    cfg = data.config
    m = results.matrices
    nt = [i for i, e in enumerate(cfg.all_attacks) if e.track == "nontargeted"]
    tg = [i for i, e in enumerate(cfg.all_attacks) if e.track == "targeted"]
    correct, hit = np.array(m.correct, dtype=np.int64), np.array(m.hit, dtype=np.int64)
    nd = len(cfg.defenses)
    correct = correct.reshape(len(cfg.all_attacks), nd)
    hit = hit.reshape(len(cfg.all_attacks), nd)
    defense_names = [e.label for e in cfg.defenses]
    names = [e.label for e in cfg.all_attacks]
    files = {
        "records.csv": _records_csv(data),
        "accuracy_on_attacks.csv": _matrix(correct[nt], [names[i] for i in nt], defense_names),
        "accuracy_on_targeted_attacks.csv": _matrix(correct[tg], [names[i] for i in tg], defense_names),
        "hit_target_class.csv": _matrix(hit[tg], [names[i] for i in tg], defense_names),
        "defense_ranking.csv": _ranking("DefenseName", results.defenses),
        "attack_ranking.csv": _ranking("AttackName", results.nontargeted()),
        "targeted_attack_ranking.csv": _ranking("AttackName", results.targeted()),
        "leaderboard.md": _leaderboard(results),
    }
    for name, text in files.items():
        atomic_write(out / name, text)


__all__ = ["SCHEMA", "RunData", "build_results", "fmt", "groups", "ranked", "write_reports"]
