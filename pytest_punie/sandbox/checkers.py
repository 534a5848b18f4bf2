"""typecheck, ruff_check and pytest_run: the real type checker (ty, else mypy), ruff and pytest run
on the workspace, their output read into the typed results."""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from pytest_punie.sandbox.processes import run_tool
from pytest_punie.sandbox.resulttypes import (
    RuffResult,
    RuffViolation,
    TestCase,
    TestResult,
    TypeCheckError,
    TypeCheckResult,
)
from pytest_punie.sandbox.runcontext import ToolContext

_TY_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>[^\]]+)\] (?P<msg>.*)$"
)
_MYPY_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning|note): "
    r"(?P<msg>.*?)(?:  \[(?P<code>[^\]]+)\])?$"
)


def type_checker() -> list[str] | None:
    """The type checker this machine has: ty where installed, else mypy; None when neither is."""
    if shutil.which("ty"):
        return ["ty", "check", "--output-format", "concise", "--no-progress"]
    if shutil.which("mypy"):
        return ["mypy", "--no-error-summary", "--show-column-numbers", "--no-color-output", "--no-incremental"]
    return None


def typecheck(ctx: ToolContext, path: str) -> TypeCheckResult:
    """Type errors and warnings of a workspace path, from ty (or mypy)."""
    real, rel = ctx.path(path)
    if not real.exists():
        return TypeCheckResult(False, 0, 0, [], parse_error=f"no such path in the workspace: {rel or path!r}")
    argv = type_checker() or ["ty"]
    done = run_tool([*argv, rel or "."], ctx.root, ctx.tool_timeout_s, what="typecheck")
    pattern = _TY_LINE if argv[0] == "ty" else _MYPY_LINE
    errors = []
    for line in done.stdout.splitlines():
        m = pattern.match(line.strip())
        if m and m["sev"] != "note":
            errors.append(
                TypeCheckError(m["file"], int(m["line"]), int(m["col"]), m["sev"], m["code"] or "", m["msg"].strip())
            )
    n_err = sum(1 for e in errors if e.severity == "error")
    n_warn = len(errors) - n_err
    failed_to_run = done.returncode not in (0, 1) or (done.returncode == 1 and not errors)
    return TypeCheckResult(
        success=n_err == 0 and not failed_to_run,
        error_count=n_err,
        warning_count=n_warn,
        errors=errors,
        parse_error=(done.stderr or done.stdout).strip()[:500] if failed_to_run else None,
    )


def ruff_check(ctx: ToolContext, path: str) -> RuffResult:
    """Ruff's violations in a workspace path (its JSON output)."""
    real, rel = ctx.path(path)
    if not real.exists():
        return RuffResult(False, 0, 0, [], parse_error=f"no such path in the workspace: {rel or path!r}")
    done = run_tool(
        ["ruff", "check", "--output-format", "json", "--no-cache", "--exit-zero", rel or "."],
        ctx.root,
        ctx.tool_timeout_s,
        what="ruff_check",
    )
    try:
        raw = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return RuffResult(False, 0, 0, [], parse_error=(done.stderr or done.stdout).strip()[:500])
    root = str(ctx.root.resolve())
    violations = [
        RuffViolation(
            file=str(Path(v["filename"]).resolve()).removeprefix(root).lstrip("/"),
            line=int(v["location"]["row"]),
            column=int(v["location"]["column"]),
            code=v.get("code") or "",
            message=v.get("message") or "",
            fixable=v.get("fix") is not None,
        )
        for v in raw
    ]
    return RuffResult(
        success=not violations,
        violation_count=len(violations),
        fixable_count=sum(1 for v in violations if v.fixable),
        violations=violations,
    )


def _outcome(case: ET.Element) -> tuple[str, str | None]:
    for tag, outcome in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        child = case.find(tag)
        if child is not None:
            return outcome, (child.get("message") or child.text or "").strip()[:500] or None
    return "passed", None


def pytest_run(ctx: ToolContext, path: str) -> TestResult:
    """The workspace's tests under a path, run by pytest (no plugins autoloaded), read from its JUnit XML."""
    real, rel = ctx.path(path)
    if not real.exists():
        return TestResult(False, 0, 0, 0, 0, 0.0, [], parse_error=f"no such path in the workspace: {rel or path!r}")
    with tempfile.TemporaryDirectory(prefix="punie-junit-") as tmp:
        xml = Path(tmp) / "junit.xml"
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", rel or "."]
        done = run_tool(argv, ctx.root, ctx.tool_timeout_s, what="pytest_run")
        if not xml.exists():
            return TestResult(False, 0, 0, 0, 0, 0.0, [], parse_error=(done.stdout + done.stderr).strip()[-500:])
        top = ET.parse(xml).getroot()
    found = top.find("testsuite") if top.tag == "testsuites" else top
    suite = found if found is not None else top
    tests = []
    for case in suite.iter("testcase"):
        outcome, message = _outcome(case)
        name = f"{case.get('classname', '')}::{case.get('name', '')}".lstrip(":")
        tests.append(TestCase(name, outcome, round(float(case.get("time") or 0.0), 4), message))
    counts = {k: sum(1 for t in tests if t.outcome == k) for k in ("passed", "failed", "error", "skipped")}
    return TestResult(
        success=done.returncode == 0,
        passed=counts["passed"],
        failed=counts["failed"],
        errors=counts["error"],
        skipped=counts["skipped"],
        duration=round(float(suite.get("time") or 0.0), 4),
        tests=tests,
        parse_error=None if done.returncode in (0, 1, 5) else (done.stdout + done.stderr).strip()[-500:],
    )
