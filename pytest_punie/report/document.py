"""The results document: one JSON-able dict every report renders from.

Its format is documented in docs/results-format.md; ``format`` names the
version. Terminal and Markdown output are views of this dict, so what is
printed is exactly what is saved.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import Any

from pytest_punie.metrics import mean_score
from pytest_punie.results import PromptResult
from pytest_punie.resultsformat import (
    FORMAT,
    CategoryRow,
    Expected,
    MetricRow,
    PromptRow,
    Provenance,
    RunDocument,
    RunWarning,
    SuiteEntry,
    row_key,
)
from pytest_punie.scoring.agreement import scorer_agreement
from pytest_punie.serving.served import depends_on_drop
from pytest_punie.suite.suitetypes import Prompt
from pytest_punie.verdict import CategoryVerdict, SuiteVerdict


def _num(x: Fraction | None) -> float | None:
    return None if x is None else round(float(x), 6)


def _category(c: CategoryVerdict) -> CategoryRow:
    return {
        "score": _num(c.score),
        "score_exact": None if c.score is None else str(c.score),
        "metric": c.metric,
        "mean_score": _num(c.mean_score),
        "pass_rate": _num(c.pass_rate),
        "threshold": c.threshold.text,
        "threshold_op": c.threshold.op,
        "threshold_value": round(float(c.threshold.value), 6),
        "passed": c.passed,
        "prompts": c.prompts_total,
        "prompts_run": c.prompts_run,
        "prompts_passed": c.prompts_passed,
    }


def _prompt(r: PromptResult, prompt: Prompt) -> PromptRow:
    return {
        "id": r.id,
        "suite": r.suite,
        "category": r.category,
        "query": prompt.query,
        "expected": _expected(prompt),
        "score": _num(r.score),
        "scores": {k: _num(v) for k, v in sorted(r.scores.items())},
        "scores_exact": {k: str(v) for k, v in sorted(r.scores.items())},
        "passed": r.passed,
        "label": r.label,
        "served": (r.details.get("served") or {}).get("status"),
        "error": r.error,
        "retries": r.retries,
        "seconds": r.seconds,
        "details": r.details,
        "variant": r.variant,
        "response": r.response,
    }


def _expected(prompt: Prompt) -> Expected:
    e = prompt.expect
    out: Expected = {"kind": e.kind, "tools": list(e.tools), "match": e.match, "text": e.describe()}
    if e.fields:
        out["fields"], out["fields_match"] = list(e.fields), e.fields_match
    return out


def _add_interval(entry: CategoryRow, results: list[PromptResult]) -> None:
    """Wilson 95% interval of the pass rate over prompts, the independent units:
    repeated samples of one prompt are not independent (at temperature 0 they
    are identical), so they never narrow it. With --punie-repeat, the sample
    pass rate and pass^k (the mean over prompts, as tau-bench defines it) are
    reported beside it."""
    from pytest_punie.stats import wilson

    if not results:
        return
    passes = sum(int(r.passed) for r in results)
    lo, hi = wilson(passes, len(results))
    entry["interval"] = {
        "over": "prompts",
        "passes": passes,
        "n": len(results),
        "pass_rate": round(passes / len(results), 6),
        "low": round(lo, 6),
        "high": round(hi, 6),
    }
    sampled = [r for r in results if "samples" in r.details]
    if sampled:
        n = sum(int(r.details["samples"]) for r in sampled)
        sample_passes = sum(int(r.details["sample_passes"]) for r in sampled)
        entry["samples"] = {"n": n, "passes": sample_passes, "pass_rate": round(sample_passes / n, 6)}
        ks = sorted({k for r in sampled for k in r.details["pass_hat_k"]}, key=int)
        entry["pass_hat_k"] = {
            k: round(sum(float(r.details["pass_hat_k"].get(k, 0.0)) for r in sampled) / len(sampled), 6) for k in ks
        }


def _suite_entry(verdict: SuiteVerdict, rs: list[PromptResult], dropped: list[PromptResult]) -> SuiteEntry:
    """One suite (at one variant) as the document keeps it: its rows with their intervals, its
    failure modes and serving statuses, and the gate rules it pre-registered."""
    suite = verdict.suite
    cats = {name: _category(c) for name, c in verdict.categories.items()}
    for name, entry in cats.items():
        _add_interval(entry, [r for r in rs if r.category == name])
    overall_entry = _category(verdict.overall)
    _add_interval(overall_entry, rs)
    metrics: dict[str, MetricRow] = {}
    for name, mv in verdict.metrics.items():
        m = suite.metrics[name]
        metrics[name] = {**_category(mv), "description": m.description, "prompt_ids": list(m.prompts)}
        _add_interval(metrics[name], [r for r in rs if r.id in set(m.prompts)])
    return {
        "suite": suite.name,
        "variant": rs[0].variant if rs else "",
        "path": suite.path,
        "digest": suite.digest,
        "scorer": verdict.scorer,
        "complete": verdict.complete,
        "passed": verdict.passed,
        "no_response": list(verdict.no_response),
        "categories": cats,
        "overall": overall_entry,
        "metrics": metrics,
        "failure_modes": dict(sorted(Counter(r.label for r in rs).items())),
        "served": dict(sorted(Counter(str((r.details.get("served") or {}).get("status")) for r in rs).items())),
        "invalid": [r.id for r in dropped],
        "rules": {
            **{n: _num(c.max_regression) for n, c in suite.categories.items()},
            "overall": _num(suite.overall_max_regression),
            "critical": [p.id for p in suite.prompts if p.critical],
            "metrics": {n: _num(m.max_regression) for n, m in suite.metrics.items()},
            "format_lock": bool((suite.extra.get("format_lock") or {}).get("gate", False)),
        },
    }


def _warnings(invalid: list[PromptResult], prompts: list[PromptRow], provenance: Provenance) -> list[RunWarning]:
    """The serving path's warnings, and replies that named no model."""
    unnamed = [p["id"] for p in prompts if ((p.get("response") or {}).get("punie") or {}).get("unnamed_model")]
    warnings = serving_warnings(invalid, provenance)
    for change in endpoint_changes(provenance):
        warnings.append(
            {
                "code": "endpoint-changed",
                "parser": None,
                "prompts": [],
                "message": f"INVALID: endpoint {change['url']} changed what it serves during the run (its /v1/models "
                f"said {change['before']} at the start, {change['after']} at the end): which model answered "
                "its prompts is unknown",
            }
        )
    if unnamed:
        warnings.append(
            {
                "code": "unnamed-model",
                "parser": None,
                "prompts": unnamed,
                "message": f"{len(unnamed)} replies named no model: nothing shows which model answered them",
            }
        )
    return warnings


