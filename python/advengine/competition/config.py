"""Competition configuration: a TOML file → one typed, validated :class:`CompetitionConfig`.

The file's shape is :class:`ConfigFile` (``advengine config schema`` prints its JSON Schema). Every bad
key or value raises one :class:`~advengine.errors.ConfigError` that names the file and the key, e.g.
``config.toml: attacks[2].params.steps must be an integer, got 'ten'``. The roster is then resolved
against the attack/defense registries (after importing the configured plugins): every entry's params
are parsed once by its own params model into a :class:`~advengine.types.BuiltinEntry`, so a typo fails
before any piece runs and workers get typed params. ``[[submissions]]`` tables are resolved by the
package that runs them (:func:`advengine.competition.pieces.entry_kind`).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError
from pydantic import Strict as StrictMode

from advengine.attacks import ATTACKS
from advengine.attacks.adaptive import PipelineFields, spec_params
from advengine.competition.pieces import entry_kind
from advengine.competition.plugins import import_plugins
from advengine.competition.scoring import ScoringMode
from advengine.defenses import DEFENSES
from advengine.errors import ConfigError
from advengine.registry import Component
from advengine.types import (
    TRACKS,
    BuiltinEntry,
    Entry,
    Label,
    Membership,
    Resources,
    SubmissionEntry,
    SubmissionTable,
    Track,
)
from advengine.validation import Strict, explain, must, phrased

EpsPolicy = Literal["cycle", "random"]
Ranking = Literal["score", "strength"]
RoundMode = Literal["code", "uploads"]

#: The budgets of NIPS 2017 (pixel units); "cycle" gives batch k the value EPS_VALUES[k mod 4].
EPS_VALUES = (4, 8, 12, 16)
#: The roster's keys in :meth:`CompetitionConfig.to_json` (the rest are the run's settings).
ROSTER_KEYS = ("attacks", "targeted_attacks", "defenses")
#: The longest time limit per piece (seconds): a finite bound, so a hung piece always ends.
MAX_TIME_LIMIT = 86_400.0


def _limit_or_none(value: float) -> float:
    # inf is "no limit" (only an in-process run accepts it); every finite limit is at most a day.
    if math.isnan(value) or (math.isfinite(value) and value > MAX_TIME_LIMIT):
        raise must(f"a number of seconds in (0, {MAX_TIME_LIMIT:g}] (one day at most), or inf (no limit)")
    return value


StrList = Annotated[
    tuple[Annotated[str, StrictMode(), Field(min_length=1)], ...], phrased("a list of non-empty strings")
]


def _tables(section: str) -> Any:
    return phrased(f"an array of tables ([[{section}]])")


class Settings(Strict):
    """The scalar settings of a competition, as in the file and after command-line overrides."""

    seed: Annotated[int, StrictMode(), Field(ge=0), phrased("an integer >= 0")] = 0
    """Every random choice of the run derives from it."""
    batch_size: Annotated[int, StrictMode(), Field(ge=1), phrased("an integer >= 1")] = 100
    """Images per batch (NIPS 2017: 100)."""
    eps: EpsPolicy = "cycle"
    """ε per batch: "cycle" (4, 8, 12, 16 in turn) or "random" (seeded)."""
    time_limit: Annotated[
        float,
        StrictMode(),
        # The maximum is _limit_or_none's; JSON has no inf, so "no limit" exists only in TOML.
        Field(gt=0, json_schema_extra={"maximum": MAX_TIME_LIMIT}),
        AfterValidator(_limit_or_none),
        phrased(f"a number of seconds in (0, {MAX_TIME_LIMIT:g}] (one day at most), or inf (no limit)"),
    ] = 500.0
    """Seconds per piece (one attack or defense on one batch), from the moment it starts work on its
    batch (NIPS 2017: 500 per 100 images); ``inf`` for none, which only ``--workers 0`` accepts."""
    warmup_limit: Annotated[
        float,
        StrictMode(),
        Field(gt=0, le=MAX_TIME_LIMIT, allow_inf_nan=False),
        phrased(f"a number of seconds in (0, {MAX_TIME_LIMIT:g}]"),
    ] = 600.0
    """Seconds a worker may spend building an entry (loading its models) before its first piece; not
    part of ``time_limit``."""
    scoring: ScoringMode = "paper"
    """Scores: "paper" (the report's normalised scores, the default), "original" (the organisers' raw
    counts), "devkit" (the participants' toolkit: a missing label is an attack's success) or
    "proposal" (normalised, each entry scored only against other teams' entries)."""
    ranking: Ranking = "score"
    """How the leaderboards are ordered: "score" (the scoring mode's score) or "strength" (a
    PageRank-like strength: points against strong opponents count more; docs/competition.md)."""
    providers: StrList = ("CPUExecutionProvider",)
    """ONNX Runtime execution providers, in order of preference."""
    plugins: StrList = ()
    """Modules imported first (in the engine and every worker) that register attacks or defenses."""


Limit = Annotated[int, StrictMode(), Field(ge=1), phrased("an integer >= 1")]


class DatasetTable(Strict):
    """``[dataset]``: which images (default: the embedded 100-image sample, all of them)."""

    dir: Annotated[str, StrictMode(), Field(min_length=1), phrased("a directory path")] | None = None
    """images/ + dev_dataset.csv, relative to the config file; default: the embedded sample."""
    limit: Limit | None = None
    """Only the first N images (by ImageId)."""


class EntryTable(Membership, Resources):
    """One ``[[attacks]]``, ``[[targeted_attacks]]`` or ``[[defenses]]`` table."""

    name: Annotated[
        str, StrictMode(), Field(min_length=1), phrased("the registered name of an attack or defense")
    ] = Field(default="", validate_default=True)
    """The registered attack or defense (``advengine list``)."""
    label: Label | None = None
    """The name in the results and the run directory (default: ``name``)."""
    params: Annotated[dict[str, Any], phrased("a table")] = Field(default_factory=dict)
    """The attack's or defense's parameters (``advengine list`` names them and their defaults)."""
    models: StrList = ()
    """Source models (default: the attack's or defense's own)."""
    source_defense: Label | None = None
    """Adaptive attacks only (bpda-pgd, eot-pgd, apgd-*, square-linf, autoattack-lite): the label of a
    ``[[defenses]]`` entry whose whole pipeline (transforms, random draws, models) the attack takes
    as its source, the audit setting; NIPS 2017 attacks never saw the defenses (docs/competition.md)."""


class RoundTable(Strict):
    """One ``[[rounds]]`` table: a round of the competition (the development rounds on DEV, the final
    round on a secret set), run with the file's settings on its own dataset and roster. A roster
    section the round does not give is the file's."""

    name: Label = Field(default="", validate_default=True)
    """The round's name: its directory under ``--out`` and its key in rounds.json."""
    mode: RoundMode = "code"
    """How ``advengine serve`` takes the round's entries: "code" (submissions run by the engine, the
    final round of NIPS 2017) or "uploads" (the test rounds: teams upload adversarial images, then
    labels of the released images; docs/server.md). ``advengine eval`` runs the roster either way."""
    dataset: DatasetTable | None = None
    """The round's images (default: the file's ``[dataset]``)."""
    attacks: Annotated[list[EntryTable], _tables("rounds.attacks")] | None = None
    """Non-targeted attacks of this round."""
    targeted_attacks: Annotated[list[EntryTable], _tables("rounds.targeted_attacks")] | None = None
    """Targeted attacks of this round."""
    defenses: Annotated[list[EntryTable], _tables("rounds.defenses")] | None = None
    """Defenses of this round."""
    submissions: Annotated[list[SubmissionTable], _tables("rounds.submissions")] | None = None
    """Original submissions of this round."""


class ConfigFile(Settings):
    """The competition TOML, as written."""

    dataset: DatasetTable = DatasetTable()
    """Which images."""
    attacks: Annotated[list[EntryTable], _tables("attacks")] = Field(default_factory=list)
    """Non-targeted attacks."""
    targeted_attacks: Annotated[list[EntryTable], _tables("targeted_attacks")] = Field(default_factory=list)
    """Targeted attacks."""
    defenses: Annotated[list[EntryTable], _tables("defenses")] = Field(default_factory=list)
    """Defenses."""
    submissions: Annotated[list[SubmissionTable], _tables("submissions")] = Field(default_factory=list)
    """Original NIPS 2017 submissions (each joins the track its metadata.json names)."""
    rounds: Annotated[list[RoundTable], _tables("rounds")] = Field(default_factory=list)
    """Rounds, run one after the other, each with its own results (none: one round, the file's)."""


_SECTIONS: tuple[tuple[str, Track], ...] = (
    ("attacks", "nontargeted"),
    ("targeted_attacks", "targeted"),
    ("defenses", "defense"),
)


class CompetitionConfig(Settings):
    """A whole competition, its roster resolved. ``dataset_dir=None`` means the embedded sample."""

    dataset_dir: Path | None = None
    limit: Limit | None = None
    attacks: tuple[Entry, ...] = ()
    targeted_attacks: tuple[Entry, ...] = ()
    defenses: tuple[Entry, ...] = ()
    #: Where the config came from (for messages only; not part of the fingerprint).
    source: str = "<defaults>"
    #: The rounds, each a whole competition of its own (empty: this config is the one round).
    rounds: tuple[CompetitionConfig, ...] = ()
    #: This config's round name, where it is a round.
    round_name: str | None = None
    #: This round's mode (``RoundTable.mode``); not part of the fingerprint: it is how entries arrive.
    round_mode: RoundMode = "code"

    @property
    def all_attacks(self) -> tuple[Entry, ...]:
        """Non-targeted then targeted attacks: the order of every attack axis in the results."""
        return self.attacks + self.targeted_attacks

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self.attacks + self.targeted_attacks + self.defenses

    def overridden(self, **changes: Any) -> CompetitionConfig:
        """A copy with the given fields replaced (command-line flags); ``None`` values are ignored.
        The rounds get the same changes, except the dataset dir (each round has its own)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        rounds = tuple(r.overridden(**{**kept, "dataset_dir": None}) for r in self.rounds)
        try:
            return CompetitionConfig.model_validate({**dict(self), **kept, "rounds": rounds})
        except ValidationError as exc:
            raise explain(exc, "command line") from None

    def with_roster(self, entries: Sequence[Entry]) -> CompetitionConfig:
        """A copy whose roster is ``entries`` (each goes to the section of its track)."""
        by_track: dict[Track, tuple[Entry, ...]] = dict.fromkeys(TRACKS, ())
        for e in entries:
            by_track[e.track] += (e,)
        return self.model_copy(
            update={
                "attacks": by_track["nontargeted"],
                "targeted_attacks": by_track["targeted"],
                "defenses": by_track["defense"],
            }
        )

    def for_run(self, run_root: Path) -> CompetitionConfig:
        """The config as the run in ``run_root`` runs it: entries that use the run's time limit and
        log directory (submissions) get them."""
        logs = str(run_root.resolve() / "logs")
        return self.with_roster([e.for_run(self.time_limit, logs) for e in self.entries])

    def to_json(self) -> dict[str, Any]:
        """Everything that determines the results (the resume fingerprint and results.json)."""
        return {
            "dataset": {
                "dir": str(self.dataset_dir) if self.dataset_dir is not None else None,
                "limit": self.limit,
            },
            "batch_size": self.batch_size,
            "eps": self.eps,
            "time_limit": _seconds(self.time_limit),
            "warmup_limit": _seconds(self.warmup_limit),
            "seed": self.seed,
            "scoring": self.scoring,
            # Only when set, so the fingerprint of a run made before the option existed is unchanged.
            **({"ranking": self.ranking} if self.ranking != "score" else {}),
            "providers": list(self.providers),
            "plugins": list(self.plugins),
            "attacks": [e.to_json() for e in self.attacks],
            "targeted_attacks": [e.to_json() for e in self.targeted_attacks],
            "defenses": [e.to_json() for e in self.defenses],
        }


def _seconds(value: float) -> float | None:
    """A limit for JSON: ``inf`` (no limit) as null."""
    return value if math.isfinite(value) else None


def component(track: Track, name: str) -> Component[Any]:
    """The registered attack or defense ``name`` of ``track``'s kind."""
    return DEFENSES.get(name) if track == "defense" else ATTACKS.get(name)


def _aimed(
    source: str, key: str, comp: Component[Any], table: EntryTable, defenses: dict[str, EntryTable]
) -> EntryTable:
    """``table`` with the pipeline of its ``source_defense`` filled into its params and models."""
    target = defenses.get(table.source_defense or "")
    if target is None:
        known = ", ".join(sorted(defenses)) or "none"
        raise ConfigError(
            f"{source}: {key}.source_defense {table.source_defense!r} is no defense label; known: {known}"
        )
    if not issubclass(comp.params_type, PipelineFields):
        raise ConfigError(
            f"{source}: {key}.source_defense: {table.name!r} cannot take a pipeline as its source; use an "
            "adaptive attack (bpda-pgd, eot-pgd, apgd-ce, apgd-dlr, apgd-t, square-linf, autoattack-lite)"
        )
    spec = DEFENSES.build(target.name, target.params, target.models).spec()
    if spec is None:
        raise ConfigError(
            f"{source}: {key}.source_defense {table.source_defense!r} does not describe its pipeline"
        )
    clash = sorted(set(spec_params(spec)) & set(table.params))
    if clash:
        raise ConfigError(f"{source}: {key}.params {clash} come from source_defense; remove them")
    params = {**table.params, **spec_params(spec)}
    return table.model_copy(update={"params": params, "models": table.models or spec.models})


def _builtin(
    source: str, section: str, index: int, track: Track, table: EntryTable, defenses: dict[str, EntryTable]
) -> BuiltinEntry:
    key = f"{section}[{index}]"
    try:
        comp = component(track, table.name)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {key}.name: {exc}") from None
    if track != "defense" and comp.setting("track") != track:
        where = "targeted_attacks" if comp.setting("track") == "targeted" else "attacks"
        raise ConfigError(
            f"{source}: {key}.name {table.name!r} is a {comp.setting('track')} attack; list it under {where}"
        )
    if table.source_defense is not None:
        if track == "defense":
            raise ConfigError(f"{source}: {key}.source_defense is for attacks only; remove it")
        table = _aimed(source, key, comp, table, defenses)
    return BuiltinEntry(
        track=track,
        name=table.name,
        label=table.label or table.name,
        params=comp.parse(table.params, source, (section, index, "params")),
        given=table.params,
        models=table.models,
        team=table.team,
        baseline=table.baseline,
        num_cpus=table.num_cpus,
        num_gpus=table.num_gpus,
    )


def _resolve(table: SubmissionTable, source: str, where: str) -> Entry:
    resolve = entry_kind("submission", SubmissionEntry.runner).resolve
    assert resolve is not None  # the submission kind reads [[submissions]] tables
    return resolve(table, source, where)


def parse_config(data: dict[str, Any], source: str = "config.toml") -> CompetitionConfig:
    """Validate a parsed TOML document. Relative dataset dirs are taken as given (caller resolves)."""
    try:
        doc = ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, source) from None
    import_plugins(doc.plugins, where=f"{source}: plugins")
    roster: list[tuple[str, Entry]] = []
    defenses = {t.label or t.name: t for t in doc.defenses}
    for section, track in _SECTIONS:
        for i, table in enumerate(getattr(doc, section)):
            roster.append((f"{section}[{i}]", _builtin(source, section, i, track, table, defenses)))
    for i, sub in enumerate(doc.submissions):
        where = f"submissions[{i}]"
        roster.append((where, _resolve(sub, source, where)))
    seen: dict[str, str] = {}
    for where, e in roster:
        if e.label in seen:
            raise ConfigError(
                f"{source}: {where}.label {e.label!r} is already used by {seen[e.label]}; "
                "give one of them another label"
            )
        seen[e.label] = where
    cfg = CompetitionConfig(
        **doc.model_dump(include=set(Settings.model_fields)),
        dataset_dir=Path(doc.dataset.dir) if doc.dataset.dir else None,
        limit=doc.dataset.limit,
        source=source,
        rounds=tuple(_round(data, doc, i, source) for i in range(len(doc.rounds))),
    )
    return cfg.with_roster([e for _, e in roster])


