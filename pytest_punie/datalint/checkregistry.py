"""Where data checks are registered: a name, a description and a function run on each example
(``@data_check``), and for a check that counts over a file its end-of-file part (``@at_file_end``).
The built-in checks (datalint/checks.py) are loaded by name the first time the registry is read."""

from __future__ import annotations

from collections.abc import Callable

from pytest_punie.datalint.checkcontext import Example, FileEnd
from pytest_punie.registry import Registry

ExampleCheck = Callable[[Example], None]
FileCheck = Callable[[FileEnd], None]

DATA_CHECKS: Registry[ExampleCheck] = Registry("data check", providers=("pytest_punie.datalint.checks",))
FILE_ENDS: dict[str, FileCheck] = {}  # a check's end-of-file part, by the check's name


def data_check(name: str, description: str) -> Callable[[ExampleCheck], ExampleCheck]:
    """Registers a data check: ``name`` (its item's name), what it checks, and its per-example function."""
    return DATA_CHECKS.register(name, description)


def at_file_end(name: str) -> Callable[[FileCheck], FileCheck]:
    """Registers the end-of-file part of the check ``name`` (counts over a whole file)."""

    def add(fn: FileCheck) -> FileCheck:
        FILE_ENDS[name] = fn
        return fn

    return add


def file_ends() -> list[FileCheck]:
    """The end-of-file parts, in the order their checks are registered."""
    return [FILE_ENDS[entry.name] for entry in DATA_CHECKS.entries() if entry.name in FILE_ENDS]