def build_document(
    verdicts: list[tuple[SuiteVerdict, list[PromptResult]]], provenance: Provenance, strict_mode: bool = False
) -> RunDocument:
    """The results document of a run: every suite entry, every prompt, the verdict and what it
    rests on; what every view, the gate and a saved baseline read."""
    suites: list[SuiteEntry] = []
    prompts: list[PromptRow] = []
    categories: dict[str, CategoryRow] = {}
    overall_scores: list[Fraction] = []
    invalid: list[PromptResult] = []
    for verdict, results in verdicts:
        suite = verdict.suite
        order = {p.id: i for i, p in enumerate(suite.prompts)}
        rs = sorted(results, key=lambda r: order.get(r.id, len(order)))
        dropped = [r for r in rs if depends_on_drop(r.details.get("served"), r.scores, r.primary_scorer)]
        invalid += dropped
        entry = _suite_entry(verdict, rs, dropped)
        suites.append(entry)
        for r in rs:
            prompts.append(_prompt(r, suite.prompt(r.id)))
            overall_scores.append(r.score)
    for entry in suites:
        for name, c in entry["categories"].items():
            categories[row_key(suites, entry["suite"], entry["variant"], name)] = c
    passed = bool(suites) and all(s["passed"] for s in suites)
    if strict_mode and any(not p["passed"] for p in prompts):
        passed = False
    if len(verdicts) == 1:
        overall = _category(verdicts[0][0].overall)
    else:
        overall = {
            "score": _num(mean_score(overall_scores)),
            "prompts_run": len(overall_scores),
        }
    overall["passed"] = passed and not invalid and not endpoint_changes(provenance)
    failure_modes: Counter[str] = Counter(p["label"] for p in prompts)
    return {
        "format": FORMAT,
        "verdict": "INVALID" if invalid or endpoint_changes(provenance) else "PASS" if passed else "FAIL",
        "warnings": _warnings(invalid, prompts, provenance),
        "strict_mode": strict_mode,
        "overall": overall,
        "categories": categories,
        "failure_modes": dict(sorted(failure_modes.items())),
        "scorer_agreement": scorer_agreement(prompts, {v.suite.path: v.suite.pass_score for v, _ in verdicts}),
        "suites": suites,
        "prompts": prompts,
        "provenance": provenance,
    }


def endpoint_changes(provenance: Provenance) -> list[dict[str, Any]]:
    """Endpoints whose ``/v1/models`` changed between the run's start and its end (a server restarted
    on another model): the responses they gave cannot be told apart, so the run measures nothing."""
    return list((provenance.get("model") or {}).get("endpoints_changed") or [])


def serving_warnings(invalid: list[PromptResult], provenance: Provenance) -> list[RunWarning]:
    """What makes the numbers untrustworthy: calls the serving path dropped
    where the primary score depends on them, and a failing tool-parser preflight."""
    out: list[RunWarning] = []
    preflight = (provenance.get("model") or {}).get("tool_parser") or {}
    parser = preflight.get("parser")
    fix = preflight.get("fix")
    if invalid:
        unknown = [r.id for r in invalid if not (r.details.get("served") or {}).get("scores_as_written")]
        scorers = sorted({r.primary_scorer for r in invalid})
        how = (
            f"mlx-lm's tool parser {parser!r} ({preflight.get('reason')})"
            if parser
            else "the server (it kept no raw text, so what the model wrote and would score is unknown; "
            "with --punie-tokenizer DIR, or --punie-server-model naming the model folder, the text is read "
            "back from the token ids)"
            if unknown
            else "the serving path"
        )
        message = (
            f"INVALID: {how} dropped the tool calls of {len(invalid)} prompt(s) "
            f"({', '.join(r.id for r in invalid[:8])}{', ...' if len(invalid) > 8 else ''}), and the "
            f"{'/'.join(scorers)} score of each depends on them: these numbers measure the server, not the model"
        )
        if fix:
            message += f"; fix: add {fix}"
        out.append({"code": "dropped-calls", "parser": parser, "prompts": [r.id for r in invalid], "message": message})
    if preflight and not preflight.get("passed"):
        lines = preflight.get("problems") or []
        out.append(
            {
                "code": "tool-parser-preflight",
                "parser": parser,
                "prompts": [],
                "message": "tool-parser preflight failed: "
                + (lines[0] if lines else f"parser {parser!r}")
                + (f"; fix: add {fix}" if fix else ""),
            }
        )
    return out
