"""User-facing errors: each names the file and line it is about."""

from __future__ import annotations

from pathlib import Path


class PunieError(Exception):
    """An error in the user's input, reported without a traceback."""

    def __init__(self, path: str | Path | None, line: int | None, message: str, key: str = ""):
        self.path = str(path) if path is not None else None
        self.line = line
        self.key = key
        self.message = message
        super().__init__(self.describe())

    def describe(self) -> str:
        """path:line: [key] message: the one line a user reads instead of a traceback."""
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        key = f" [{self.key}]" if self.key else ""
        return f"{where}:{key} {self.message}"


class SuiteError(PunieError):
    """A suite YAML file that does not satisfy the schema."""


class ResponsesError(PunieError):
    """A recorded-responses JSONL file with a bad line."""


class ModelError(PunieError):
    """A model directory or model name that cannot be used."""
