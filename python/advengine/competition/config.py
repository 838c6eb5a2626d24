"""Competition configuration: a TOML file → typed, validated dataclasses.

Every bad key or value raises one :class:`~advengine.errors.ConfigError` that names the file and the
key, e.g. ``config.toml: attacks[2].params.steps must be an integer, got 'ten'``. The roster is
checked against the attack/defense registries (after importing the configured plugins) and every
entry's params are parsed by its own params dataclass, so a typo fails before any piece runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, cast

from advengine.attacks import attack_class
from advengine.competition.plugins import import_plugins
from advengine.defenses import defense_class
from advengine.errors import ConfigError
from advengine.params import parse_params
from advengine.types import CLEAN, Track

EpsPolicy = Literal["cycle", "random"]
ScoringMode = Literal["paper", "original"]

#: The budgets of NIPS 2017 (pixel units); "cycle" gives batch k the value EPS_VALUES[k mod 4].
EPS_VALUES = (4, 8, 12, 16)
#: Labels become directory names, so they are kept to a portable alphabet.
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

_TOP_KEYS = {
    "seed",
    "batch_size",
    "eps",
    "time_limit",
    "scoring",
    "providers",
    "plugins",
    "dataset",
    "attacks",
    "targeted_attacks",
    "defenses",
    "submissions",
}
_ENTRY_KEYS = {"name", "label", "params", "models"}
_SECTIONS: tuple[tuple[str, Track], ...] = (
    ("attacks", "nontargeted"),
    ("targeted_attacks", "targeted"),
    ("defenses", "defense"),
)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One roster entry: a registered attack or defense with its parameters and source models."""

    track: Track
    name: str
    label: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    models: tuple[str, ...] = ()
    #: Path of a NIPS17 submission (dir or archive) run by advengine.submissions; None for built-ins.
    submission: str | None = None

    @property
    def key(self) -> str:
        """Identifies the built piece inside a warm worker (same key → same instance), so it covers
        everything the instance is built from, not just the label."""
        spec = json.dumps(self.to_json(), sort_keys=True)
        return f"{self.track}/{self.label}/{hashlib.sha256(spec.encode()).hexdigest()[:16]}"

    def to_json(self) -> dict[str, Any]:
        return {
            "track": self.track,
            "name": self.name,
            "label": self.label,
            "params": dict(self.params),
            "models": list(self.models),
            **({"submission": self.submission} if self.submission is not None else {}),
        }


@dataclasses.dataclass(frozen=True)
class CompetitionConfig:
    """A whole competition. ``dataset_dir=None`` means the embedded 100-image sample."""

    dataset_dir: Path | None = None
    limit: int | None = None
    batch_size: int = 100
    eps: EpsPolicy = "cycle"
    time_limit: float = 500.0
    seed: int = 0
    scoring: ScoringMode = "paper"
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    plugins: tuple[str, ...] = ()
    attacks: tuple[Entry, ...] = ()
    targeted_attacks: tuple[Entry, ...] = ()
    defenses: tuple[Entry, ...] = ()
    #: Where the config came from (for messages only; not part of the fingerprint).
    source: str = "<defaults>"

    @property
    def all_attacks(self) -> tuple[Entry, ...]:
        """Non-targeted then targeted attacks: the order of every attack axis in the results."""
        return self.attacks + self.targeted_attacks

    def overridden(self, **changes: Any) -> CompetitionConfig:
        """A copy with the given fields replaced (command-line flags); ``None`` values are ignored."""
        kept = {k: v for k, v in changes.items() if v is not None}
        new = dataclasses.replace(self, **kept)
        _check_scalars(new, "command line")
        return new

    def to_json(self) -> dict[str, Any]:
        """Everything that determines the results (the resume fingerprint and results.json)."""
        return {
            "dataset": {
                "dir": str(self.dataset_dir) if self.dataset_dir is not None else None,
                "limit": self.limit,
            },
            "batch_size": self.batch_size,
            "eps": self.eps,
            "time_limit": self.time_limit,
            "seed": self.seed,
            "scoring": self.scoring,
            "providers": list(self.providers),
            "plugins": list(self.plugins),
            "attacks": [e.to_json() for e in self.attacks],
            "targeted_attacks": [e.to_json() for e in self.targeted_attacks],
            "defenses": [e.to_json() for e in self.defenses],
        }


def _fail(source: str, key: str, what: str, value: Any) -> ConfigError:
    return ConfigError(f"{source}: {key} must be {what}, got {value!r}")