def _round(data: dict[str, Any], doc: ConfigFile, index: int, source: str) -> CompetitionConfig:
    """Round ``index`` as a config of its own: the file's settings, its dataset and roster sections
    (or the file's where it gives none)."""
    table: dict[str, Any] = data["rounds"][index]
    given = doc.rounds[index]
    own = {k: table[k] for k in ("dataset", *(s for s, _ in _SECTIONS), "submissions") if k in table}
    rest = {k: v for k, v in data.items() if k != "rounds"}
    cfg = parse_config({**rest, **own}, source=f"{source}: rounds[{index}] ({given.name})")
    return cfg.model_copy(update={"round_name": given.name, "round_mode": given.mode})


def load_config(path: Path | None = None) -> CompetitionConfig:
    """The config at ``path``, or the embedded default (the bundled sample, batches of 100, CPU).

    A relative ``dataset.dir`` or submission ``path`` in a file is taken relative to that file's
    directory.
    """
    if path is None:
        text = files("advengine.competition").joinpath("default.toml").read_text(encoding="utf-8")
        return parse_config(tomllib.loads(text), source="default config")
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file; pass --config with a TOML file or leave it out")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    except RecursionError:  # tomllib recurses per nesting level of arrays and inline tables
        raise ConfigError(f"{path}: nested too deeply to be a competition config; fix the file") from None
    found = data.get("rounds")
    rounds: list[Any] = found if isinstance(found, list) else []
    for table in [data, *(r for r in rounds if isinstance(r, dict))]:
        subs = table.get("submissions")
        for sub in subs if isinstance(subs, list) else []:
            if isinstance(sub, dict) and isinstance(sub.get("path"), str) and sub["path"]:
                sub["path"] = str((path.parent / sub["path"]).resolve())  # relative to the config file
    return _relative_to(parse_config(data, source=str(path)), path.parent)


def _relative_to(cfg: CompetitionConfig, base: Path) -> CompetitionConfig:
    """``cfg`` (and its rounds) with a relative dataset dir taken relative to ``base``."""
    update: dict[str, Any] = {"rounds": tuple(_relative_to(r, base) for r in cfg.rounds)}
    if cfg.dataset_dir is not None and not cfg.dataset_dir.is_absolute():
        update["dataset_dir"] = (base / cfg.dataset_dir).resolve()
    return cfg.model_copy(update=update)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the competition TOML (``advengine config schema``)."""
    return ConfigFile.model_json_schema()


__all__ = [
    "EPS_VALUES",
    "MAX_TIME_LIMIT",
    "ROSTER_KEYS",
    "CompetitionConfig",
    "ConfigFile",
    "Entry",
    "RoundTable",
    "Track",
    "component",
    "config_schema",
    "load_config",
    "parse_config",
]
