"""Saved baselines: a run's results document under a name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError
from pytest_punie.gate.compare import key_prefix
from pytest_punie.report.write import write_text

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def save(directory: Path, name: str, doc: dict[str, Any]) -> Path:
    """Saves a run as a named baseline, written whole or not at all (temp file, then rename)."""
    if not NAME.match(name):
        raise PunieError(None, None, f"baseline name {name!r}: use letters, digits, '.', '_' and '-'")
    path = directory / f"{name}.json"
    write_text(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")  # a full disk leaves no temp file
    return path


def load(directory: Path, name_or_path: str) -> tuple[dict[str, Any], Path]:
    """A baseline by name (or path), its bad content named with file and line, never a traceback."""
    path = Path(name_or_path)
    if not (path.suffix == ".json" and path.is_file()):
        path = directory / f"{name_or_path}.json"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []
        raise PunieError(path, None, f"no baseline {name_or_path!r} (saved: {', '.join(known) or 'none'})")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise PunieError(path, getattr(exc, "lineno", None), f"not a results document: {exc}") from None
    if not isinstance(doc, dict) or "prompts" not in doc:
        raise PunieError(path, None, "not a pytest-punie results document (no prompts)")
    return doc, path


def rules_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The gate rules the suite pre-registered, as recorded in the document."""
    rules: dict[str, Any] = {"critical": [], "metrics": {}}
    suites = doc.get("suites", [])
    for suite in suites:
        prefix = key_prefix(doc, str(suite.get("suite")), suite.get("variant", ""))
        for name, r in (suite.get("rules") or {}).items():
            if name == "critical":
                rules["critical"] += r
            elif name == "format_lock":  # the suite gates on its lock (a weakened lock FAILs)
                rules["format_lock"] = bool(rules.get("format_lock") or r)
            elif name == "metrics":
                rules["metrics"].update({prefix + k: v for k, v in r.items()})
            elif name == "overall":  # several suites: their combined overall mixes metrics; not gated
                if len(suites) == 1:
                    rules[name] = r
            else:
                rules[prefix + name] = r  # keyed as the document keys its categories
    return rules
