"""``--resume`` verifies before it trusts: each test tampers with a finished run dir the way a stray
edit, a truncated copy or a cheat would, then resumes. The tampered piece is redone with one warning
line naming it, and the scores are those of the untouched run.

A record edited without the run's key fails its HMAC first; the checks of a record's content are
tested on edits re-signed with the key (what a bug in a writer holding the key would leave)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.competition.conftest import MakeConfig, oracle
from tests.competition.test_engine import Recorder

from advengine.competition import CompetitionConfig, PieceId, Results, run_competition
from advengine.competition.artefacts import AttackRecord, DefenseRecord, labels_hash, pixels_hash
from advengine.competition.state import RunDir
from advengine.competition.verify import attack_problem, defense_problem
from advengine.errors import ConfigError

Tamper = Callable[[Path], None]


def _scores(results: Results) -> list[tuple[str, Any, Any]]:
    return [(x.name, x.score, x.raw_score) for x in results.attacks + results.defenses]


@pytest.fixture
def finished(make_config: MakeConfig, sample_dir: str, tmp_path: Path) -> tuple[CompetitionConfig, Results]:
    cfg = make_config(
        attacks=[{"name": "random-noise"}], defenses=[oracle(sample_dir), {"name": "fake-constant"}]
    )
    return cfg, run_competition(cfg, tmp_path / "run")


def resign(path: Path) -> None:
    """Give the record at ``path`` (under ``<run>/pieces``) a valid HMAC, as a key holder could."""
    root = next(p for p in path.parents if (p / "run.json").is_file())
    run = RunDir(root)
    assert run.open_key(run.read_run_file()) is None
    assert run.key is not None
    data = json.loads(path.read_text())
    data.pop("hmac", None)
    data["hmac"] = run.key.mac(
        {"run_id": run.key.run_id, "fingerprint": run.fingerprint_digest, "record": data}
    )
    path.write_text(json.dumps(data))


def _edit(path: Path, *, signed: bool = True, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))
    if signed:
        resign(path)


DEFENSE = "run/pieces/defense/fake-oracle/random-noise/b0001.json"
ATTACK = "run/pieces/attack/random-noise/b0001.json"


def _labels_changed(root: Path) -> None:
    rec = json.loads((root / DEFENSE).read_text())
    _edit(root / DEFENSE, labels=[1 for _ in rec["labels"]])  # valid JSON, other scores


def _labels_short(root: Path) -> None:
    rec = json.loads((root / DEFENSE).read_text())
    labels = rec["labels"][:-1]
    _edit(root / DEFENSE, labels=labels, output_hash=labels_hash(labels))


def _status_unknown(root: Path) -> None:
    _edit(root / DEFENSE, status="great")


def _labels_not_integers(root: Path) -> None:
    rec = json.loads((root / DEFENSE).read_text())
    _edit(root / DEFENSE, labels=[str(v) for v in rec["labels"]])


def _label_out_of_range(root: Path) -> None:
    rec = json.loads((root / DEFENSE).read_text())
    labels = [5000, *rec["labels"][1:]]
    _edit(root / DEFENSE, labels=labels, output_hash=labels_hash(labels))


def _labels_forged_without_the_key(root: Path) -> None:
    labels = [1, 2, 3, 4]
    _edit(root / DEFENSE, signed=False, labels=labels, output_hash=labels_hash(labels))


def _png_modified(root: Path) -> None:
    from PIL import Image

    png = sorted((root / "run/adv/random-noise").iterdir())[5]  # batch 1
    img = np.asarray(Image.open(png)).copy()
    img[0, 0] ^= 1
    Image.fromarray(img).save(png)


def _png_truncated(root: Path) -> None:
    png = sorted((root / "run/adv/random-noise").iterdir())[5]
    png.write_bytes(png.read_bytes()[:200])


def _attack_record_broken(root: Path) -> None:
    (root / ATTACK).write_text('{"piece": "attack/random-noise/b0001", "status": "ok"')


@pytest.mark.parametrize(
    ("tamper", "redone", "why"),
    [
        (_labels_changed, "defense/fake-oracle/random-noise/b0001", "do not match the hash"),
        (_labels_forged_without_the_key, "defense/fake-oracle/random-noise/b0001", "HMAC does not match"),
        (_labels_short, "defense/fake-oracle/random-noise/b0001", "3 labels for 4 images"),
        (_status_unknown, "defense/fake-oracle/random-noise/b0001", "status"),
        (_labels_not_integers, "defense/fake-oracle/random-noise/b0001", "labels.0"),
        (_label_out_of_range, "defense/fake-oracle/random-noise/b0001", "label 5000, outside -1..1000"),
        (_png_modified, "attack/random-noise/b0001", "do not match the hash"),
        (_png_truncated, "attack/random-noise/b0001", "cannot be read"),
        (_attack_record_broken, "attack/random-noise/b0001", "not a valid record"),
    ],
)
def test_a_tampered_piece_is_redone_with_one_warning(
    tamper: Tamper, redone: str, why: str, finished: tuple[CompetitionConfig, Results], tmp_path: Path
) -> None:
    cfg, first = finished
    tamper(tmp_path)
    rec = Recorder()
    again = run_competition(cfg, tmp_path / "run", resume=True, listener=rec)
    warnings = [m for m in rec.messages if m.startswith("warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: {redone} is redone: ")
    assert why in warnings[0]
    assert (redone, "ok") in rec.pieces
    assert _scores(again) == _scores(first)  # never a silent change
    if redone.startswith("attack/"):
        # The attack piece was redone, not blamed on the defenses that classify its images.
        assert all(p.startswith(("attack/", "defense/")) and s == "ok" for p, s in rec.pieces)


def _attack(**changes: Any) -> AttackRecord:
    base: dict[str, Any] = {
        "piece": "attack/a/b0000", "status": "ok", "seconds": 1.0, "eps": 4,
        "image_ids": ["x", "z"], "output_hash": "h", "error": None,
    }  # fmt: skip
    return AttackRecord.model_validate({**base, **changes})


def test_attack_checks() -> None:
    piece, batch = PieceId.of_attack("a", 0), ["x", "y", "z"]
    never: Callable[[list[str]], Any] = lambda ids: pytest.fail("no image may be read")  # noqa: E731
    piece_of = _attack(piece="attack/a/b0001")
    assert "is that of piece" in str(attack_problem(piece_of, piece, batch, 4, never, never))
    assert "ε = 8" in str(attack_problem(_attack(eps=8), piece, batch, 4, never, never))
    for ids in (["x", "w"], ["z", "x"], ["x", "x"]):
        assert "not this batch's" in str(
            attack_problem(_attack(image_ids=ids), piece, batch, 4, never, never)
        )
    failed = _attack(status="crashed", image_ids=[], output_hash=None)
    assert attack_problem(failed, piece, batch, 4, never, never) is None
    assert "failed piece lists images" in str(
        attack_problem(_attack(status="timeout"), piece, batch, 4, never, never)
    )


def test_attack_eps_check_over_every_image() -> None:
    """The projection's fixed point is the check: one pixel one level past ε fails the piece."""
    piece, batch = PieceId.of_attack("a", 0), ["x", "y", "z"]
    clean = np.full((2, 5, 5, 3), 100, dtype=np.uint8)
    adv = clean.copy()
    adv[0] += 4
    adv[1] -= 4
    rec = _attack(output_hash=pixels_hash(adv))
    assert attack_problem(rec, piece, batch, 4, lambda ids: adv, lambda ids: clean) is None
    adv[1, 4, 4, 2] = 95
    rec = _attack(output_hash=pixels_hash(adv))
    why = str(attack_problem(rec, piece, batch, 4, lambda ids: adv, lambda ids: clean))
    assert "1 stored adversarial images lie outside the ε = 4 ball (first: z)" in why


