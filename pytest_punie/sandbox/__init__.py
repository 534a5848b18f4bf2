"""The sandbox: the model's Code Mode programs run in Monty against a fresh copy of the suite's
workspace, with the 26 tools computed by real programs (ty or mypy, ruff, pytest, git, jedi, libcst).
``run_programs`` is the one entry: an answer's programs in, their ``ProgramRun``s out."""

from __future__ import annotations

import atexit
import copy
from collections import OrderedDict
from pathlib import Path

from pytest_punie.programrun import ProgramRun
from pytest_punie.sandbox.runcontext import ToolContext
from pytest_punie.sandbox.runner import Limits, SandboxUnavailable, run_program
from pytest_punie.sandbox.toolerrors import ToolMissing
from pytest_punie.sandbox.toolset import load_user_tools, tool_provenance
from pytest_punie.sandbox.workspace import (
    DEFAULT_WORKSPACE,
    WorkspaceError,
    WorkspaceSpec,
    WorkspaceTemplates,
    load_workspace,
)

_SPECS: dict[str, WorkspaceSpec] = {}
_TEMPLATES = WorkspaceTemplates()
atexit.register(_TEMPLATES.close)
# What one answer's programs did, kept for this process: the live line a person sees and the item's
# own result judge the same response, and identical programs (a seed, a sample or a rerun in one
# process that wrote the same code) act on the same fresh workspace. Bounded by entries, oldest out.
KEPT_RUNS = 4096
_KEPT: OrderedDict[tuple, tuple[tuple[ProgramRun, ...], dict[str, str | None]]] = OrderedDict()


def workspace_spec(folder: str | None) -> WorkspaceSpec:
    """A workspace read once per process (the packaged default where a suite names none)."""
    key = str(Path(folder).resolve()) if folder else str(DEFAULT_WORKSPACE)
    if key not in _SPECS:
        _SPECS[key] = load_workspace(key)
    return _SPECS[key]


def workspaces_folder() -> Path:
    """Where this process keeps its workspaces: what ``../..`` of a program's copy is."""
    return _TEMPLATES.folder()


def run_programs(
    codes: list[str], workspace: str | None = None, tools_module: str | None = None, limits: Limits | None = None
) -> tuple[ProgramRun, ...]:
    """An answer's programs run one after another on the workspace as declared; the first write
    makes the answer its own copy (a later program sees an earlier one's writes, as in production;
    no other answer ever does), removed after."""
    return run_and_read(codes, workspace, tools_module, limits)[0]


def run_and_read(
    codes: list[str],
    workspace: str | None = None,
    tools_module: str | None = None,
    limits: Limits | None = None,
    files: tuple[str, ...] = (),
) -> tuple[tuple[ProgramRun, ...], dict[str, str | None]]:
    """``run_programs``, and then the text of ``files`` as the programs left them (None: absent or
    not text): what a suite's state check reads after a conversation's writes. The same programs on
    the same workspace, tools and limits run once per process (a copy of that run is returned)."""
    spec = workspace_spec(workspace)
    limits = limits or Limits()
    key = (str(spec.folder), spec.digest, tools_module, limits, tuple(codes), tuple(files))
    kept = _KEPT.get(key)
    if kept is not None:
        _KEPT.move_to_end(key)
        return copy.deepcopy(kept)
    user_tools = load_user_tools(tools_module)
    ctx = ToolContext(_TEMPLATES.template(spec), spec, copier=lambda: _TEMPLATES.fresh_copy(spec))
    try:
        runs = tuple(run_program(code, ctx, limits, user_tools) for code in codes)
        done = runs, {name: _text(ctx.root, name) for name in files}
    finally:
        _TEMPLATES.discard(ctx.root)
    _KEPT[key] = copy.deepcopy(done)
    while len(_KEPT) > KEPT_RUNS:
        _KEPT.popitem(last=False)
    return done


def _text(root: Path, name: str) -> str | None:
    """A workspace file's text, None where it is absent, outside the workspace or not text."""
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


__all__ = [
    "Limits",
    "SandboxUnavailable",
    "ToolMissing",
    "WorkspaceError",
    "run_and_read",
    "run_programs",
    "tool_provenance",
    "workspace_spec",
    "workspaces_folder",
]
