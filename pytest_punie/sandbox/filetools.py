"""The base tools: read_file, write_file and run_command, on the workspace's files only."""

from __future__ import annotations

import shlex
from pathlib import Path

from pytest_punie.sandbox.processes import run_tool
from pytest_punie.sandbox.runcontext import ToolContext
from pytest_punie.sandbox.toolerrors import Refused

# read-only commands a program may run, inside the workspace
ALLOWED_COMMANDS = ("ls", "cat", "head", "tail", "wc", "grep", "find", "echo", "pwd", "sort", "uniq", "diff", "tree")
_FIND_ACTIONS = ("-exec", "-execdir", "-delete", "-ok", "-okdir", "-fprint", "-fprintf", "-fls")
MAX_READ = 1_000_000


def read_file(ctx: ToolContext, path: str) -> str:
    """A workspace file's text (FileNotFoundError where there is none, as in production)."""
    real, rel = ctx.path(path)
    if not real.is_file():
        raise FileNotFoundError(f"no such file in the workspace: {rel or path!r}")
    return real.read_text(encoding="utf-8", errors="replace")[:MAX_READ]


def write_file(ctx: ToolContext, path: str, content: str) -> str:
    """Writes a workspace file (its folders made); outside the workspace is refused."""
    if not isinstance(content, str):
        raise TypeError(f"content must be a str, not {type(content).__name__}")
    ctx.path(path)  # refused before any copy is made
    ctx.private()
    real, rel = ctx.path(path)
    if not rel or real.is_dir():
        raise IsADirectoryError(f"{path!r} is a directory")
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_text(content, encoding="utf-8")
    ctx.wrote(rel, content)
    return f"Wrote {len(content)} characters to {rel}"


def _checked_args(ctx: ToolContext, cwd: Path, command: str, args: list[str]) -> None:
    if command not in ALLOWED_COMMANDS:
        raise Refused(f"command {command!r} is not allowed (allowed: {', '.join(ALLOWED_COMMANDS)})")
    for arg in args:
        if not isinstance(arg, str):
            raise TypeError(f"run_command arguments must be str, not {type(arg).__name__}")
        if command == "find" and arg in _FIND_ACTIONS:
            raise Refused(f"find {arg} is not allowed")
        if arg.startswith("-"):
            continue
        if arg.startswith(("/", "~")) or "/" in arg or arg == "..":
            real = (cwd / arg).resolve()
            root = ctx.root.resolve()
            if arg.startswith(("/", "~")) or (real != root and root not in real.parents):
                raise Refused(f"argument {arg!r} is outside the workspace")


def run_command(ctx: ToolContext, command: str, args: list[str] | None = None, cwd: str | None = None) -> str:
    """An allow-listed, read-only command run in the workspace with a time limit: its output."""
    if not isinstance(command, str) or not command.strip():
        raise ValueError("run_command needs a command")
    words = shlex.split(command) if args is None else [command, *args]
    real_cwd, _ = ctx.path(cwd or ".")
    if any(c in command for c in ";|&`$<>") and args is None:
        raise Refused(f"shell syntax is not allowed in a command: {command!r}")
    _checked_args(ctx, real_cwd, words[0], words[1:])
    done = run_tool(words, real_cwd, ctx.tool_timeout_s, what=f"run_command {words[0]}")
    return (done.stdout + done.stderr)[:MAX_READ]
