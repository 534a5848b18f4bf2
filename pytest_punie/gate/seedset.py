"""The gate for recipes: a candidate recipe's seed set against a saved seed set, on the prompt
level across seeds. Seed i of one recipe has nothing to do with seed i of another, so seeds are
never paired, and one lucky seed is never the baseline: the difference of the two recipes' mean
scores gets an interval that resamples the prompts (paired) and each recipe's own seeds."""

from __future__ import annotations

import re

from pytest_punie.gate.compare import GateResult, allowance, check_same_measurement, refuse_if_changed
from pytest_punie.resultsformat import Comparison, PromptRow, RunDocument, SeedSetDifference, SuiteEntry, SuiteRules
from pytest_punie.stats import seed_set_difference

SEED = re.compile(r"^seed=(\d+)$")
REPS, BOOTSTRAP_SEED = 2000, 0


def is_seed_set(doc: RunDocument) -> bool:
    """A document of a ``--punie-seeds`` run (its prompts are all of ``seed=N`` variants)."""
    return bool(doc.get("seeds")) and all(SEED.match(p.get("variant", "")) for p in doc.get("prompts", []))


def _one_per_suite(doc: RunDocument) -> RunDocument:
    """The document with one suite entry per suite file: seed sets of different sizes measure alike."""
    seen: dict[str, SuiteEntry] = {}
    for s in doc.get("suites", []):
        seen.setdefault(s["path"], s)
    return {**doc, "suites": list(seen.values())}


def _matrix(doc: RunDocument, path: str, ids: list[str]) -> list[list[float]]:
    """seeds x prompts pass/fail of one suite (seeds with an unanswered prompt left out)."""
    by: dict[str, dict[str, PromptRow]] = {}
    for p in doc["prompts"]:
        if p["suite"] == path:
            by.setdefault(p["variant"], {})[p["id"]] = p
    rows = []
    for _variant, prompts in sorted(by.items()):
        if any(prompts.get(i) is None or prompts[i].get("error") for i in ids):
            continue
        rows.append([1.0 if prompts[i]["passed"] else 0.0 for i in ids])
    return rows


def _suite_difference(
    candidate: RunDocument, baseline: RunDocument, path: str, allowed: float
) -> tuple[SeedSetDifference, str, float, float] | None:
    """One suite's recipes compared on the prompts both have: the pass-rate difference with its
    interval (seeds and prompts resampled), the sentence that says it, and the unrounded difference
    and upper bound the verdict is decided on; None when unmeasured."""
    ids = sorted(
        {p["id"] for p in candidate["prompts"] if p["suite"] == path}
        & {p["id"] for p in baseline["prompts"] if p["suite"] == path}
    )
    base, cand = _matrix(baseline, path, ids), _matrix(candidate, path, ids)
    if not ids or len(base) < 1 or len(cand) < 1:
        return None
    diff, lo, hi = seed_set_difference(base, cand, reps=REPS, seed=BOOTSTRAP_SEED)
    entry: SeedSetDifference = {
        "prompts": len(ids),
        "baseline_seeds": len(base),
        "candidate_seeds": len(cand),
        "baseline_pass_rate": round(sum(map(sum, base)) / (len(base) * len(ids)), 6),
        "candidate_pass_rate": round(sum(map(sum, cand)) / (len(cand) * len(ids)), 6),
        "difference": round(diff, 6),
        "interval": {"low": round(lo, 6), "high": round(hi, 6), "reps": REPS, "seed": BOOTSTRAP_SEED},
        "allowance": allowed,
    }
    what = (
        f"{path}: candidate recipe {diff * 100:+.1f} points over {len(cand)} seeds against the baseline's "
        f"{len(base)} (95% interval {lo * 100:+.1f} to {hi * 100:+.1f}, seeds and prompts resampled)"
    )
    return entry, what, diff, hi


def compare_seed_sets(
    candidate: RunDocument, baseline: RunDocument, rules: SuiteRules, allow_change: bool = False
) -> GateResult:
    """Per suite, as the single-model gate: a regression beyond the suite's overall allowance FAILs
    when the interval (seeds and prompts resampled) excludes no change, and is INCONCLUSIVE when
    it does not; within the allowance, PASS."""
    changed = check_same_measurement(_one_per_suite(candidate), _one_per_suite(baseline))
    # each seed's own model carries its sampling overrides; the sampling itself is compared
    refuse_if_changed([c for c in changed if not c.startswith("sampling_overrides")], allow_change)
    allowed = allowance(rules, "overall") or 0.0  # the suite's overall max_regression (none: 0)
    suites: dict[str, SeedSetDifference] = {}
    fail, inconclusive = [], []
    for path in sorted({p["suite"] for p in candidate["prompts"]} & {p["suite"] for p in baseline["prompts"]}):
        measured = _suite_difference(candidate, baseline, path, allowed)
        if measured is None:
            continue
        suites[path], what, diff, hi = measured
        if diff < -allowed and hi < 0:
            fail.append(what + f": a regression beyond the allowance ({allowed * 100:.1f} points), and not noise")
        elif diff < -allowed:
            inconclusive.append(
                what + f": a regression beyond the allowance ({allowed * 100:.1f} points), but the interval holds "
                "none as well; more seeds or prompts narrow it"
            )
    comparison: Comparison = {
        "kind": "seed sets",
        "method": "paired prompts, each recipe's seeds resampled (percentile bootstrap, 95%)",
        "suites": suites,
        "baseline": {
            "model": (baseline.get("provenance") or {}).get("model"),
            "time": baseline["provenance"].get("time"),
        },
    }
    if not suites:
        return GateResult("INCONCLUSIVE", ["no suite measured by both seed sets"], comparison)
    if fail or inconclusive:
        return GateResult("FAIL" if fail else "INCONCLUSIVE", fail + inconclusive, comparison)
    return GateResult(
        "PASS",
        [
            f"{p}: candidate recipe {c['difference'] * 100:+.1f} points, within the allowance "
            f"({c['allowance'] * 100:.1f} points)"
            for p, c in suites.items()
        ],
        comparison,
    )
