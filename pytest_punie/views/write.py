"""Write a finished run's documents where the user asked: the JSON results
document, Markdown, the chart, and the replayable responses."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pytest_punie.results import PromptResult
from pytest_punie.resultsformat import RunDocument, document_writer


@dataclass(frozen=True)
class OutputPaths:
    """Where this run writes its results (asked paths and the run folder)."""

    json: str | None = None
    md: str | None = None
    chart: str | None = None
    record: str | None = None
    html: str | None = None
    runs_dir: str | None = None  # every run also writes results.json, results.md and report.html here

    @classmethod
    def from_config(cls, config: Any) -> OutputPaths:
        """The output paths read once from pytest's config."""
        runs = config.getini("punie_runs_dir")
        return cls(
            json=config.getoption("punie_json"),
            md=config.getoption("punie_md"),
            chart=config.getoption("punie_chart"),
            record=config.getoption("punie_record"),
            html=config.getoption("punie_html"),
            runs_dir=str(config.rootpath / runs) if runs else None,
        )


def run_folder(doc: RunDocument, runs_dir: str) -> Path:
    """``<runs_dir>/<time>-<model>``: a new folder for each run, made here, never one another run made."""
    prov = doc.get("provenance") or {}
    model = prov.get("model") or {}
    name = str(model.get("name") or model.get("kind") or "run")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).name)[:60] or "run"
    stamp = re.sub(r"[^0-9T]", "", str(prov.get("time") or ""))[:15] or "run"
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):  # made here, atomically: two runs finishing in one second get two folders
        folder = Path(runs_dir) / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise AssertionError("unreachable")


def write_text(path: str | Path, text: str | Callable[[TextIO], None]) -> None:
    """Write a document whole or not at all: a full disk leaves no half-written file behind. ``text``
    is the text, or what writes it into the open file (a large document streamed, never held whole)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if callable(text):
                text(fh)
            else:
                fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def why_not_written(path: str | Path, exc: OSError) -> str:
    """Why a file could not be written: the path, the reason, and the space left where it was to go."""
    where = Path(path)
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = f"; {shutil.disk_usage(where).free / 1e6:.1f} MB free on {where}"
    except OSError:
        free = ""
    return f"could not write {path}: {exc.strerror or exc}{free}"


def not_written(path: str | Path, exc: OSError) -> str:
    """One line for an output that could not be written: the path, the reason, the space there."""
    return f"pytest-punie: {why_not_written(path, exc)} (the verdict above stands)"


def write_documents(doc: RunDocument, results: list[PromptResult], paths: OutputPaths) -> list[str]:
    """Write every document asked for, and the run's folder; returns lines to show: what was
    written where, and each output that could not be (a full disk is a line, never a traceback;
    a run folder that could not be written whole is removed)."""
    lines: list[str] = []
    text = document_writer(doc)
    if paths.runs_dir and results:
        from pytest_punie.views.html import render_html
        from pytest_punie.views.markdown import render_markdown

        folder = Path(paths.runs_dir)
        try:
            folder = run_folder(doc, paths.runs_dir)
            write_text(folder / "results.json", text)
            write_text(folder / "results.md", render_markdown(doc))
            write_text(folder / "report.html", render_html(doc))
            lines.append(f"results: {folder}/ (results.json, results.md, report.html)")
        except OSError as exc:
            if folder != Path(paths.runs_dir):
                shutil.rmtree(folder, ignore_errors=True)
            lines.append(not_written(folder, exc))
    for path, write in _outputs(doc, results, paths, text):
        try:
            lines.append(write())
        except OSError as exc:
            lines.append(not_written(path, exc))
    return lines


def _outputs(
    doc: RunDocument, results: list[PromptResult], paths: OutputPaths, text: Callable[[TextIO], None]
) -> list[tuple[str, Callable[[], str]]]:
    """(path, writer returning the line to show) for each single-file output asked for."""
    out: list[tuple[str, Callable[[], str]]] = []

    def written(path: str, render: Callable[[], str]) -> Callable[[], str]:
        def write() -> str:
            write_text(path, render())
            return f"wrote {path}"

        return write

    if paths.json:
        json_path = paths.json

        def write_json() -> str:
            write_text(json_path, text)
            return f"wrote {json_path}"

        out.append((json_path, write_json))
    if paths.chart and results:
        chart = paths.chart

        def write_chart() -> str:
            from pytest_punie.views.chart import render_chart

            try:
                render_chart(doc, Path(chart))
            except ImportError:
                return "pytest-punie: --punie-chart needs matplotlib"
            return f"wrote {chart}"

        out.append((chart, write_chart))
    if paths.record:
        record = paths.record

        def write_responses() -> str:
            from pytest_punie.sources.record import write_record

            write_record(Path(record), results, doc["provenance"])
            return f"wrote {record}"

        out.append((record, write_responses))
    if paths.md:
        from pytest_punie.views.markdown import render_markdown

        out.append((paths.md, written(paths.md, lambda: render_markdown(doc))))
    if paths.html and results:
        from pytest_punie.views.html import render_html

        out.append((paths.html, written(paths.html, lambda: render_html(doc))))
    return out
