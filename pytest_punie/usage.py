"""Configuration mistakes are usage errors, found before any item runs: one
message and pytest's usage-error exit status, never 27 failed items that
look like a failed model."""

from __future__ import annotations

import os
from typing import Any


def space_separated(args: list[str] | tuple[str, ...], value_options: tuple[str, ...]) -> list[str]:
    """``--punie-data DIR`` forms whose DIR exists: pytest used DIR to choose its rootdir."""
    found = []
    for option, value in zip(args, [*args[1:], ""], strict=True):
        if option in value_options and value and not value.startswith("-") and os.path.exists(value):
            found.append(f"{option} {value}")
    return found


def space_separated_error(
    args: list[str] | tuple[str, ...], value_options: tuple[str, ...], rootpath: Any, inipath: Any
) -> str | None:
    """The fix for '--punie-data DIR' written with a space, which pytest would take for a path."""
    found = space_separated(args, value_options)
    if not found:
        return None
    fixed = ", ".join(f.replace(" ", "=", 1) for f in found)
    return (
        f"write {fixed} (with '='): pytest chose its rootdir ({rootpath}) and config file ({inipath}) before "
        f"pytest-punie's options were known, so the value of {', '.join(found)} was taken as a test path"
    )


def option_errors(config: Any) -> list[str]:
    """Bad combinations of option values, each in one sentence (each value alone is checked by its
    option's ``type=`` while pytest parses the command line: sources/options.py)."""
    errors = []
    if config.getoption("punie_seeds") and config.getoption("punie_checkpoints"):
        errors.append("--punie-seeds and --punie-checkpoints: give one (each seed has its own checkpoints)")
    if config.getoption("punie_bits") and (config.getoption("punie_seeds") or config.getoption("punie_checkpoints")):
        errors.append("--punie-bits with --punie-seeds or --punie-checkpoints: sweep one at a time (bits of one fuse)")
    return errors
