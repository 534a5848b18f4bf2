"""``--punie-record``: this run's responses as a replayable JSONL file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_punie.results import PromptResult
from pytest_punie.resultsformat import Provenance


def write_record(path: Path, results: list[PromptResult], provenance: Provenance) -> None:
    """The run's responses as a replayable JSONL file (--punie-record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"provenance": provenance}, ensure_ascii=False) + "\n")
        for r in results:
            row: dict[str, Any] = {"id": r.id, "retries": r.retries, "seconds": r.seconds}
            if r.error is not None:
                row["error"] = r.error
            else:
                row["response"] = r.response
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
