"""What a sandbox function raises into the program when it cannot do what was asked, by kind: the
runner tells a refusal, a missing program and a tool's own time-out from the program's own bugs."""

from __future__ import annotations


class Refused(PermissionError):
    """A forbidden action: a path outside the workspace, a command off the allow-list."""


class ToolMissing(RuntimeError):
    """A program the tool needs (git, ruff, a type checker) is not on this machine: named, never a score."""


class ToolTimeout(TimeoutError):
    """A tool that ran past its own time limit (the child was killed)."""