def _int(source: str, key: str, value: Any, lo: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (lo is not None and value < lo):
        raise _fail(source, key, "an integer" if lo is None else f"an integer >= {lo}", value)
    return value


def _number(source: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail(source, key, "a positive number of seconds", value)
    return float(value)


def _str_list(source: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(source, key, "a list of non-empty strings", value)
    return tuple(value)


def _choice(source: str, key: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise _fail(source, key, "one of " + ", ".join(map(repr, choices)), value)
    return cast(str, value)


def _check_scalars(cfg: CompetitionConfig, source: str) -> None:
    _int(source, "batch_size", cfg.batch_size, 1)
    _int(source, "seed", cfg.seed, 0)
    if cfg.limit is not None:
        _int(source, "dataset.limit", cfg.limit, 1)
    _number(source, "time_limit", cfg.time_limit)


def _params(source: str, key: str, entry: Entry) -> None:
    """Parse the entry's params with its own dataclass, so bad values fail at load time."""
    cls = attack_class(entry.name) if entry.track != "defense" else defense_class(entry.name)
    owner = f"{source}: {key}.params"
    try:
        parse_params(cls.params_type, dict(entry.params), owner=owner)
    except ConfigError as exc:
        msg = str(exc)
        rest = msg.removeprefix(owner + ": ")
        field = rest.split(" ", 1)[0]
        # "…params: steps must be…" reads better as "…params.steps must be…".
        if msg != rest and field in entry.params:
            raise ConfigError(f"{owner}.{rest}") from None
        raise
    if entry.track != "defense":
        track = attack_class(entry.name).track
        if track != entry.track:
            where = "targeted_attacks" if track == "targeted" else "attacks"
            raise ConfigError(
                f"{source}: {key}.name {entry.name!r} is a {track} attack; list it under {where}"
            )


def _entry(source: str, section: str, index: int, track: Track, raw: Any) -> Entry:
    key = f"{section}[{index}]"
    if not isinstance(raw, dict):
        raise _fail(source, key, "a table with name, params, models, label", raw)
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: {key}.{unknown[0]} is not a known key (known: name, label, params, models)"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(source, f"{key}.name", "the registered name of an attack or defense", name)
    try:
        (defense_class if track == "defense" else attack_class)(name)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {key}.name: {exc}") from None
    label = raw.get("label", name)
    if not isinstance(label, str) or not _LABEL.match(label) or label == CLEAN:
        raise _fail(source, f"{key}.label", "letters, digits, '.', '_' or '-' (not 'clean')", label)
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise _fail(source, f"{key}.params", "a table", params)
    models = _str_list(source, f"{key}.models", raw.get("models", []))
    entry = Entry(track=track, name=name, label=label, params=params, models=models)
    _params(source, key, entry)
    return entry


def parse_config(data: Mapping[str, Any], source: str = "config.toml") -> CompetitionConfig:
    """Validate a parsed TOML document. Relative dataset dirs are taken as given (caller resolves)."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: {unknown[0]} is not a known key (known: {', '.join(sorted(_TOP_KEYS))})"
        )
    base = CompetitionConfig()
    plugins = _str_list(source, "plugins", data.get("plugins", []))
    import_plugins(plugins, where=f"{source}: plugins")
    dataset = data.get("dataset", {})
    if not isinstance(dataset, dict):
        raise _fail(source, "dataset", "a table with dir and limit", dataset)
    bad = sorted(set(dataset) - {"dir", "limit"})
    if bad:
        raise ConfigError(f"{source}: dataset.{bad[0]} is not a known key (known: dir, limit)")
    ddir = dataset.get("dir")
    if ddir is not None and (not isinstance(ddir, str) or not ddir):
        raise _fail(source, "dataset.dir", "a directory path", ddir)
    entries: dict[str, tuple[Entry, ...]] = {}
    labels: dict[str, str] = {}
    for section, track in _SECTIONS:
        raw = data.get(section, [])
        if not isinstance(raw, list):
            raise _fail(source, section, "an array of tables ([[" + section + "]])", raw)
        built = []
        for i, item in enumerate(raw):
            entry = _entry(source, section, i, track, item)
            if entry.label in labels:
                raise ConfigError(
                    f"{source}: {section}[{i}].label {entry.label!r} is already used by "
                    f"{labels[entry.label]}; give one of them another label"
                )
            labels[entry.label] = f"{section}[{i}]"
            built.append(entry)
        entries[section] = tuple(built)
    # [[submissions]]: their track comes from each one's metadata.json (advengine.submissions).
    from advengine.submissions.roster import parse_submissions

    for i, sub in enumerate(parse_submissions(data.get("submissions", []), source)):
        if sub.label in labels:
            raise ConfigError(
                f"{source}: submissions[{i}] is named {sub.label!r}, already used by {labels[sub.label]}; "
                "give it another label"
            )
        labels[sub.label] = f"submissions[{i}]"
        section = next(name for name, track in _SECTIONS if track == sub.track)
        entries[section] += (sub,)
    cfg = CompetitionConfig(
        dataset_dir=Path(ddir) if ddir else None,
        limit=dataset.get("limit"),
        batch_size=data.get("batch_size", base.batch_size),
        eps=cast(EpsPolicy, _choice(source, "eps", data.get("eps", base.eps), ("cycle", "random"))),
        time_limit=data.get("time_limit", base.time_limit),
        seed=data.get("seed", base.seed),
        scoring=cast(
            ScoringMode, _choice(source, "scoring", data.get("scoring", base.scoring), ("paper", "original"))
        ),
        providers=_str_list(source, "providers", data.get("providers", list(base.providers))),
        plugins=plugins,
        attacks=entries["attacks"],
        targeted_attacks=entries["targeted_attacks"],
        defenses=entries["defenses"],
        source=source,
    )
    _check_scalars(cfg, source)
    return cfg


def load_config(path: Path | None = None) -> CompetitionConfig:
    """The config at ``path``, or the embedded default (the bundled sample, batches of 25, CPU).

    A relative ``dataset.dir`` in a file is taken relative to that file's directory.
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
    for sub in data.get("submissions", []) if isinstance(data.get("submissions"), list) else []:
        if isinstance(sub, dict) and isinstance(sub.get("path"), str) and sub["path"]:
            sub["path"] = str((path.parent / sub["path"]).resolve())  # relative to the config file
    cfg = parse_config(data, source=str(path))
    if cfg.dataset_dir is not None and not cfg.dataset_dir.is_absolute():
        cfg = dataclasses.replace(cfg, dataset_dir=(path.parent / cfg.dataset_dir).resolve())
    return cfg


__all__ = ["CLEAN", "EPS_VALUES", "CompetitionConfig", "Entry", "Track", "load_config", "parse_config"]
