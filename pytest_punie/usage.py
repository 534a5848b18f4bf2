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
    """Bad option values, each in one sentence."""
    errors = []
    temps = config.getoption("punie_temperatures")
    if temps:
        try:
            values = [float(t) for t in temps.split(",") if t.strip()]
            if not values or any(v < 0 for v in values):
                raise ValueError
        except ValueError:
            errors.append(f"--punie-temperatures: expected numbers >= 0 like 0,0.7, got {temps!r}")
    seeds = config.getoption("punie_seeds")
    if seeds:
        try:
            numbers = [int(x) for x in seeds.split(",") if x.strip()]
            if not numbers or any(n < 0 for n in numbers) or len(set(numbers)) != len(numbers):
                raise ValueError
        except ValueError:
            errors.append(f"--punie-seeds: expected distinct whole numbers >= 0 like 0,1,2, got {seeds!r}")
        if config.getoption("punie_checkpoints"):
            errors.append("--punie-seeds and --punie-checkpoints: give one (each seed has its own checkpoints)")
    repeat = config.getoption("punie_repeat")
    if repeat is not None and repeat < 1:
        errors.append(f"--punie-repeat: expected a whole number >= 1, got {repeat}")
    temperature = config.getoption("punie_temperature")
    if temperature is not None and temperature < 0:
        errors.append(f"--punie-temperature: expected a number >= 0, got {temperature}")
    max_tokens = config.getoption("punie_max_tokens")
    if max_tokens is not None and max_tokens < 1:
        errors.append(f"--punie-max-tokens: expected a whole number >= 1, got {max_tokens}")
    scale = config.getoption("punie_timeout_scale")
    if scale is not None and not scale > 0:
        errors.append(f"--punie-timeout-scale: expected a number > 0, got {scale}")
    return errors
