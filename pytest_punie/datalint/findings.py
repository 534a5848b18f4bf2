"""A lint finding: which check, how bad, where (file and line), what."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str  # error | warning
    path: str
    line: int | None  # None: about the whole file or dataset
    message: str

    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def to_dict(self) -> dict:
        return asdict(self)
