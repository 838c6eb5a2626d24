"""``metadata.json`` of a NIPS 2017 submission (protocol §2.2).

The original validators require all four fields; ``container_gpu`` is documented as optional but
required by them, so it is accepted when missing and only reported as a warning by ``validate``.
Extra fields are ignored, as they were. Unlike the original tool, malformed JSON is one clear error
instead of a crash.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic import Strict as StrictMode

from advengine.errors import SubmissionError
from advengine.types import Track
from advengine.validation import explain, must, phrased

SubmissionType = Literal["attack", "targeted_attack", "defense"]
TYPES: tuple[SubmissionType, ...] = ("attack", "targeted_attack", "defense")
#: metadata ``type`` → the competition track it competes in.
TRACKS: dict[SubmissionType, Track] = {
    "attack": "nontargeted",
    "targeted_attack": "targeted",
    "defense": "defense",
}


def _relative(value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value:
        raise must("a relative path inside the submission (no '..')")
    return str(path)


Image = Annotated[str, StrictMode(), Field(min_length=1), phrased("a Docker image name")]


class Metadata(BaseModel):
    # Not advengine.validation.Strict: the original tools ignore unknown fields, so this does too.
    model_config = ConfigDict(frozen=True, extra="ignore")

    type: SubmissionType
    entry_point: Annotated[
        str,
        StrictMode(),
        Field(pattern=r"\S"),
        phrased("the script's path inside the submission"),
        AfterValidator(_relative),
    ]
    container: Image
    container_gpu: Image | None = None

    @property
    def track(self) -> Track:
        return TRACKS[self.type]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump()


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
    try:
        return Metadata.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, source, error=SubmissionError) from None


__all__ = ["TRACKS", "TYPES", "Metadata", "SubmissionType", "parse_metadata"]