def test_defense_checks() -> None:
    piece = PieceId.of_defense("d", "clean", 0)
    good = DefenseRecord(
        piece=str(piece), status="ok", seconds=1.0, image_ids=["x"], labels=[-1],
        input_hash=None, output_hash=labels_hash([-1]), error=None,
    )  # fmt: skip
    assert defense_problem(good, piece, ["x"]) is None
    assert "other images" in str(defense_problem(good, piece, ["y"]))
    crashed = good.model_copy(update={"status": "crashed"})
    assert "failed piece has labels" in str(defense_problem(crashed, piece, ["x"]))


def test_counts_are_honest(make_config: MakeConfig, tmp_path: Path) -> None:
    """images_produced counts images made even with no defense; clean-batch crashes are counted."""
    cfg = make_config(attacks=[{"name": "fake-crash"}, {"name": "noop"}])
    by = {a.name: a for a in run_competition(cfg, tmp_path / "a").attacks}
    assert (by["fake-crash"].images_produced, by["noop"].images_produced) == (0, 8)
    (crash,) = run_competition(
        make_config(defenses=[{"name": "fake-defense-crash"}]), tmp_path / "d"
    ).defenses
    assert crash.pieces == {"ok": 0, "crashed": 2, "timeout": 0}
    assert crash.errors[0].startswith("defense/fake-defense-crash/clean/b0000: ")


