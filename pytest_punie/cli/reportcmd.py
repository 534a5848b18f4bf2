"""``python -m pytest_punie report RUN_DIR_OR_JSON [--compare BASELINE]``: the single-file HTML
report of a saved results document (a run's folder, a CI artifact, a baseline), rendered again
later, with a comparison against a saved baseline when asked. The document is only read."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError


def main(argv: list[str] | None = None) -> int:
    """Render a saved results document as HTML (and gate it against a baseline when asked)."""
    parser = argparse.ArgumentParser(prog="python -m pytest_punie report", description=__doc__.split("\n")[0])
    parser.add_argument("target", type=Path, help="a run's folder (its results.json) or a results JSON file")
    parser.add_argument("--compare", metavar="BASELINE", help="a saved baseline's name or JSON file to compare with")
    parser.add_argument("--baseline-dir", type=Path, default=Path(".punie/baselines"), help="where names are found")
    parser.add_argument("--out", type=Path, help="the HTML file to write (default: beside the document)")
    parser.add_argument("--open", action="store_true", help="open the report in a browser where one exists")
    args = parser.parse_args(argv)
    try:
        out = render(args.target, args.compare, args.baseline_dir, args.out)
    except PunieError as err:
        print(f"pytest-punie report: {err.describe()}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder: one line naming the path
        print(f"pytest-punie report: {exc.filename or args.out}: not written: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    if args.open:
        import webbrowser

        if not webbrowser.open(out.resolve().as_uri()):
            print("no browser here: open the file above", file=sys.stderr)
    return 0


def read_saved(target: Path) -> tuple[Any, Path]:
    """A saved results document (from a run's folder or a JSON file) and the file it came from."""
    from pytest_punie.gate import baselines

    source = target / "results.json" if target.is_dir() else target
    if not source.is_file():
        raise PunieError(source, None, "no results document here (a run's folder has results.json)")
    doc, _ = baselines.load(source.parent, str(source))
    return doc, source


def render(target: Path, compare: str | None, baseline_dir: Path, out: Path | None) -> Path:
    """Read the document, gate it against ``compare`` if given, write the HTML; returns its path."""
    from pytest_punie.gate.rungate import GateOptions, apply_gate
    from pytest_punie.views.html import render_html
    from pytest_punie.views.write import write_text

    doc, source = read_saved(target)
    if "suites" not in doc:
        raise PunieError(source, None, "a document with nothing judged (data lint or checks only): no report to draw")
    if compare:
        apply_gate(doc, GateOptions(baseline_dir=baseline_dir, compare=compare))
    if out is None:
        stem = "report" if target.is_dir() else source.stem
        suffix = f"-vs-{Path(compare).stem}" if compare else ""
        out = source.parent / f"{stem}{suffix}.html"
    if out.resolve() == source.resolve():
        raise PunieError(out, None, "the report would overwrite the results document it is drawn from")
    write_text(str(out), render_html(doc))
    return out
