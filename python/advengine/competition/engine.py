"""Algorithm 1 of the NIPS 2017 competition: every attack on every batch, every defense on every
adversarial batch and on the clean images, then scoring.

Each piece is a pure function of (roster entry, inputs) run by an :class:`Executor`; its result is
written atomically with a record (status, seconds, output hash), so ``resume`` redoes only pieces
without a record. Per-piece seeds derive from (seed, entry, batch), so a given seed always gives the
same images and labels, whether the run was interrupted or not.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, Protocol, TypeGuard, TypeVar

import numpy as np
import numpy.typing as npt
import psutil

from advengine.competition.artefacts import (
    AttackRecord,
    DefenseRecord,
    PieceId,
    PieceRecord,
    Results,
    labels_hash,
    pixels_hash,
    save,
)
from advengine.competition.checks import check_runnable
from advengine.competition.config import EPS_VALUES, ROSTER_KEYS, CompetitionConfig
from advengine.competition.executor import Executor, InProcessExecutor, Job, Outcome
from advengine.competition.pieces import AttackInputs, DefenseInputs
from advengine.competition.plugins import import_plugins
from advengine.competition.projection import missing_mask, project_outputs
from advengine.competition.report import RunData, build_results, write_reports
from advengine.competition.scoring import MISSING, NO_IMAGE
from advengine.competition.state import RunDir
from advengine.competition.verify import attack_problem, defense_problem
from advengine.data import Dataset, load_dataset, sample_dataset_dir
from advengine.errors import AdvEngineError, ConfigError, DatasetError, ImageError
from advengine.kernels import read_png_batch, write_png_batch
from advengine.seeds import derive_seed
from advengine.types import CLEAN, Entry

R = TypeVar("R", AttackRecord, DefenseRecord)
#: What a stored piece that fails a check costs: redone with a warning, or the run refused.
VerifyMode = Literal["warn", "strict"]
#: Stage passes before the run gives up on a dir whose records keep failing their checks.
MAX_PASSES = 3


class Listener(Protocol):
    """What the engine reports while it works (the CLI draws progress bars from it)."""

    def message(self, text: str) -> None: ...
    def stage(self, name: str, total: int, done: int) -> None: ...
    def piece(self, piece: PieceId, status: str, seconds: float) -> None: ...


class _Silent:
    def message(self, text: str) -> None:
        return None

    def stage(self, name: str, total: int, done: int) -> None:
        return None

    def piece(self, piece: PieceId, status: str, seconds: float) -> None:
        return None


@dataclasses.dataclass(frozen=True)
class Batch:
    index: int
    start: int
    stop: int
    eps: int


def eps_schedule(n_batches: int, policy: str, seed: int) -> list[int]:
    """ε per batch: "cycle" is EVALINFRA's [4, 8, 12, 16][k mod 4]; "random" draws from the same
    values with a generator seeded by the competition seed."""
    if policy == "cycle":
        return [EPS_VALUES[k % len(EPS_VALUES)] for k in range(n_batches)]
    rng = np.random.default_rng(derive_seed(seed, "eps"))
    return [int(v) for v in rng.choice(np.array(EPS_VALUES), size=n_batches)]


def dataset_hash(ds: Dataset) -> str:
    """sha256 over every image file and its labels, in ImageId order."""
    h = hashlib.sha256()
    for i, (image_id, path) in enumerate(zip(ds.image_ids, ds.image_paths, strict=True)):
        h.update(image_id.encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
        if ds.true_labels is not None and ds.target_classes is not None:
            h.update(f"{ds.true_labels[i]},{ds.target_classes[i]}".encode())
    return h.hexdigest()


def _load(config: CompetitionConfig) -> Dataset:
    directory = config.dataset_dir if config.dataset_dir is not None else sample_dataset_dir()
    ds = load_dataset(directory)
    if not ds.labelled:
        raise DatasetError(
            f"{directory}: a competition needs TrueLabel and TargetClass; "
            "give a dataset dir with dev_dataset.csv"
        )
    if config.limit is not None:
        ds = ds.head(config.limit)
    if len(ds) == 0:
        raise DatasetError(f"{directory}: no images to run on")
    return ds


#: The per-stage breakdown the engine says after a run, in the order a run goes through them: key of
#: the timings → its name. Piece stages are summed over the workers, the rest wall clock.
_STAGE_NAMES = {
    "startup": "start-up",
    "build": "build",
    "warmup": "warm-up",
    "attack": "attack steps",
    "defense": "defense forwards",
    "io": "PNG IO",
    "projection": "projection",
    "scoring": "scoring",
    "reports": "reports",
}


def _stage_line(timings: dict[str, float]) -> str:
    """One line of a run's time per stage: ``stages: start-up 0.4 s · build 1.2 s · ...``."""
    parts = [f"{name} {timings[key]:.1f} s" for key, name in _STAGE_NAMES.items() if key in timings]
    return "stages: " + " · ".join(parts)


