"""Controller-side aggregation: worker results -> verdicts -> results document."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_punie.errors import SuiteError
from pytest_punie.provenance import host, now_utc, package_versions
from pytest_punie.report.document import FORMAT, build_document
from pytest_punie.results import PromptResult
from pytest_punie.suite import Suite, load_suite
from pytest_punie.verdict import SuiteVerdict, judge_suite

if TYPE_CHECKING:
    import pytest

    from pytest_punie.plugin import PunieRun


def _sampling(suites: list[Suite]) -> dict[str, Any]:
    default = suites[0].sampling.as_dict() if suites else {}
    overrides = {
        p.id: {"max_tokens": p.max_tokens}
        for s in suites
        for p in s.prompts
        if p.max_tokens not in (None, s.sampling.max_tokens)
    }
    return {"default": default, "overrides": overrides}


def group_results(results: list[PromptResult]) -> dict[str, list[PromptResult]]:
    """Results by suite path; a prompt that ran twice keeps its last result."""
    by_suite: dict[str, dict[str, PromptResult]] = {}
    for r in results:
        by_suite.setdefault(r.suite, {})[r.id] = r
    return {path: list(rs.values()) for path, rs in by_suite.items()}


def judge_results(
    results: list[PromptResult], scorer: str | None, root: Path | None = None
) -> list[tuple[SuiteVerdict, list[PromptResult]]]:
    out = []
    for path, rs in sorted(group_results(results).items()):
        suite = load_suite(root / path if root else path)
        suite = dataclasses.replace(suite, path=path)
        digests = {r.suite_digest for r in rs}
        if digests != {suite.digest}:
            raise SuiteError(
                path, None, "the suite file changed while the run was going on; results are not comparable"
            )
        out.append((judge_suite(suite, rs, scorer), rs))
    return out


def _one_identity(run: PunieRun) -> dict[str, Any]:
    """What answered. Every worker must have seen the same artifact."""
    if not run.sources:
        return {"kind": "unknown"}
    strip = [{k: v for k, v in s.items() if k not in ("blas",)} for s in run.sources]
    if any(s != strip[0] for s in strip[1:]):
        raise SuiteError(None, None, f"workers answered with different models: {run.sources}")
    return run.sources[0]


def build_run_document(config: pytest.Config, run: PunieRun) -> dict[str, Any]:
    if not run.results:  # a data-lint (or pipeline) run: findings and provenance only
        return {
            "format": FORMAT,
            "findings": sorted(run.findings, key=lambda f: (f["path"], f["line"] or 0, f["check"])),
            "provenance": {
                "time": now_utc(),
                "versions": package_versions(),
                "host": host(),
                "invocation": list(config.invocation_params.args),
            },
        }
    verdicts = judge_results(run.results, run.scorer, config.rootpath)
    suites = [v.suite for v, _ in verdicts]
    from pytest_punie.sources.replay import file_digest
    from pytest_punie.toolsurface import DEFAULT_SURFACE

    surfaces = sorted({s.tool_surface or str(DEFAULT_SURFACE) for s in suites})
    provenance = {
        "time": now_utc(),
        "model": _one_identity(run),
        "suites": [{"suite": s.name, "path": s.path, "digest": s.digest} for s in suites],
        "tool_surfaces": [{"path": p, "digest": file_digest(p)} for p in surfaces],
        "sampling": _sampling(suites),
        "scorer": run.scorer or "suite primary",
        "versions": package_versions(),
        "host": host(),
        "invocation": list(config.invocation_params.args),
        "workers": getattr(config.option, "numprocesses", None) or 0,
    }
    doc = build_document(verdicts, provenance, strict_mode=run.strict_mode)
    doc["findings"] = sorted(run.findings, key=lambda f: (f["path"], f["line"] or 0, f["check"]))
    return doc
