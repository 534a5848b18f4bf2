"""A lint finding: which check, how bad, where (file and line), what."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import cast

from pytest_punie.resultsformat import FindingRow


@dataclass(frozen=True)
class Finding:
    """One data-lint finding, located at its file and line, in the user's terms."""

    check: str
    severity: str  # error | warning
    path: str
    line: int | None  # None: about the whole file or dataset
    message: str

    def where(self) -> str:
        """path:line (or the path alone), as editors and terminals link it."""
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def to_dict(self) -> FindingRow:
        """The finding as the results document keeps it."""
        return cast(FindingRow, asdict(self))
