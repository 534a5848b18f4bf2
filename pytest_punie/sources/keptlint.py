"""The data gate's lint findings, kept by everything they were computed from.

The recipe's data gate runs on every build and every reuse, so a rerun from a warm cache would
lint the whole dataset again (seconds at the users' scale) to reach the same findings. A result
is reused only when the data's bytes (by digest), the lint's configuration (the served suites'
system prompts included) and the code of pytest-punie itself (every file of the package, so any
change to a check lints again) are what they were; otherwise the lint runs and its findings are
kept. A cache that cannot be written is not an error: the lint then runs every time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from pytest_punie.datalint import Finding, LintConfig, lint_dataset
from pytest_punie.models.digest import inputs_key

PACKAGE = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def code_digest() -> str:
    """Every file of the installed pytest-punie by name and bytes: the lint's own identity."""
    h = hashlib.sha256()
    for f in sorted(p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(f.relative_to(PACKAGE)).encode() + b"\0" + f.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def lint_inputs(directory: Path, config: LintConfig, digest: Callable[[Path], str]) -> dict[str, object]:
    """What a lint's findings depend on: the data files by digest, the configuration, the code."""
    files = {f.name: digest(f) for f in sorted(Path(directory).glob("*.jsonl")) if f.is_file()}
    settings = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "surface"}
    return {"files": files, "config": repr(sorted(settings.items())), "code": code_digest()}


def lint_kept(
    directory: Path, config: LintConfig, folder: Path, digest: Callable[[Path], str]
) -> tuple[list[Finding], bool]:
    """The dataset's findings and whether they were kept ones (same data, configuration and code)."""
    path = folder / f"{inputs_key(lint_inputs(directory, config, digest))}.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [Finding(**row) for row in rows], True
    except (OSError, ValueError, TypeError):
        pass  # not kept yet, or unreadable: lint
    findings = lint_dataset(directory, config)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps([f.to_dict() for f in findings]), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only or full cache: the findings stand, they are only not kept
    return findings, False
