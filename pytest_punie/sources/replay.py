"""Replay: score recorded responses with no model.

JSONL, one object a line: ``{"id": "text-01", "response": <chat.completion>}``
or ``{"id": "text-01", "error": "timeout after 120 s"}``; an optional
``{"provenance": {...}}`` line says what produced them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_punie.backends import Backend
from pytest_punie.errors import ResponsesError
from pytest_punie.provenance import file_digest
from pytest_punie.sources import MissingResponse, ResponseRecord
from pytest_punie.suite.suitetypes import Prompt, Suite

if TYPE_CHECKING:
    from pytest_punie.sources.responsecache import ResponseCache


def read_responses(path: str | Path) -> tuple[dict[str, ResponseRecord], dict[str, Any]]:
    """Read a responses file; every bad line is an error naming file and line."""
    file = Path(path)
    if not file.is_file():
        raise ResponsesError(file, None, "responses file does not exist")
    records: dict[str, ResponseRecord] = {}
    first_line: dict[str, int] = {}
    provenance: dict[str, Any] = {}
    with open(file, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ResponsesError(file, lineno, f"not UTF-8 text ({exc.reason})") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise ResponsesError(file, lineno, f"not valid JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise ResponsesError(file, lineno, f"expected a JSON object, found {type(obj).__name__}")
            if "provenance" in obj and "id" not in obj:
                provenance = obj["provenance"] if isinstance(obj["provenance"], dict) else {}
                continue
            pid = obj.get("id")
            if not isinstance(pid, str) or not pid:
                raise ResponsesError(file, lineno, 'missing "id" (the prompt id, a string)')
            if pid in records:
                raise ResponsesError(file, lineno, f"duplicate id {pid!r} (first at line {first_line[pid]})")
            has_resp, has_err = "response" in obj, "error" in obj
            if has_resp == has_err:
                raise ResponsesError(file, lineno, f'{pid}: give exactly one of "response" or "error"')
            resp = obj.get("response")
            if has_resp and not (isinstance(resp, dict) and isinstance(resp.get("choices"), list)):
                raise ResponsesError(file, lineno, f'{pid}: "response" must be a chat.completion object with "choices"')
            err = obj.get("error")
            if has_err and not isinstance(err, str):
                raise ResponsesError(file, lineno, f'{pid}: "error" must be a string')
            retries = obj.get("retries", 0)
            if not isinstance(retries, int) or retries < 0:
                raise ResponsesError(file, lineno, f'{pid}: "retries" must be a non-negative integer')
            records[pid] = ResponseRecord(response=resp, error=err, retries=retries, seconds=obj.get("seconds"))
            first_line[pid] = lineno
    return records, provenance


class ReplaySource:
    """Responses recorded earlier, replayed by prompt id: rescoring without a model."""

    def __init__(self, path: str | Path, repeated: bool = False):
        self.path = Path(path)
        self.repeated = repeated
        self.records, self.recorded_provenance = read_responses(self.path)
        self.digest = file_digest(self.path)
        self.backend: Backend | None = None  # nothing generates: the responses were recorded
        self.response_cache: ResponseCache | None = None
        self.progress: Callable[[str], None] | None = None
        self.timeout_scale = 1.0  # no time limit applies to a recorded response
        self.prompt_sensitivity = False
        self.completed = 0  # nothing is generated

    def identity(self) -> dict[str, Any]:
        """The replay file and its digest (and the provenance it recorded)."""
        out: dict[str, Any] = {"kind": "replay", "path": str(self.path), "digest": self.digest}
        if self.recorded_provenance:
            out["recorded"] = self.recorded_provenance
        return out

    def get(self, suite: Suite, prompt: Prompt, batch: list[Prompt], sample: int = 0) -> ResponseRecord:
        """Sample i of a repeated run is recorded as ``"<id>#<i>"``."""
        key = prompt.id if not self.repeated else f"{prompt.id}#{sample}"
        try:
            return self.records[key]
        except KeyError:
            raise MissingResponse(f"{self.path} has no recorded response for {key!r}") from None

    def close(self) -> None:
        """Nothing to release."""
        pass
