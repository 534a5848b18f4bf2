"""Saved baselines: a run's results document under a name."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_punie.errors import PunieError
from pytest_punie.resultsformat import (
    NotADocument,
    RunDocument,
    SuiteRules,
    document_from_json,
    document_to_json,
    row_key,
)
from pytest_punie.views.write import write_text

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def save(directory: Path, name: str, doc: RunDocument) -> Path:
    """Saves a run as a named baseline, written whole or not at all (temp file, then rename)."""
    if not NAME.match(name):
        raise PunieError(None, None, f"baseline name {name!r}: use letters, digits, '.', '_' and '-'")
    path = directory / f"{name}.json"
    write_text(path, document_to_json(doc))  # a full disk leaves no temp file
    return path


def load(directory: Path, name_or_path: str) -> tuple[RunDocument, Path]:
    """A baseline by name (or path), its bad content named with file and line, never a traceback."""
    path = Path(name_or_path)
    if not (path.suffix == ".json" and path.is_file()):
        path = directory / f"{name_or_path}.json"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []
        raise PunieError(path, None, f"no baseline {name_or_path!r} (saved: {', '.join(known) or 'none'})")
    try:
        return document_from_json(path.read_text(encoding="utf-8")), path
    except NotADocument as exc:
        raise PunieError(path, None, str(exc)) from None
    except ValueError as exc:
        raise PunieError(path, getattr(exc, "lineno", None), f"not a results document: {exc}") from None


def rules_of(doc: RunDocument) -> SuiteRules:
    """The gate rules the suite pre-registered, as recorded in the document."""
    critical: list[str] = []
    metrics: dict[str, float | None] = {}
    rules: SuiteRules = {"critical": critical, "metrics": metrics}
    suites = doc.get("suites", [])
    for suite in suites:
        suite_name, variant = str(suite.get("suite")), suite.get("variant", "")
        for name, r in (suite.get("rules") or {}).items():
            if name == "critical":
                critical += r if isinstance(r, list) else []
            elif name == "format_lock":  # the suite gates on its lock (a weakened lock FAILs)
                rules["format_lock"] = bool(rules.get("format_lock") or r)
            elif name == "metrics":
                metrics.update(
                    {row_key(suites, suite_name, variant, k): v for k, v in (r if isinstance(r, dict) else {}).items()}
                )
            elif name == "overall":  # several suites: their combined overall mixes metrics; not gated
                if len(suites) == 1:
                    rules[name] = r
            else:
                rules[row_key(suites, suite_name, variant, name)] = r  # keyed as the document keys its categories
    return rules