# -- the exploits of issue 29 ------------------------------------------------------------------------


def _defense_records_on(root: Path, attack: str, batch: int) -> list[Path]:
    return sorted((root / "pieces" / "defense").glob(f"*/{attack}/b{batch:04d}.json"))


def test_images_outside_eps_with_a_recomputed_hash_are_redone(
    finished: tuple[CompetitionConfig, Results], tmp_path: Path
) -> None:
    """Stored PNGs 255 levels from clean, the record's hash recomputed and even re-signed, the
    dependent defense records deleted: the ε check still redoes the piece and the scores hold."""
    from advengine.data import load_dataset
    from advengine.kernels import read_png_batch, write_png_batch

    cfg, first = finished
    root = tmp_path / "run"
    rec = json.loads((tmp_path / ATTACK).read_text())
    paths = [root / "adv" / "random-noise" / f"{i}.png" for i in rec["image_ids"]]
    ds = load_dataset(cfg.dataset_dir) if cfg.dataset_dir else None
    assert ds is not None
    clean = read_png_batch([ds.image_paths[ds.image_ids.index(i)] for i in rec["image_ids"]], strict=True)
    far = np.where(clean < 128, 255, 0).astype(np.uint8)
    write_png_batch(far, paths)
    _edit(tmp_path / ATTACK, output_hash=pixels_hash(read_png_batch(paths, strict=True)))
    for p in _defense_records_on(root, "random-noise", 1):
        p.unlink()
    listener = Recorder()
    again = run_competition(cfg, root, resume=True, listener=listener)
    warnings = [m for m in listener.messages if m.startswith("warning:")]
    assert warnings == [
        "warning: attack/random-noise/b0001 is redone: 4 stored adversarial images lie outside the "
        f"ε = {rec['eps']} ball (first: {rec['image_ids'][0]})"
    ]
    assert _scores(again) == _scores(first)


