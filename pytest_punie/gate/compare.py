"""Compare a run with a baseline and reach PASS / FAIL / INCONCLUSIVE.

Rules, pre-registered in the suite: category thresholds (absolute), the
largest allowed regression per category (``max_regression``) and overall
(``overall_max_regression``), and critical prompts that must always pass.
A regression beyond its allowance FAILs only when the paired exact test on
the prompts that flipped says it is not noise; otherwise the verdict is
INCONCLUSIVE, with how many more flips the data would need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypedDict

from pytest_punie.metrics import exact, exact_score, grouped, metric_value
from pytest_punie.resultsformat import (
    BaselineAnswer,
    CategoryRow,
    Comparison,
    Flip,
    GateVerdict,
    LabelChange,
    PromptRow,
    RegressionRow,
    RunDocument,
    SuiteEntry,
    SuiteRules,
    row_key,
)
from pytest_punie.scoring.parse import written_text
from pytest_punie.stats import mcnemar_exact, min_flips_for_significance, wilson

ALPHA = 0.05


class SuiteChanged(Exception):
    """The two runs did not measure the same thing."""


@dataclass
class GateResult:
    """The regression gate's verdict, its reasons, and the comparison the reports draw."""

    verdict: str  # PASS | FAIL | INCONCLUSIVE
    reasons: list[str] = field(default_factory=list)
    comparison: Comparison = field(default_factory=lambda: Comparison())

    def to_dict(self) -> GateVerdict:
        """The verdict as the results document keeps it (with the alpha it was decided at)."""
        return {"verdict": self.verdict, "reasons": self.reasons, "alpha": ALPHA}


def measurement(doc: RunDocument) -> dict[str, object]:
    """What must be equal for two runs to be compared."""
    prov = doc.get("provenance", {})
    return {
        "suites": sorted((s["path"], s["digest"]) for s in doc.get("suites", [])),
        "scorers": sorted(s["scorer"] for s in doc.get("suites", [])),
        "sampling": prov.get("sampling"),
        "sampling_overrides": (prov.get("model") or {}).get("sampling_overrides"),
        "repeat": prov.get("repeat", 1),
    }


def check_same_measurement(candidate: RunDocument, baseline: RunDocument) -> list[str]:
    """What differs between what the two runs measured (suite, scorer, sampling): each a line."""
    a, b = measurement(candidate), measurement(baseline)
    return [f"{key}: baseline {b[key]!r}, candidate {a[key]!r}" for key in a if a[key] != b[key]]


def completeness_of(doc: RunDocument) -> tuple[str, list[str]]:
    """A document's completeness; older documents without one are judged by their suites."""
    recorded = doc.get("completeness")
    if isinstance(recorded, dict) and recorded.get("state"):
        return str(recorded["state"]), list(recorded.get("reasons") or [])
    partial = [s.get("suite", "?") for s in doc.get("suites", []) if not s.get("complete", False)]
    return ("partial", [f"{', '.join(partial)}: not every prompt ran"]) if partial else ("whole", [])


def _prompts(doc: RunDocument) -> dict[tuple[str, str, str], PromptRow]:
    """A document's prompt rows by (suite path, variant, id): how two runs' prompts are paired."""
    return {(p["suite"], p.get("variant", ""), p["id"]): p for p in doc.get("prompts", [])}


def _category_key(doc: RunDocument, p: PromptRow | Flip) -> str:
    """The key of a prompt's category in ``doc["categories"]`` (as the document builds it)."""
    suite = next((s["suite"] for s in doc.get("suites", []) if s["path"] == p["suite"]), p["suite"])
    return row_key(doc.get("suites", []), suite, p.get("variant", ""), str(p["category"]))


def restricted_to(doc: RunDocument, keys: set[tuple[str, str, str]]) -> tuple[dict[str, Totals], Totals | None]:
    """Each category's and the overall score recomputed on the prompts ``keys``
    only, with the metric the document used: like is compared with like."""
    chosen = [p for k, p in _prompts(doc).items() if k in keys]
    metrics = {k: c.get("metric", "mean_score") for k, c in doc.get("categories", {}).items()}
    groups = grouped(chosen, lambda p: _category_key(doc, p), list)
    scorers = _scorers(doc)
    cats = {k: _summary(scorers, ps, metrics.get(k, "mean_score")) for k, ps in groups.items()}
    overall_metric = doc.get("overall", {}).get("metric", "mean_score")
    return cats, (_summary(scorers, chosen, overall_metric) if chosen else None)


