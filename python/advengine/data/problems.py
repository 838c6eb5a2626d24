"""A found problem, kept as data so ``verify`` can list them all while ``load_dataset`` raises the
first one as the exception its class names."""

from __future__ import annotations

from dataclasses import dataclass

from advengine.errors import AdvEngineError


@dataclass(frozen=True)
class Problem:
    error: type[AdvEngineError]
    message: str

    def exception(self) -> AdvEngineError:
        return self.error(self.message)

    def to_json(self) -> dict[str, str]:
        return {"error": self.error.__name__, "message": self.message}


__all__ = ["Problem"]
