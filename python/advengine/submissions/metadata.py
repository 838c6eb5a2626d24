"""``metadata.json`` of a NIPS 2017 submission (protocol §2.2).

The original validators require all four fields; ``container_gpu`` is documented as optional but
required by them, so it is accepted when missing and only reported as a warning by ``validate``.
Extra fields are ignored, as they were. Unlike the original tool, malformed JSON is one clear error
instead of a crash.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import PurePosixPath
from typing import Any, Literal, cast

from advengine.errors import SubmissionError

SubmissionType = Literal["attack", "targeted_attack", "defense"]
TYPES: tuple[SubmissionType, ...] = ("attack", "targeted_attack", "defense")
#: metadata ``type`` → the competition track it competes in.
TRACKS = {"attack": "nontargeted", "targeted_attack": "targeted", "defense": "defense"}


@dataclasses.dataclass(frozen=True)
class Metadata:
    type: SubmissionType
    entry_point: str
    container: str
    container_gpu: str | None

    @property
    def track(self) -> str:
        return TRACKS[self.type]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _entry_point(source: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SubmissionError(f"{source}: entry_point must be the script's path inside the submission")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value:
        raise SubmissionError(
            f"{source}: entry_point {value!r} must be a relative path inside the submission (no '..')"
        )
    return str(path)


def parse_metadata(text: str | bytes, source: str = "metadata.json") -> Metadata:
    """Validate the text of a metadata.json."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SubmissionError(f"{source}: not valid JSON ({exc}); fix the file") from None
    except RecursionError:  # json recurses per nesting level: a few thousand "[" are enough
        raise SubmissionError(f"{source}: nested too deeply to be a metadata.json; fix the file") from None
    if not isinstance(data, dict):
        raise SubmissionError(f"{source}: must be a JSON object with type, container and entry_point")
    missing = [k for k in ("type", "container", "entry_point") if k not in data]
    if missing:
        raise SubmissionError(f"{source}: missing field {missing[0]!r} (need type, container, entry_point)")
    kind = data["type"]
    if kind not in TYPES:
        raise SubmissionError(f"{source}: type must be one of {', '.join(TYPES)}, got {kind!r}")
    container = data["container"]
    if not isinstance(container, str) or not container:
        raise SubmissionError(f"{source}: container must be a Docker image name, got {container!r}")
    gpu = data.get("container_gpu")
    if gpu is not None and (not isinstance(gpu, str) or not gpu):
        raise SubmissionError(f"{source}: container_gpu must be a Docker image name, got {gpu!r}")
    return Metadata(
        type=cast(SubmissionType, kind),
        entry_point=_entry_point(source, data["entry_point"]),
        container=container,
        container_gpu=gpu,
    )


__all__ = ["TRACKS", "TYPES", "Metadata", "SubmissionType", "parse_metadata"]