class Totals(TypedDict, total=False):
    """A row as the gate compares it: a document's own row, or one recomputed on the prompts both runs have."""

    score: float | None
    score_exact: Fraction | str | None  # exact; a recomputed row keeps the Fraction
    prompts_run: int
    prompts_passed: int
    metric: str
    ids: set[str]  # a suite-level metric's prompts
    suite: str  # a suite-level metric's suite path


def _row_totals(row: CategoryRow) -> Totals:
    """A document's row (category or overall) as the gate compares it."""
    out: Totals = {}
    for key in ("score", "score_exact", "prompts_run", "prompts_passed", "metric"):
        if key in row:
            out[key] = row[key]  # type: ignore[literal-required]
    return out


def _totals(doc: RunDocument) -> tuple[dict[str, Totals], Totals | None]:
    """A document's own category rows and overall, as the gate compares them."""
    overall = doc.get("overall")
    return {k: _row_totals(c) for k, c in doc.get("categories", {}).items()}, (
        None if overall is None else _row_totals(overall)
    )


def allowance(rules: SuiteRules, name: str, group: str | None = None) -> float | None:
    """The largest regression a row may have (its ``max_regression``); None when it has none."""
    value = rules.get(name) if group is None else (_mapping(rules.get(group)).get(name))
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _mapping(value: object) -> dict[str, float | None]:
    return value if isinstance(value, dict) else {}


def critical_prompts(rules: SuiteRules) -> list[str]:
    """The prompts a suite marked critical: any one failing FAILs the gate."""
    value = rules.get("critical")
    return [str(x) for x in value] if isinstance(value, list) else []


def _scorers(doc: RunDocument) -> dict[tuple[str, str], str]:
    """Each (suite path, variant)'s primary scorer, read once per document."""
    return {(s["path"], s.get("variant", "")): s.get("scorer", "legacy") for s in doc.get("suites", [])}


def _summary(scorers: dict[tuple[str, str], str], ps: list[PromptRow], metric: str) -> Totals:
    """A group of prompt rows summarised with the document's metric, in exact fractions (metrics.py)."""
    scores = [exact_score(p, scorers.get((p["suite"], p.get("variant", "")), "legacy")) for p in ps]
    value = metric_value(metric, scores, [bool(p["passed"]) for p in ps])
    passed = sum(1 for p in ps if p["passed"])
    score = None if value is None else round(float(value), 6)
    return {"score": score, "score_exact": value, "prompts_run": len(ps), "prompts_passed": passed, "metric": metric}


def metric_rows(doc: RunDocument, keys: set[tuple[str, str, str]]) -> dict[str, Totals]:
    """Each suite-level metric recomputed on the prompts ``keys`` (those both runs have)."""
    prompts, scorers = _prompts(doc), _scorers(doc)
    out: dict[str, Totals] = {}
    for suite in doc.get("suites", []):
        variant = suite.get("variant", "")
        for name, m in (suite.get("metrics") or {}).items():
            chosen = [prompts[k] for k in ((suite["path"], variant, pid) for pid in m["prompt_ids"]) if k in keys]
            if chosen:
                out[_metric_key(doc, suite, name)] = {
                    **_summary(scorers, chosen, m.get("metric", "mean_score")),
                    "ids": {p["id"] for p in chosen},
                    "suite": suite["path"],
                }
    return out


def _metric_key(doc: RunDocument, suite: SuiteEntry, name: str) -> str:
    """A metric's key in the comparison: its name, prefixed like categories when a document has several suites."""
    return row_key(doc.get("suites", []), suite["suite"], suite.get("variant", ""), name)


