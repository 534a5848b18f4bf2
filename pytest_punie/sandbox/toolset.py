"""The 26 sandbox functions of one program's run, bound to its workspace: each call recorded (its
arguments, the paths they resolve to, what it returned or raised, its time), the same call on the
same files answered once per process, and a suite's own toolset module preferred by name."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import importlib
import inspect
import json
import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from pytest_punie.programrun import ToolCall
from pytest_punie.provenance import versions_of
from pytest_punie.sandbox import checkers, cst, domain, filetools, gittools, lsp
from pytest_punie.sandbox.runcontext import ToolContext
from pytest_punie.sandbox.toolerrors import Refused, ToolMissing, ToolTimeout
from pytest_punie.sandbox.workspace import WorkspaceError

# our implementation of each sandbox function (the domain validators answer from the workspace's declaration)
IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "read_file": filetools.read_file,
    "write_file": filetools.write_file,
    "run_command": filetools.run_command,
    "typecheck": checkers.typecheck,
    "ruff_check": checkers.ruff_check,
    "pytest_run": checkers.pytest_run,
    "goto_definition": lsp.goto_definition,
    "find_references": lsp.find_references,
    "hover": lsp.hover,
    "document_symbols": lsp.document_symbols,
    "workspace_symbols": lsp.workspace_symbols,
    "git_status": gittools.git_status,
    "git_diff": gittools.git_diff,
    "git_log": gittools.git_log,
    "cst_find_pattern": cst.cst_find_pattern,
    "cst_rename": cst.cst_rename,
    "cst_add_import": cst.cst_add_import,
    **{name: partial(domain.declared_validation, validator=name) for name in domain.DOMAINS},
}
_SIGNATURES = {
    **{name: inspect.signature(fn) for name, fn in IMPLEMENTATIONS.items() if name not in domain.DOMAINS},
    **{
        name: inspect.Signature(
            [
                inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                inspect.Parameter("file_path", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            ]
        )
        for name in domain.DOMAINS
    },
}
PATH_PARAMS = ("path", "file_path", "cwd")
WRITES = ("write_file",)  # the tools that change the workspace (never cached)
_CACHE: dict[tuple[str, str, str], Any] = {}


def load_user_tools(module: str | None, where: str = "") -> dict[str, Callable[..., Any]]:
    """The functions of the users' own toolset module that replace ours by name (none without one)."""
    if not module:
        return {}
    try:
        mod = importlib.import_module(module)
    except Exception as exc:
        raise WorkspaceError(
            where or None, None, f"sandbox.tools: cannot import {module!r}: {type(exc).__name__}: {exc}"
        ) from None
    return {name: getattr(mod, name) for name in IMPLEMENTATIONS if callable(getattr(mod, name, None))}