class Competition:
    """One run of a competition in one output directory."""

    def __init__(
        self,
        config: CompetitionConfig,
        out: Path,
        *,
        executor: Executor | None = None,
        listener: Listener | None = None,
        key_dir: Path | None = None,
        verify: VerifyMode = "warn",
    ) -> None:
        self.config = config
        self.run_dir = RunDir(out, key_dir)
        self.verify = verify
        self.executor: Executor = executor if executor is not None else InProcessExecutor()
        self.listener: Listener = listener if listener is not None else _Silent()
        self.timings: dict[str, float] = dict.fromkeys(
            ("attack", "projection", "io", "defense", "scoring", "attack_stage", "defense_stage", "verify"),
            0.0,
        )
        # The stages outside the pieces' own times (issue 25's breakdown): the process's age when the
        # run is made (for `advengine eval`, its start-up: interpreter, imports, flags, config), and
        # the workers' building and warming up of the pieces (models loaded, graphs compiled,
        # sessions opened), summed over the workers.
        self.timings.update(dict.fromkeys(("build", "warmup"), 0.0))
        self.timings["startup"] = max(0.0, time.time() - psutil.Process().create_time())
        #: Redo pieces recorded as crashed or timed out (``--retry-failed``), not only unfinished ones.
        self.retry_failed = False
        #: Attack pieces verified in this run, with the stat of their files then (see _stamp).
        self._verified: dict[PieceId, tuple[tuple[int, int, int, int], ...]] = {}
        self._clean_batch: tuple[int, npt.NDArray[np.uint8]] | None = None
        #: Resume whatever the roster is now: the fingerprint covers the settings and the dataset only,
        #: and an entry whose definition changed since it last ran loses its records (its own pieces
        #: are redone; the defense pieces on a changed attack's images go stale through their
        #: ``input_hash``). A new entry is just more pieces. ``advengine serve`` runs rounds this way.
        self.incremental = False

    def _finished(self, rec: R | None) -> TypeGuard[R]:
        # A failed piece is final by default (the rules score it as failed, and a resumed run ends
        # with the uninterrupted run's scores); with retry_failed it is redone like an unfinished one,
        # for failures the organiser knows to be transient (a worker killed by the OOM killer, a host
        # that was overloaded when the time limit ran out).
        return rec is not None and not (self.retry_failed and rec.status != "ok")

    # -- setup --------------------------------------------------------------------------------------

    def _prepare(self, resume: bool) -> None:
        import_plugins(self.config.plugins)
        check_runnable(self.config)  # before any piece runs: a bad config fails once, not per piece
        self.config = self.config.for_run(self.run_dir.root)  # submissions: time limit, log dir
        say = self.listener.message
        self.ds = _load(self.config)
        true, target = self.ds.true_labels, self.ds.target_classes
        assert true is not None
        assert target is not None
        self.true_labels, self.target_classes = true, target
        say(f"dataset: {len(self.ds)} images from {self.ds.image_paths[0].parent}")
        self.dataset_hash = dataset_hash(self.ds)
        n, size = len(self.ds), self.config.batch_size
        starts = list(range(0, n, size))
        schedule = eps_schedule(len(starts), self.config.eps, self.config.seed)
        self.batches = [
            Batch(k, s, min(s + size, n), e) for k, (s, e) in enumerate(zip(starts, schedule, strict=True))
        ]
        config_json = self.config.to_json()
        self.fingerprint = {"config": config_json, "dataset_hash": self.dataset_hash}
        if self.incremental:
            settings = {k: v for k, v in config_json.items() if k not in ROSTER_KEYS}
            key = {"config": settings, "dataset_hash": self.dataset_hash}
            resumed = self.run_dir.prepare(self.fingerprint, resume=True, key=key)
            for label in self.run_dir.sync_entries({e.label: e.to_json() for e in self.config.entries}):
                say(f"{label} changed since it last ran: its pieces are redone")
        else:
            resumed = self.run_dir.prepare(self.fingerprint, resume=resume)
        c = self.config
        say(
            f"{'resuming' if resumed else 'starting'} in {self.run_dir.root}: {len(self.batches)} batches of "
            f"≤{size}, {len(c.attacks)} attacks, {len(c.targeted_attacks)} targeted attacks, "
            f"{len(c.defenses)} defenses, scoring {c.scoring}"
        )

    # -- attacks ------------------------------------------------------------------------------------

    def _distrust(self, piece: PieceId, why: str) -> None:
        """A stored piece failed a check (verify.py, its HMAC): say so in one line and run it again;
        under ``--verify strict`` refuse the run instead."""
        if self.verify == "strict":
            raise ConfigError(
                f"--verify strict: {piece} cannot be trusted: {why}; the run dir was changed after it "
                "was written (rerun without --verify strict to redo such pieces)"
            )
        self.listener.message(f"warning: {piece} is redone: {why}")
        self.run_dir.forget(piece)

    def _read_adv(self, attack: str) -> Callable[[list[str]], npt.NDArray[np.uint8]]:
        return lambda ids: read_png_batch([self.run_dir.adv_image(attack, i) for i in ids], strict=True)

    def _read_clean(self, b: Batch) -> Callable[[list[str]], npt.NDArray[np.uint8]]:
        def read(ids: list[str]) -> npt.NDArray[np.uint8]:
            where = {image_id: k for k, image_id in enumerate(self.ds.image_ids[b.start : b.stop])}
            # The last batch read is kept: the pass before scoring checks every attack of a batch in
            # a row, so its clean images are decoded once, not once per attack.
            if self._clean_batch is None or self._clean_batch[0] != b.index:
                self._clean_batch = (b.index, self.ds.read_images(b.start, b.stop))
            return self._clean_batch[1][[where[i] for i in ids]]

        return read

    def _stamp(self, piece: PieceId, rec: AttackRecord) -> tuple[tuple[int, int, int, int], ...] | None:
        """The stat of the piece's record and PNGs (inode, size, mtime, ctime): any write to one of
        them changes its ctime, which no user can set back."""
        paths = [
            self.run_dir.record_path(piece),
            *(self.run_dir.adv_image(piece.entry, i) for i in rec.image_ids),
        ]
        try:
            stats = [p.stat() for p in paths]
        except OSError:
            return None
        return tuple((s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for s in stats)

    def _attack_problem(self, entry: Entry, b: Batch) -> tuple[AttackRecord | None, str | None]:
        """The stored attack piece and why it cannot be trusted (HMAC, record, hash, ε), timed. A
        piece verified earlier in this run whose files are untouched since is not decoded again."""
        t0 = time.perf_counter()
        piece = PieceId.of_attack(entry.label, b.index)
        rec, why = self.run_dir.read_attack(piece)
        if rec is not None:
            stamp = self._stamp(piece, rec)
            if stamp is None or self._verified.get(piece) != stamp:
                batch_ids = self.ds.image_ids[b.start : b.stop]
                read = self._read_adv(entry.label)
                why = attack_problem(rec, piece, batch_ids, b.eps, read, self._read_clean(b))
                if why is None and stamp is not None:
                    self._verified[piece] = stamp
        self.timings["verify"] += time.perf_counter() - t0
        return rec, why

    def _attack_done(self, entry: Entry, b: Batch) -> bool:
        rec, why = self._attack_problem(entry, b)
        if why is not None:
            self._distrust(PieceId.of_attack(entry.label, b.index), why)
            return False
        return self._finished(rec)

    def _attack_jobs(self, clean_cache: dict[PieceId, npt.NDArray[np.uint8]]) -> Iterator[Job]:
        for entry in self.config.all_attacks:
            for b in self.batches:
                if self._attack_done(entry, b):
                    continue
                piece = PieceId.of_attack(entry.label, b.index)

                def load(entry: Entry = entry, b: Batch = b, piece: PieceId = piece) -> AttackInputs:
                    t0 = time.perf_counter()
                    images = self.ds.read_images(b.start, b.stop)
                    self.timings["io"] += time.perf_counter() - t0
                    clean_cache[piece] = images
                    targets = self.target_classes[b.start : b.stop] if entry.track == "targeted" else None
                    seed = derive_seed(self.config.seed, "attack", entry.label, b.index)
                    return AttackInputs(images, b.eps, targets, seed, piece)

                yield Job(piece, entry, load)

    def _finish_attack(
        self, job: Job, outcome: Outcome, clean_cache: dict[PieceId, npt.NDArray[np.uint8]]
    ) -> None:
        label, b = job.piece.entry, self.batches[job.piece.batch]
        clean = clean_cache.pop(job.piece, None)
        status, error, ids, out_hash = outcome.status, outcome.error, [], None
        if status == "ok":
            if clean is None:
                clean = self.ds.read_images(b.start, b.stop)
            try:
                t0 = time.perf_counter()
                value, ids = outcome.value, self.ds.image_ids[b.start : b.stop]
                kept = missing_mask(value)  # a submission may leave images out: those have no image
                if kept is not None:
                    value, clean, ids = [value[k] for k in kept], clean[kept], [ids[k] for k in kept]
                adv = project_outputs(value, clean, b.eps)
                t1 = time.perf_counter()
                self.run_dir.adv_image(label, "x").parent.mkdir(parents=True, exist_ok=True)
                # fast=True: lossless like the default, ~5x quicker to encode, files ~20 % larger;
                # encoding was the largest IO cost of a run.
                write_png_batch(adv, [self.run_dir.adv_image(label, i) for i in ids], fast=True)
                self.timings["projection"] += t1 - t0
                self.timings["io"] += time.perf_counter() - t1
                out_hash = pixels_hash(adv)
            except AdvEngineError as exc:
                status, error, ids = "crashed", f"{type(exc).__name__}: {exc}", []
        self.timings["attack"] += outcome.seconds
        self._add_setup(outcome)
        record = AttackRecord(
            piece=str(job.piece),
            status=status,
            seconds=outcome.seconds,
            eps=b.eps,
            image_ids=ids,
            output_hash=out_hash,
            error=error,
        )
        self.run_dir.save_record(job.piece, record)
        self.listener.piece(job.piece, status, outcome.seconds)

    # -- defenses -----------------------------------------------------------------------------------

    def _produced(self, attack: str, b: Batch) -> list[str]:
        rec = self.run_dir.attack_record(attack, b.index)
        return list(rec.image_ids) if rec else []

    def _input_hash(self, attack: str, b: Batch) -> str | None:
        """The hash of what a defense piece classifies: its attack piece's output (None for clean)."""
        if attack == CLEAN:
            return None
        rec = self.run_dir.attack_record(attack, b.index)
        return rec.output_hash if rec else None

    def _defense_problem(
        self, defense: str, attack: str, b: Batch
    ) -> tuple[DefenseRecord | None, str | None]:
        """The stored defense piece and why it cannot be trusted, or (None, None) when it is stale:
        its attack piece was redone with other images since (not damaged, so no warning)."""
        t0 = time.perf_counter()
        piece = PieceId.of_defense(defense, attack, b.index)
        rec, why = self.run_dir.read_defense(piece)
        if rec is not None and rec.input_hash != self._input_hash(attack, b):
            rec = None
        elif rec is not None:
            ids = self.ds.image_ids[b.start : b.stop] if attack == CLEAN else self._produced(attack, b)
            why = defense_problem(rec, piece, ids)
        self.timings["verify"] += time.perf_counter() - t0
        return rec, why

    def _defense_done(self, defense: str, attack: str, b: Batch) -> bool:
        rec, why = self._defense_problem(defense, attack, b)
        if why is not None:
            self._distrust(PieceId.of_defense(defense, attack, b.index), why)
            return False
        return self._finished(rec)

    def _verify_stored(self) -> int:
        """Before scoring: every stored record checked again (HMAC, hashes, every image's ε), so
        what is scored is what was verified; returns how many pieces failed and must be redone."""
        failed = 0
        for b in self.batches:  # batch-major: each batch's clean images are read once
            for entry in self.config.all_attacks:
                rec, why = self._attack_problem(entry, b)
                if why is not None or rec is None:
                    failed += 1
                    self._distrust(PieceId.of_attack(entry.label, b.index), why or "its record is gone")
        for d in self.config.defenses:
            for attack in (CLEAN, *(e.label for e in self.config.all_attacks)):
                for b in self.batches:
                    _, why = self._defense_problem(d.label, attack, b)
                    if why is not None:
                        failed += 1
                        self._distrust(PieceId.of_defense(d.label, attack, b.index), why)
        return failed

    def _defense_jobs(self, defense: Entry, targets: list[str]) -> Iterator[Job]:
        for attack in targets:
            for b in self.batches:
                if self._defense_done(defense.label, attack, b):
                    continue
                ids = self.ds.image_ids[b.start : b.stop] if attack == CLEAN else self._produced(attack, b)
                if not ids:
                    continue  # the attack made no images for this batch: nothing to classify
                piece = PieceId.of_defense(defense.label, attack, b.index)

                def load(
                    attack: str = attack, b: Batch = b, ids: list[str] = ids, piece: PieceId = piece
                ) -> DefenseInputs:
                    t0 = time.perf_counter()
                    if attack == CLEAN:
                        images = self.ds.read_images(b.start, b.stop)
                    else:
                        images = self._read_adv(attack)(ids)
                        # Checked again as read: a defense never classifies images its attack did not make.
                        if pixels_hash(images) != self._input_hash(attack, b):
                            raise ImageError(
                                f"{self.run_dir.adv_image(attack, '*')}: batch {b.index} changed since "
                                "its attack piece wrote it; rerun with --resume to redo that piece"
                            )
                    self.timings["io"] += time.perf_counter() - t0
                    seed = derive_seed(self.config.seed, "defense", defense.label, attack, b.index)
                    return DefenseInputs(images, seed, piece)

                yield Job(piece, defense, load)

    def _add_setup(self, outcome: Outcome) -> None:
        for stage, seconds in outcome.setup.items():
            self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def _finish_defense(self, job: Job, outcome: Outcome) -> None:
        attack, b = job.piece.attack or CLEAN, self.batches[job.piece.batch]
        ids = self.ds.image_ids[b.start : b.stop] if attack == CLEAN else self._produced(attack, b)
        labels = None
        if outcome.status == "ok":
            labels = [int(v) for v in np.asarray(outcome.value).tolist()]
        self.timings["defense"] += outcome.seconds
        self._add_setup(outcome)
        record = DefenseRecord(
            piece=str(job.piece),
            status=outcome.status,
            seconds=outcome.seconds,
            image_ids=ids,
            labels=labels,
            input_hash=self._input_hash(attack, b),
            output_hash=labels_hash(labels) if labels is not None else None,
            error=outcome.error,
        )
        self.run_dir.save_record(job.piece, record)
        self.listener.piece(job.piece, outcome.status, outcome.seconds)

    # -- collection ---------------------------------------------------------------------------------

    def _collect(self) -> RunData:
        attacks, defenses = self.config.all_attacks, self.config.defenses
        n = len(self.ds)
        index = {image_id: i for i, image_id in enumerate(self.ds.image_ids)}
        preds = np.full((len(attacks), len(defenses), n), NO_IMAGE, dtype=np.int64)
        clean = np.full((len(defenses), n), MISSING, dtype=np.int64)
        pieces: dict[str, list[PieceRecord]] = {e.key: [] for e in (*attacks, *defenses)}
        for a, att in enumerate(attacks):
            for b in self.batches:
                rec = self.run_dir.attack_record(att.label, b.index)
                if rec is None:
                    raise DatasetError(
                        f"attack piece {att.label} batch {b.index} has no record; rerun with --resume"
                    )
                pieces[att.key].append(rec)
                for image_id in rec.image_ids:
                    preds[a, :, index[image_id]] = MISSING
        for d, dfn in enumerate(defenses):
            for attack in (CLEAN, *(e.label for e in attacks)):
                for b in self.batches:
                    drec = self.run_dir.defense_record(dfn.label, attack, b.index)
                    if drec is None:
                        continue
                    pieces[dfn.key].append(drec)  # clean pieces too: their crashes are crashes
                    if drec.labels is None:
                        continue
                    rows = [index[i] for i in drec.image_ids]
                    if attack == CLEAN:
                        clean[d, rows] = drec.labels
                    else:
                        a = next(k for k, e in enumerate(attacks) if e.label == attack)
                        preds[a, d, rows] = drec.labels
        image_batch = np.zeros(n, dtype=np.int64)
        image_eps = np.zeros(n, dtype=np.int64)
        for b in self.batches:
            image_batch[b.start : b.stop] = b.index
            image_eps[b.start : b.stop] = b.eps
        return RunData(
            config=self.config,
            dataset_dir=self.ds.image_paths[0].parent.parent
            if self.ds.csv_path is not None
            else self.ds.image_paths[0].parent,
            dataset_hash=self.dataset_hash,
            image_ids=list(self.ds.image_ids),
            true_labels=self.true_labels,
            target_classes=self.target_classes,
            image_batch=image_batch,
            image_eps=image_eps,
            predictions=preds,
            clean_predictions=clean,
            pieces=pieces,
            timings=self.timings,
        )

    def partial_results(self) -> Results | None:
        """The scores of the records so far, by the same scoring as the finished run (a defense
        piece not yet run counts as its images unlabelled); None before every attack piece has a
        record. ``advengine serve`` shows them while a round is evaluated."""
        try:
            return build_results(self._collect())
        except DatasetError:
            return None

    # -- the whole run ------------------------------------------------------------------------------

    def run(self, *, resume: bool = False, retry_failed: bool = False) -> Results:
        """Run (or resume) the competition; ``retry_failed`` resumes and also redoes failed pieces."""
        self.retry_failed = retry_failed
        try:
            self._prepare(resume or retry_failed)
            try:
                self._stages()
            finally:
                self.executor.close()
            return self._score()
        finally:
            self.run_dir.unlock()

    def _stages(self) -> None:
        """The attack and defense stages, then the check of everything stored before scoring; a
        piece that fails it is redone in another pass."""
        say = self.listener.message
        attacks, defenses = self.config.all_attacks, self.config.defenses
        # The stored attack pieces checked batch by batch first (each batch's clean images decoded
        # once, not once per attack); listing the jobs then finds them verified (_stamp).
        for b in self.batches:
            for entry in attacks:
                self._attack_done(entry, b)
        for _ in range(MAX_PASSES):
            clean_cache: dict[PieceId, npt.NDArray[np.uint8]] = {}
            jobs = list(self._attack_jobs(clean_cache))
            total = len(attacks) * len(self.batches)
            say(f"attacks: {len(jobs)} of {total} pieces to run")
            self.listener.stage("attacks", total, total - len(jobs))
            t0 = time.perf_counter()
            self.executor.run(jobs, functools.partial(self._finish_attack, clean_cache=clean_cache))
            self.timings["attack_stage"] += time.perf_counter() - t0
            targets = [CLEAN, *(e.label for e in attacks)]
            djobs = [job for d in defenses for job in self._defense_jobs(d, targets)]
            say(f"defenses: {len(djobs)} pieces to run (on the clean images and every adversarial batch)")
            self.listener.stage("defenses", len(djobs), 0)
            t0 = time.perf_counter()
            self.executor.run(djobs, self._finish_defense)
            self.timings["defense_stage"] += time.perf_counter() - t0
            if self._verify_stored() == 0:
                say(f"verified every stored piece (HMAC, hashes, ε) in {self.timings['verify']:.1f} s")
                return
        raise DatasetError(
            f"{self.run_dir.root}: stored pieces kept failing their checks after {MAX_PASSES} passes; "
            "something else is writing this run dir"
        )

    def _score(self) -> Results:
        say = self.listener.message
        say("scoring")
        t0 = time.perf_counter()
        data = self._collect()
        results = build_results(data)
        self.timings["scoring"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_reports(self.run_dir.root, data, results)
        self.timings["reports"] = time.perf_counter() - t0
        results.timings = dict(self.timings)
        # results.json last: its presence means the run finished.
        save(self.run_dir.root / "results.json", results)
        self.run_dir.sign()
        say(f"wrote results.json, records.csv, leaderboard.md and the DEVKIT CSVs to {self.run_dir.root}")
        say(_stage_line(self.timings))
        return results


def run_competition(
    config: CompetitionConfig,
    out: Path,
    *,
    resume: bool = False,
    retry_failed: bool = False,
    executor: Executor | None = None,
    listener: Listener | None = None,
    key_dir: Path | None = None,
    verify: VerifyMode = "warn",
) -> Results:
    """Run (or resume) a competition in ``out`` and return the results object (results.json).

    ``retry_failed`` implies ``resume`` and also redoes the pieces that crashed or timed out.
    ``key_dir`` holds the run's HMAC key (default ``$ADVENGINE_CONFIG/keys``); ``verify="strict"``
    refuses a resumed run with a stored piece that fails its checks instead of redoing the piece.
    """
    competition = Competition(
        config, out, executor=executor, listener=listener, key_dir=key_dir, verify=verify
    )
    return competition.run(resume=resume, retry_failed=retry_failed)


#: The images a run of ``config`` works on (``advengine check`` reads a finished run's with it).
run_dataset = _load

__all__ = [
    "Batch",
    "Competition",
    "Listener",
    "VerifyMode",
    "dataset_hash",
    "eps_schedule",
    "run_competition",
    "run_dataset",
]