def _regression(
    name: str,
    c: Totals,
    b: Totals,
    mine: list[Flip],
    allowed: float | None,
    reasons_fail: list[str],
    reasons_inc: list[str],
) -> RegressionRow:
    """One row of the comparison (a category, overall or a metric): the change, its
    flips and exact McNemar p; a drop beyond ``allowed`` FAILs only when it is not noise."""
    worse = sum(1 for f in mine if f["from"] and not f["to"])
    better = sum(1 for f in mine if not f["from"] and f["to"])
    p = mcnemar_exact(worse, better)
    delta = exact(c.get("score_exact"), c["score"]) - exact(b.get("score_exact"), b["score"])
    n = c.get("prompts_run") or 0
    entry: RegressionRow = {
        "baseline": b["score"],
        "candidate": c["score"],
        "delta": round(float(delta), 6),
        "worse": worse,
        "better": better,
        "p_value": round(p, 6),
        "prompts": n,
        "candidate_interval": wilson(c.get("prompts_passed") or 0, n) if n else None,
        "baseline_interval": wilson(b.get("prompts_passed") or 0, b.get("prompts_run") or 0)
        if b.get("prompts_run")
        else None,
    }
    if allowed is not None and delta < -Fraction(str(allowed)):
        what = (
            f"{name}: {b['score']:.1%} -> {c['score']:.1%} ({float(delta):+.1%}), more than the allowed -{allowed:.1%}"
        )
        if p < ALPHA:
            reasons_fail.append(f"{what}; {worse} prompts got worse, {better} better (exact McNemar p={p:.3f})")
        else:
            need = min_flips_for_significance(ALPHA)
            reasons_inc.append(
                f"{what}, but {worse} worse / {better} better flips cannot be told from noise (p={p:.3f}); "
                f"with {n} prompts at least {need} one-way flips are needed to show a change"
            )
    return entry


def refuse_if_changed(changed: list[str], allow_change: bool) -> list[str]:
    """Two runs that measured different things are not gated unless the user says so."""
    if changed and not allow_change:
        raise SuiteChanged(
            "the runs measured different things; refusing to gate "
            "(pass --punie-allow-suite-change to compare anyway):\n  " + "\n  ".join(changed)
        )
    return changed


def _prompt_changes(
    cand_p: dict[tuple[str, str, str], PromptRow], base_p: dict[tuple[str, str, str], PromptRow]
) -> tuple[list[Flip], list[LabelChange], list[BaselineAnswer]]:
    """Prompt by prompt, on the prompts both runs have: the flips between pass and miss, the label
    changes, and what the baseline answered (for the report's side-by-side view)."""
    flips: list[Flip] = []
    labels: list[LabelChange] = []
    answers: list[BaselineAnswer] = []
    for key, cp in cand_p.items():
        bp = base_p.get(key)
        if bp is None:
            continue
        variant = cp.get("variant", "")
        answers.append(
            {
                "suite": cp["suite"],
                "variant": variant,
                "id": cp["id"],
                "passed": bp["passed"],
                "label": bp["label"],
                "score": bp["score"],
                "text": written_text(bp.get("response")),
            }
        )
        if bp["passed"] != cp["passed"]:
            flips.append(
                {
                    "id": cp["id"],
                    "suite": cp["suite"],
                    "variant": variant,
                    "category": cp["category"],
                    "from": bp["passed"],
                    "to": cp["passed"],
                    "score_from": bp["score"],
                    "score_to": cp["score"],
                }
            )
        if bp["label"] != cp["label"]:
            labels.append({"id": cp["id"], "from": bp["label"], "to": cp["label"]})
    return flips, labels, answers


def _regressions(
    candidate: RunDocument,
    baseline: RunDocument,
    common: set[tuple[str, str, str]],
    restricted: bool,
    flips: list[Flip],
    rules: SuiteRules,
    fail: list[str],
    inconclusive: list[str],
) -> tuple[dict[str, RegressionRow], dict[str, RegressionRow]]:
    """Each category's, the overall's and each metric's change against the baseline, judged
    against its allowance (on the prompts both runs have, when they differ)."""
    categories: dict[str, RegressionRow] = {}
    if restricted:  # like with like: each side's totals on the prompts both runs have
        cand_cats, cand_overall = restricted_to(candidate, common)
        base_cats, base_overall = restricted_to(baseline, common)
    else:
        cand_cats, cand_overall = _totals(candidate)
        base_cats, base_overall = _totals(baseline)
    for name in [*cand_cats, "overall"]:
        c = cand_cats.get(name) if name != "overall" else cand_overall
        b = base_cats.get(name) if name != "overall" else base_overall
        if not c or not b or c.get("score") is None or b.get("score") is None:
            continue
        mine = [f for f in flips if name == "overall" or _category_key(candidate, f) == name]
        categories[name] = _regression(name, c, b, mine, allowance(rules, name), fail, inconclusive)
    metrics: dict[str, RegressionRow] = {}
    base_metrics = metric_rows(baseline, common)
    for name, c in metric_rows(candidate, common).items():
        b = base_metrics.get(name)
        if b is None:
            continue
        mine = [f for f in flips if f["suite"] == c["suite"] and f["id"] in c["ids"]]
        allowed = allowance(rules, name, "metrics")
        metrics[name] = _regression(name, c, b, mine, allowed, fail, inconclusive)
    return categories, metrics


