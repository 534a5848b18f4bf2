"""Did the format lock hold? Per-prompt margins of a candidate against its baseline, paired over
the prompts both measured, with an exact Wilcoxon signed-rank test: "lock weakened / held /
strengthened" beside the pass/fail comparison. A candidate can keep every greedy pass while its
lock decays; this is where that shows."""

from __future__ import annotations

import statistics

from pytest_punie.resultsformat import LockComparison, PromptLock, RunDocument
from pytest_punie.stats import wilcoxon_signed_rank_exact

ALPHA = 0.05
TEST = "exact Wilcoxon signed-rank on per-prompt margins (mid-ranks for ties), two-sided"


def _margins(doc: RunDocument) -> dict[tuple[str, str, str], PromptLock]:
    return {
        (p["suite"], p.get("variant", ""), p["id"]): p["format_lock"]
        for p in doc.get("prompts", [])
        if isinstance(p.get("format_lock"), dict)
    }


def compare_locks(candidate: RunDocument, baseline: RunDocument) -> LockComparison | None:
    """The lock comparison, or None when the two runs share no prompt with a recorded margin."""
    cand, base = _margins(candidate), _margins(baseline)
    common = sorted(set(cand) & set(base))
    if not common:
        return None
    changes = [(k, cand[k]["margin"] - base[k]["margin"]) for k in common]
    w_plus, p = wilcoxon_signed_rank_exact([d for _, d in changes])
    median = statistics.median(d for _, d in changes)
    if p < ALPHA and median < 0:
        verdict = "weakened"
    elif p < ALPHA and median > 0:
        verdict = "strengthened"
    else:
        verdict = "held"
    drops = sorted(changes, key=lambda kd: kd[1])[:3]
    return {
        "verdict": verdict,
        "prompts": len(common),
        "median_change": round(median, 6),
        "mean_change": round(sum(d for _, d in changes) / len(changes), 6),
        "w_plus": w_plus,
        "p_value": round(p, 6),
        "alpha": ALPHA,
        "test": TEST,
        "largest_drops": [
            {
                "id": k[2],
                "variant": k[1],
                "from": base[k]["margin"],
                "to": cand[k]["margin"],
                "p_opener_from": base[k]["p_opener"],
                "p_opener_to": cand[k]["p_opener"],
            }
            for k, _ in drops
        ],
    }
