"""The tool calls a model under test is expected to write: every assistant
turn of its training data (either mlx-lm format) and one call in the
suite's own expected format (Code Mode, format A)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pytest_punie.datalint.examples import assistant_turns
from pytest_punie.suite.suitetypes import Suite
from pytest_punie.toolsurface import load_surface

SPLITS = ("train", "valid", "test")


def expected_call(suite: Suite) -> str:
    """A call in the format the suite scores as correct: the wrapper, its
    program argument, and a program that calls the first prompt's tool."""
    surface = load_surface(suite.tool_surface) if suite.tool_surface else load_surface()
    tool = next((t for p in suite.prompts for t in p.expect.tools), "read_file")
    return (
        f"<tool_call><function={surface.wrapper}>\n<parameter={surface.wrapper_argument}>\n"
        f'result = {tool}("src/")\nprint(result)\n</parameter>\n</function></tool_call>'
    )


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def call_texts(
    suites: Iterable[Suite], data_dirs: Iterable[Path] = (), root: Path | None = None
) -> list[tuple[str, str]]:
    """(where, assistant text) for the preflight: data first, then each suite's
    format; paths are shown relative to ``root`` when under it."""
    suites = list(suites)
    dirs: list[Path] = []
    for d in [*(d for s in suites for d in s.datasets().values()), *data_dirs]:
        if Path(d).resolve() not in dirs:
            dirs.append(Path(d).resolve())
    out: list[tuple[str, str]] = []
    for directory in dirs:
        for split in SPLITS:
            path = directory / f"{split}.jsonl"
            if path.is_file():
                shown = _shown(path, root)
                out += [(f"{shown}:{line} (message {i})", text) for line, i, text in assistant_turns(path)]
    out += [(f"{s.path}: the suite's expected call format", expected_call(s)) for s in suites]
    return out