def result_fields(value: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """A tool result's scalar values by field path (``error_count``, ``violations[0].code``, and
    ``violations.len`` for a list's length; the first 3 items of a list): the facts a suite's answer
    check refers to, kept as plain data."""
    out: dict[str, Any] = {}
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and depth < 4:
        for f in dataclasses.fields(value):
            out |= result_fields(getattr(value, f.name), f"{prefix}.{f.name}" if prefix else f.name, depth + 1)
    elif isinstance(value, (list, tuple)) and depth < 4:
        if prefix:
            out[f"{prefix}.len"] = len(value)
        for i, item in enumerate(value[:3]):
            out |= result_fields(item, f"{prefix}[{i}]", depth + 1)
    elif isinstance(value, (str, int, float, bool)) or value is None:
        if prefix:
            out[prefix] = value if not isinstance(value, str) else value[:200]
    return out


def _summary(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 400 else text[:400] + f"... ({len(text)} characters)"


@contextlib.contextmanager
def _in(folder: str) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


class BoundTools:
    """The sandbox functions of one program's run, recording every call into ``calls``."""

    def __init__(self, ctx: ToolContext, user_tools: dict[str, Callable[..., Any]] | None = None):
        self.ctx = ctx
        self.user_tools = user_tools or {}
        self.calls: list[ToolCall] = []
        self.refused: str | None = None
        self.missing: str | None = None
        self.timed_out: str | None = None

    def functions(self, wrap: Callable[[Any], Any]) -> dict[str, Callable[..., Any]]:
        """Every sandbox function by name, its results passed through ``wrap`` into the sandbox."""
        return {name: partial(self.call, name, wrap) for name in IMPLEMENTATIONS}

    def _paths(self, bound: dict[str, Any]) -> tuple[list[str], list[str]]:
        """The workspace paths of a call's path arguments, and those of them that do not exist."""
        paths, absent = [], []
        for param in PATH_PARAMS:
            value = bound.get(param)
            if isinstance(value, str):
                with contextlib.suppress(Exception):
                    real, rel = self.ctx.path(value)
                    paths.append(rel)
                    if not real.exists():
                        absent.append(rel)
        return paths, absent

    def call(self, name: str, wrap: Callable[[Any], Any], *args: Any, **kwargs: Any) -> Any:
        """One call from the program: bound to its parameters, run (or answered from the cache), recorded."""
        bound_sig = _SIGNATURES[name].bind(self.ctx, *args, **kwargs)  # a wrong call is the program's TypeError
        bound = dict(bound_sig.arguments)
        bound.pop("ctx", None)
        paths, absent = self._paths(bound)
        record = ToolCall(tool=name, args=bound, paths=paths, absent=absent if name not in WRITES else [])
        self.calls.append(record)
        user = self.user_tools.get(name)
        implementation = f"{user.__module__}.{user.__qualname__}" if user is not None else "ours"
        key = (self.ctx.state, f"{name} {implementation}", json.dumps(bound, sort_keys=True, default=repr))
        start = time.perf_counter()
        try:
            if name not in WRITES and key in _CACHE:
                record.cached = True
                result = copy.deepcopy(_CACHE[key])
            else:
                result = self._run(name, args, kwargs)
                if name not in WRITES:
                    _CACHE[key] = copy.deepcopy(result)
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, Refused):
                self.refused = self.refused or f"{name}: {exc}"
            elif isinstance(exc, ToolMissing):
                self.missing = self.missing or str(exc)
            elif isinstance(exc, ToolTimeout):
                self.timed_out = self.timed_out or str(exc)
            raise
        finally:
            record.seconds = time.perf_counter() - start
        record.result = _summary(result)
        record.fields = result_fields(result)
        return wrap(result)

    def _run(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        user = self.user_tools.get(name)
        if user is not None:
            with _in(str(self.ctx.private())):  # the users' functions may write: their own copy
                return user(*args, **kwargs)
        return IMPLEMENTATIONS[name](self.ctx, *args, **kwargs)


@functools.cache
def _program_versions() -> dict[str, str | None]:
    """The version of the program behind each tool family, asked once per process (a subprocess each)."""
    from pytest_punie.sandbox.processes import version_of

    checker = checkers.type_checker()
    return {
        "typecheck": version_of([checker[0], "--version"]) if checker else None,
        "ruff_check": version_of(["ruff", "--version"]),
        "pytest_run": f"pytest {versions_of('pytest')['pytest']}",
        "git": version_of(["git", "--version"]),
        **{dist: f"{dist} {v}" if v else None for dist, v in versions_of("jedi", "libcst").items()},
    }


def _family(tool: str) -> str:
    """Which program computes a tool's results: its own (typecheck, ruff_check, pytest_run), git, libcst or jedi."""
    if tool.startswith("git_"):
        return "git"
    if tool.startswith("cst_"):
        return "libcst"
    return tool if tool in ("typecheck", "ruff_check", "pytest_run") else "jedi"


def tool_provenance(user_tools: dict[str, Callable[..., Any]], module: str | None) -> dict[str, str]:
    """Tool by tool, what computed its results ('computed by ruff 0.x', 'declared by the workspace')
    or the users' own module."""
    out: dict[str, str] = {}
    for name in IMPLEMENTATIONS:
        if name in user_tools:
            out[name] = f"the suite's toolset {module}"
        elif name in domain.DOMAINS:
            out[name] = "declared by the workspace"
        elif name in ("read_file", "write_file", "run_command"):
            out[name] = "computed on the workspace's files"
        else:
            version = _program_versions().get(_family(name))
            out[name] = f"computed by {version}" if version else "not available on this machine"
    return out


def is_result(value: Any) -> bool:
    """Whether a value is a typed result (a dataclass instance) that crosses as an object with fields."""
    return dataclasses.is_dataclass(value) and not isinstance(value, type)
