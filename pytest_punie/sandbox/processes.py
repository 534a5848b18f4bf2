"""The real programs behind the tools, run as children inside the workspace with a time limit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_punie.sandbox.toolerrors import ToolMissing, ToolTimeout

TOOL_TIMEOUT_S = 60.0


def run_tool(
    argv: list[str], cwd: Path, timeout_s: float = TOOL_TIMEOUT_S, what: str = ""
) -> subprocess.CompletedProcess:
    """``argv`` run in ``cwd`` with no input and a clean environment; missing and hung programs raise
    the sandbox's own errors (ToolMissing, ToolTimeout), never a harness traceback."""
    exe = argv[0]
    if exe != sys.executable and shutil.which(exe) is None:
        raise ToolMissing(f"{what or exe}: {exe!r} is not installed on this machine")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "NO_COLOR": "1",
    }
    try:
        return subprocess.run(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise ToolTimeout(f"{what or exe} ran past its {timeout_s:g} s limit and was stopped") from None
    except FileNotFoundError:
        raise ToolMissing(f"{what or exe}: {exe!r} is not installed on this machine") from None


def version_of(argv: list[str]) -> str | None:
    """A program's own ``--version`` line, or None where it is not installed."""
    if argv[0] != sys.executable and shutil.which(argv[0]) is None:
        return None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else None
