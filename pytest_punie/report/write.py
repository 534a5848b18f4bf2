"""Write a finished run's documents where the user asked: the JSON results
document, Markdown, the chart, and the replayable responses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_punie.results import PromptResult


@dataclass(frozen=True)
class OutputPaths:
    json: str | None = None
    md: str | None = None
    chart: str | None = None
    record: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> OutputPaths:
        return cls(
            json=config.getoption("punie_json"),
            md=config.getoption("punie_md"),
            chart=config.getoption("punie_chart"),
            record=config.getoption("punie_record"),
        )


def write_text(path: str | Path, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def write_documents(doc: dict[str, Any], results: list[PromptResult], paths: OutputPaths) -> list[str]:
    """Returns what was written, and any output that could not be, as lines to show."""
    lines: list[str] = []
    if paths.json:
        write_text(paths.json, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if paths.chart and results:
        from pytest_punie.report.chart import render_chart

        try:
            render_chart(doc, Path(paths.chart))
        except ImportError:
            lines.append("pytest-punie: --punie-chart needs matplotlib")
    if paths.record:
        from pytest_punie.sources.record import write_record

        write_record(Path(paths.record), results, doc["provenance"])
    if paths.md:
        from pytest_punie.report import render_markdown

        write_text(paths.md, render_markdown(doc))
    return lines