def _own_misses(candidate: RunDocument, cand_p: dict[tuple[str, str, str], PromptRow], rules: SuiteRules) -> list[str]:
    """What fails the candidate on its own: a pre-registered threshold missed, a prompt with no
    response, a critical prompt failed."""
    out = []
    for suite in candidate.get("suites", []):
        for name, cat in suite["categories"].items():
            if cat["passed"] is False:
                out.append(f"{name}: {cat['score']:.1%} misses its pre-registered threshold {cat['threshold']}")
        for name, m in (suite.get("metrics") or {}).items():
            if m["passed"] is False:
                out.append(f"{name}: {m['score']:.1%} misses its pre-registered threshold {m['threshold']}")
        if suite["overall"]["passed"] is False:
            out.append(f"overall: {suite['overall']['score']:.1%} misses its threshold {suite['overall']['threshold']}")
        out += [f"{pid}: no response" for pid in suite.get("no_response", [])]
    for pid in critical_prompts(rules):
        crit = next((x for x in cand_p.values() if x["id"] == pid), None)
        if crit is not None and not crit["passed"]:
            out.append(f"critical prompt {pid} failed ({crit['label']}, score {crit['score']:.2f})")
    return out


def compare(candidate: RunDocument, baseline: RunDocument, rules: SuiteRules, allow_change: bool = False) -> GateResult:
    """The regression gate: a candidate run against a saved baseline, under the suite's rules
    (``{category: max_regression or None, "overall": ..., "critical": [prompt ids]}``)."""
    changed = refuse_if_changed(check_same_measurement(candidate, baseline), allow_change)
    reasons_fail: list[str] = []
    reasons_inc: list[str] = []
    cand_p, base_p = _prompts(candidate), _prompts(baseline)
    common = set(cand_p) & set(base_p)
    restricted = common != set(cand_p) or common != set(base_p)
    flips, labels, answers = _prompt_changes(cand_p, base_p)
    label_moves: dict[str, int] = {}
    for m in labels:
        label_moves[f"{m['from']} -> {m['to']}"] = label_moves.get(f"{m['from']} -> {m['to']}", 0) + 1
    categories, metrics = _regressions(candidate, baseline, common, restricted, flips, rules, reasons_fail, reasons_inc)
    reasons_fail += _own_misses(candidate, cand_p, rules)
    from pytest_punie.gate.lock import compare_locks
    from pytest_punie.views.gateview import lock_line

    lock = compare_locks(candidate, baseline)
    if lock is not None and lock["verdict"] == "weakened" and rules.get("format_lock"):
        reasons_fail.append(lock_line(lock) + " (the suite gates on it)")
    cand_state, _ = completeness_of(candidate)
    if cand_state != "whole" and not reasons_fail:
        total = sum(int(s["overall"]["prompts"]) for s in candidate.get("suites", []))
        reasons_inc.append(
            f"the candidate run was {cand_state} ({len(cand_p)} of {total} prompts ran): a PASS needs the whole suite"
        )
    verdict = "FAIL" if reasons_fail else "INCONCLUSIVE" if reasons_inc else "PASS"
    if verdict == "PASS":
        reasons = ["every threshold holds, no critical prompt failed, no regression beyond its allowance"]
    else:
        reasons = reasons_fail + reasons_inc
    return GateResult(
        verdict,
        reasons,
        {
            "baseline": {
                "model": baseline.get("provenance", {}).get("model"),
                "time": baseline.get("provenance", {}).get("time"),
            },
            "categories": categories,
            "metrics": metrics,
            "flips": flips,
            "label_changes": labels,
            "baseline_answers": answers,
            "label_moves": label_moves,
            "measurement_changed": changed,
            **({"format_lock": lock} if lock is not None else {}),
            "scope": {
                "common_prompts": len(common),
                "candidate_prompts": len(cand_p),
                "baseline_prompts": len(base_p),
                "restricted": restricted,
            },
        },
    )
