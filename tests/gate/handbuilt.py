"""Hand-built results documents for the gate: a small suite, chosen prompts
passing or failing, built by the same code every run uses (judge_suite and
build_document), no pytest run and no model."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from pytest_punie.report.document import build_document
from pytest_punie.results import PromptResult
from pytest_punie.suite import load_suite
from pytest_punie.suite.suitetypes import Suite
from pytest_punie.verdict import judge_suite

# two categories of five prompts; a metric over a, b's first three prompts
SUITE: dict[str, Any] = {
    "suite": "mini",
    "system_prompt": "You are Punie.",
    "threshold_metric": "pass_rate",
    "pass_score": 1,
    "overall_threshold": ">= 0.5",
    "overall_max_regression": 0.2,
    "categories": {"a": {"threshold": ">= 0.6", "max_regression": 0.2}, "b": {"threshold": ">= 0.4"}},
    "metrics": {"rate": {"prompts": ["a1", "a2", "a3", "b1", "b2"], "threshold": ">= 0.6", "max_regression": 0.2}},
    "prompts": [
        {"id": f"{c}{i}", "category": c, "query": f"q {c}{i}", "expect": {"tools": ["git_status"]}}
        for c in "ab"
        for i in range(1, 6)
    ],
}


def write_suite(folder: Path, name: str = "mini", **over: Any) -> Suite:
    data = {**SUITE, "suite": name, **over}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_suite(path)


def result(suite: Suite, pid: str, passed: bool, error: str | None = None, label: str | None = None) -> PromptResult:
    p = suite.prompt(pid)
    score = Fraction(int(passed))
    return PromptResult(
        suite=suite.path,
        suite_digest=suite.digest,
        id=pid,
        category=p.category,
        scores={"legacy": score, "strict": score},
        primary_scorer=suite.primary_scorer,
        passed=passed and error is None,
        label=label or ("wrapped-correct" if passed else "wrapped-wrong-tool"),
        response=None,
        error=error,
    )


def document(
    suites: list[Suite],
    failing: set[str] = frozenset(),
    missing: set[str] = frozenset(),
    errors: set[str] = frozenset(),
    sampling: dict[str, Any] | None = None,
    repeat: int = 1,
) -> dict[str, Any]:
    """A results document where every prompt passes except ``failing``; ``missing``
    prompts did not run; ``errors`` got no response."""
    verdicts = []
    for suite in suites:
        rs = [
            result(suite, p.id, p.id not in failing, "timeout" if p.id in errors else None)
            for p in suite.prompts
            if p.id not in missing
        ]
        verdicts.append((judge_suite(suite, rs), rs))
    provenance = {"sampling": sampling or {"default": {"temperature": 0.0}}, "repeat": repeat, "model": {}}
    doc = build_document(verdicts, provenance)
    if missing:
        doc["completeness"] = {"state": "partial", "reasons": ["-k"]}
    return doc
