"""Suites shipped with the plugin, usable from any project: ``--punie-suite phase33``.
A project's own suite of the same name (its ``evalsuites/``) wins."""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).parent


def packaged_suites() -> dict[str, Path]:
    """The suites shipped with the plugin (phase26, phase33), by name."""
    return {p.stem: p for p in sorted(PACKAGED.glob("*.yaml"))}


def is_packaged(path: Path) -> bool:
    """Whether a suite file is one shipped with the plugin."""
    return Path(path).parent.resolve() == PACKAGED.resolve() or Path(path).parent == PACKAGED
