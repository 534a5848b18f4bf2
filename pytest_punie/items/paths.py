"""Which files are suites, and how reports name a path."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest


def suite_globs(config: pytest.Config) -> list[str]:
    """The ini's suite globs (punie_suites), empty ones dropped."""
    return [g for g in config.getini("punie_suites") if g]


def glob_match(path: str, pattern: str) -> bool:
    """Shell-style, part by part: ``*`` never crosses a ``/`` (so
    ``evalsuites/*.yaml`` does not take ``evalsuites/tokenizers/qwen3.yaml``)."""
    parts, pats = path.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats, strict=True))


def is_suite_file(config: pytest.Config, path: Path) -> bool:
    """Whether a YAML file is an eval suite by the ini's globs, so other YAML is never collected."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        rel = path.relative_to(config.rootpath).as_posix()
    except ValueError:
        rel = path.as_posix()
    return any(glob_match(rel, g) or glob_match(path.as_posix(), g) for g in suite_globs(config))


def display_path(config: pytest.Config, path: Path) -> str:
    """A path as reports show it: relative to rootdir when it is under it."""
    try:
        return path.relative_to(config.rootpath).as_posix()
    except ValueError:
        return str(path)
