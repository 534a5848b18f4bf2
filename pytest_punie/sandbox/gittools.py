"""git_status, git_diff and git_log: the real git on the workspace's declared history."""

from __future__ import annotations

import re

from pytest_punie.sandbox.processes import run_tool
from pytest_punie.sandbox.resulttypes import (
    DiffFile,
    GitCommit,
    GitDiffResult,
    GitFileStatus,
    GitLogResult,
    GitStatusResult,
)
from pytest_punie.sandbox.runcontext import ToolContext


def _git(ctx: ToolContext, *args: str) -> tuple[int, str, str]:
    done = run_tool(["git", *args], ctx.root, ctx.tool_timeout_s, what=f"git {args[0]}")
    return done.returncode, done.stdout, done.stderr.strip()


def git_status(ctx: ToolContext, path: str = ".") -> GitStatusResult:
    """The working tree's changed, staged and untracked files under a path."""
    _, rel = ctx.path(path)
    rc, out, err = _git(ctx, "status", "--porcelain=v1", "--untracked-files=all", "--", rel or ".")
    if rc != 0:
        return GitStatusResult(False, False, 0, [], parse_error=err[:500])
    files = []
    for line in out.splitlines():
        x, y, name = line[0], line[1], line[3:]
        status = (
            "untracked"
            if x == "?"
            else {"M": "modified", "A": "added", "D": "deleted", "R": "renamed"}.get((y if y != " " else x), "modified")
        )
        files.append(GitFileStatus(name, status, x not in (" ", "?")))
    return GitStatusResult(True, not files, len(files), files)


def git_diff(ctx: ToolContext, path: str = ".", staged: bool = False) -> GitDiffResult:
    """The uncommitted (or staged) changes under a path: lines added and deleted per file, with hunks."""
    _, rel = ctx.path(path)
    cached = ["--cached"] if staged else []
    rc, numstat, err = _git(ctx, "diff", *cached, "--numstat", "--", rel or ".")
    if rc != 0:
        return GitDiffResult(False, 0, 0, 0, [], parse_error=err[:500])
    _, patch, _ = _git(ctx, "diff", *cached, "--", rel or ".")
    hunks: dict[str, list[str]] = {}
    current = ""
    for line in patch.splitlines():
        m = re.match(r"^\+\+\+ b/(.*)$", line)
        if m:
            current = m[1]
        elif line.startswith("@@"):
            hunks.setdefault(current, []).append(line)
    files = []
    for line in numstat.splitlines():
        added, deleted, name = line.split("\t", 2)
        files.append(
            DiffFile(
                name,
                int(added) if added.isdigit() else 0,
                int(deleted) if deleted.isdigit() else 0,
                hunks.get(name, []),
            )
        )
    return GitDiffResult(True, len(files), sum(f.additions for f in files), sum(f.deletions for f in files), files)


def git_log(ctx: ToolContext, path: str = ".", count: int = 10) -> GitLogResult:
    """The most recent commits touching a path."""
    _, rel = ctx.path(path)
    rc, out, err = _git(ctx, "log", f"-n{int(count)}", "--format=%H%x1f%s%x1f%an%x1f%aI", "--", rel or ".")
    if rc != 0:
        return GitLogResult(False, [], 0, parse_error=err[:500])
    commits = [GitCommit(*line.split("\x1f", 3)) for line in out.splitlines() if line.count("\x1f") == 3]
    return GitLogResult(True, commits, len(commits))
