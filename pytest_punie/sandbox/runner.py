"""One Code Mode program run in Monty, Pydantic's sandbox (the target of the users' own runner): the
26 functions are its only way out, with a time, memory and recursion limit; however it ends (an
exception, a limit, a forbidden action, a crashed worker) is a labelled ``ProgramRun``."""

from __future__ import annotations

import ast
import atexit
import dataclasses
import time
from typing import Any

from pytest_punie.programrun import ProgramRun
from pytest_punie.sandbox.runcontext import ToolContext
from pytest_punie.sandbox.toolset import BoundTools, is_result

INSTALL_HINT = "pip install 'pydantic-monty==1.4.0' (a dependency of pytest-punie: reinstall it)"
# names a program may not use: the sandbox has no files, no imports and no code from strings
FORBIDDEN_NAMES = frozenset(
    {"open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "breakpoint", "input", "help"}
)
_ATTR_FUNCS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
LIMIT_ERRORS = ("TimeoutError", "MemoryError", "RecursionError")


@dataclasses.dataclass(frozen=True)
class Limits:
    """A program's limits: execution seconds (the tools' own time not counted), memory, recursion."""

    seconds: float = 5.0
    memory_bytes: int = 256 * 1024 * 1024
    recursion_depth: int = 200
    tool_timeout_s: float = 60.0


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start on this machine (its package or worker missing): says how to install it."""


def forbidden(tree: ast.AST) -> str | None:
    """What a program does that the sandbox forbids (an import, open/eval/exec, a dunder walk), read
    from its syntax before it runs; None when nothing is."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = ", ".join(a.name for a in node.names) if isinstance(node, ast.Import) else (node.module or ".")
            return f"import {names} (line {node.lineno}): the sandbox allows no imports"
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            return f"{node.id} (line {node.lineno}): not available in the sandbox"
        if isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr.endswith("__"):
            return f".{node.attr} (line {node.lineno}): walking an object's internals is not allowed"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ATTR_FUNCS:
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str) and not name.value.startswith("__")):
                return f"{node.func.id} with a computed or private name (line {node.lineno}): not allowed"
    return None


class _Pool:
    """The process's one pool of Monty workers, started on first use and stopped at exit."""

    def __init__(self) -> None:
        self._pool: Any = None

    def get(self) -> Any:
        if self._pool is None:
            try:
                from pydantic_monty import Monty
            except ImportError as exc:
                raise SandboxUnavailable(f"the sandbox is not installed ({exc}): {INSTALL_HINT}") from None
            try:
                pool = Monty(min_processes=1, max_processes=1, request_timeout=600)
                pool.__enter__()
            except Exception as exc:
                raise SandboxUnavailable(
                    f"the sandbox's worker cannot start ({type(exc).__name__}: {exc}): {INSTALL_HINT}"
                ) from None
            self._pool = pool
            atexit.register(self.close)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                pool.__exit__(None, None, None)
            except Exception:
                pass


POOL = _Pool()


def _wrapper_class() -> Any:
    from pydantic_monty import ClassInstance

    class Result(ClassInstance):
        """A typed result as the program sees it: its fields read by attribute, its repr the dataclass's."""

        def convert_value(self, name: str, value: Any) -> Any:
            return _to_sandbox(value)

    return Result


_RESULT: Any = None


def _to_sandbox(value: Any) -> Any:
    global _RESULT
    if is_result(value):
        if _RESULT is None:
            _RESULT = _wrapper_class()
        return _RESULT(value, eager_attrs="all")
    if isinstance(value, list):
        return [_to_sandbox(v) for v in value]
    return value


def run_program(
    code: str, ctx: ToolContext, limits: Limits | None = None, user_tools: dict[str, Any] | None = None
) -> ProgramRun:
    """Runs one program against its workspace copy; how it ended is the returned run's ``ending``."""
    start = time.perf_counter()
    limits = limits or Limits()
    ctx.tool_timeout_s = limits.tool_timeout_s
    run = ProgramRun(ending="ran", workspace=f"{ctx.spec.name} {ctx.spec.digest[:19]}")
    try:
        tree = ast.parse(code)
        compile(tree, "<program>", "exec", dont_inherit=True)  # CPython's own checks past the grammar
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        run.ending = "syntax-error"
        run.exception = f"SyntaxError: {getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', '?')})"
        return run
    refusal = forbidden(tree)
    if refusal is not None:
        run.ending, run.exception = "refused", refusal
        run.seconds = time.perf_counter() - start
        return run
    tools = BoundTools(ctx, user_tools)
    _execute(code, tools, limits, run)
    run.calls = tools.calls
    run.tool_seconds = sum(c.seconds for c in tools.calls)
    if tools.missing:
        run.ending, run.exception = "tool-missing", tools.missing
    elif tools.refused:
        run.ending, run.exception = "refused", tools.refused
    elif tools.timed_out:
        run.ending, run.exception = "timeout", tools.timed_out
    run.seconds = time.perf_counter() - start
    return run


def _execute(code: str, tools: BoundTools, limits: Limits, run: ProgramRun) -> None:
    from pydantic_monty import (
        CollectString,
        MontyCrashedError,
        MontyError,
        MontyRuntimeError,
        MontySyntaxError,
    )

    pool = POOL.get()
    out = CollectString(max_bytes=1_000_000)
    checkout = {
        "max_feed_duration_secs": limits.seconds,
        "max_memory": limits.memory_bytes,
        "max_recursion_depth": limits.recursion_depth,
        "max_suspensions": 10_000,
    }
    try:
        with pool.checkout(limits=checkout) as session:
            session.feed_run(code, external_lookup=tools.functions(_to_sandbox), print_callback=out)
    except MontySyntaxError as exc:
        run.ending, run.exception = "syntax-error", exc.display("type-msg")
    except MontyRuntimeError as exc:
        shown = exc.display("type-msg")
        kind = shown.split(":", 1)[0].strip()
        run.ending = "timeout" if kind in LIMIT_ERRORS else "runtime-error"
        run.exception = shown[:2000]
    except MontyCrashedError as exc:
        run.ending = "timeout" if exc.timed_out else "crashed"
        run.exception = f"the sandbox's worker died: {exc}"[:2000]
    except MontyError as exc:
        run.ending, run.exception = "crashed", f"{type(exc).__name__}: {exc}"[:2000]
    run.stdout = out.output
