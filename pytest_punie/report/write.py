"""Write a finished run's documents where the user asked: the JSON results
document, Markdown, the chart, and the replayable responses."""

from __future__ import annotations

import json
import re
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
    html: str | None = None
    runs_dir: str | None = None  # every run also writes results.json, results.md and report.html here

    @classmethod
    def from_config(cls, config: Any) -> OutputPaths:
        runs = config.getini("punie_runs_dir")
        return cls(
            json=config.getoption("punie_json"),
            md=config.getoption("punie_md"),
            chart=config.getoption("punie_chart"),
            record=config.getoption("punie_record"),
            html=config.getoption("punie_html"),
            runs_dir=str(config.rootpath / runs) if runs else None,
        )


def run_folder(doc: dict[str, Any], runs_dir: str) -> Path:
    """``<runs_dir>/<time>-<model>``: a new folder for each run, never overwriting one."""
    prov = doc.get("provenance") or {}
    model = prov.get("model") or {}
    name = str(model.get("name") or model.get("kind") or "run")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).name)[:60] or "run"
    stamp = re.sub(r"[^0-9T]", "", str(prov.get("time") or ""))[:15] or "run"
    folder = Path(runs_dir) / f"{stamp}-{safe}"
    n = 1
    while folder.exists():
        n += 1
        folder = Path(runs_dir) / f"{stamp}-{safe}-{n}"
    return folder


def write_text(path: str | Path, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def write_documents(doc: dict[str, Any], results: list[PromptResult], paths: OutputPaths) -> list[str]:
    """Write every document asked for, and the run's folder; returns lines to show:
    what was written where, and any output that could not be."""
    lines: list[str] = []
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if paths.runs_dir and results:
        from pytest_punie.report import render_markdown
        from pytest_punie.report.html import render_html

        folder = run_folder(doc, paths.runs_dir)
        write_text(folder / "results.json", text)
        write_text(folder / "results.md", render_markdown(doc))
        write_text(folder / "report.html", render_html(doc))
        lines.append(f"results: {folder}/ (results.json, results.md, report.html)")
    if paths.json:
        write_text(paths.json, text)
        lines.append(f"wrote {paths.json}")
    if paths.chart and results:
        from pytest_punie.report.chart import render_chart

        try:
            render_chart(doc, Path(paths.chart))
            lines.append(f"wrote {paths.chart}")
        except ImportError:
            lines.append("pytest-punie: --punie-chart needs matplotlib")
    if paths.record:
        from pytest_punie.sources.record import write_record

        write_record(Path(paths.record), results, doc["provenance"])
        lines.append(f"wrote {paths.record}")
    if paths.md:
        from pytest_punie.report import render_markdown

        write_text(paths.md, render_markdown(doc))
        lines.append(f"wrote {paths.md}")
    if paths.html and results:
        from pytest_punie.report.html import render_html

        write_text(paths.html, render_html(doc))
        lines.append(f"wrote {paths.html}")
    return lines