def test_labels_set_to_the_truth_without_the_key_are_redone(
    finished: tuple[CompetitionConfig, Results], tmp_path: Path
) -> None:
    """The issue's forgery: a defense record's labels set to TrueLabel, output_hash recomputed."""
    cfg, first = finished
    root = tmp_path / "run"
    path = root / "pieces/defense/fake-constant/random-noise/b0001.json"
    assert cfg.dataset_dir is not None
    from advengine.data import load_dataset

    ds = load_dataset(cfg.dataset_dir)
    assert ds.true_labels is not None
    truth = [int(v) for v in ds.true_labels[4:8]]
    _edit(path, signed=False, labels=truth, output_hash=labels_hash(truth))
    listener = Recorder()
    again = run_competition(cfg, root, resume=True, listener=listener)
    assert [m for m in listener.messages if m.startswith("warning:")] == [
        "warning: defense/fake-constant/random-noise/b0001 is redone: its record's HMAC does not match "
        "(the record was changed, or belongs to another run)"
    ]
    assert _scores(again) == _scores(first)


def test_strict_verification_refuses_instead_of_redoing(
    finished: tuple[CompetitionConfig, Results], tmp_path: Path
) -> None:
    cfg, _ = finished
    _labels_forged_without_the_key(tmp_path)
    with pytest.raises(ConfigError, match=r"^--verify strict: defense/fake-oracle/random-noise/b0001 .*HMAC"):
        run_competition(cfg, tmp_path / "run", resume=True, verify="strict")


def test_a_run_json_copied_from_another_run_is_detected(
    make_config: MakeConfig, sample_dir: str, tmp_path: Path
) -> None:
    """Seed 1's run.json over seed 0's run dir, resumed with seed 1's config: seed 0's records fail
    their HMAC (they are bound to their run), so every piece is redone instead of being published as
    seed 1's."""
    doc: dict[str, Any] = {"attacks": [{"name": "random-noise"}], "defenses": [{"name": "fake-constant"}]}
    seed0, seed1 = make_config(seed=0, **doc), make_config(seed=1, **doc)
    first = run_competition(seed1, tmp_path / "s1")
    run_competition(seed0, tmp_path / "s0")
    (tmp_path / "s0" / "run.json").write_bytes((tmp_path / "s1" / "run.json").read_bytes())
    listener = Recorder()
    again = run_competition(seed1, tmp_path / "s0", resume=True, listener=listener)
    warnings = [m for m in listener.messages if m.startswith("warning:")]
    pieces = 2 + 2 * 2  # 2 attack pieces; the defense on clean and on the attack, 2 batches each
    assert len(warnings) == pieces
    assert all("HMAC does not match" in w for w in warnings)
    assert len(listener.pieces) == pieces
    assert _scores(again) == _scores(first)


def _seed_changed(run: dict[str, Any]) -> str:
    run["config"]["config"]["seed"] = 7
    return json.dumps(run)


def _format_1(run: dict[str, Any]) -> str:
    return json.dumps({"fingerprint": run["fingerprint"], "config": run["config"]})


UNREADABLE = r"run\.json is unreadable .*start again with a new --out"


@pytest.mark.parametrize(
    ("rewrite", "why"),
    [
        (lambda run: "", UNREADABLE),
        (lambda run: '{"fingerprint": "ab', UNREADABLE),
        (_seed_changed, r"run\.json fails its HMAC: it was changed or copied"),
        (_format_1, r"run\.json is format 1, from before authenticated records"),
    ],
)
def test_a_run_json_it_cannot_trust_refuses_the_resume_in_one_line(
    rewrite: Callable[[dict[str, Any]], str],
    why: str,
    finished: tuple[CompetitionConfig, Results],
    tmp_path: Path,
) -> None:
    cfg, _ = finished
    path = tmp_path / "run" / "run.json"
    path.write_text(rewrite(json.loads(path.read_text())))
    with pytest.raises(ConfigError, match=why):
        run_competition(cfg, tmp_path / "run", resume=True)


def test_a_missing_key_refuses_the_resume(
    finished: tuple[CompetitionConfig, Results], tmp_path: Path
) -> None:
    cfg, _ = finished
    with pytest.raises(ConfigError, match=r"the key of run [0-9a-f]{32} is not in .*cannot be authenticated"):
        run_competition(cfg, tmp_path / "run", resume=True, key_dir=tmp_path / "elsewhere")
