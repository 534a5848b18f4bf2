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
from typing import Any

from pytest_punie.stats import mcnemar_exact, min_flips_for_significance, wilson

ALPHA = 0.05


class SuiteChanged(Exception):
    """The two runs did not measure the same thing."""


@dataclass
class GateResult:
    verdict: str  # PASS | FAIL | INCONCLUSIVE
    reasons: list[str] = field(default_factory=list)
    comparison: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": self.reasons, "alpha": ALPHA}


def measurement(doc: dict[str, Any]) -> dict[str, Any]:
    """What must be equal for two runs to be compared."""
    prov = doc.get("provenance", {})
    return {
        "suites": sorted((s["path"], s["digest"]) for s in doc.get("suites", [])),
        "scorers": sorted(s["scorer"] for s in doc.get("suites", [])),
        "sampling": prov.get("sampling"),
        "sampling_overrides": (prov.get("model") or {}).get("sampling_overrides"),
        "repeat": prov.get("repeat", 1),
    }


def check_same_measurement(candidate: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    a, b = measurement(candidate), measurement(baseline)
    return [f"{key}: baseline {b[key]!r}, candidate {a[key]!r}" for key in a if a[key] != b[key]]


def _prompts(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["suite"], p["id"]): p for p in doc.get("prompts", [])}


def compare(
    candidate: dict[str, Any], baseline: dict[str, Any], rules: dict[str, Any], allow_change: bool = False
) -> GateResult:
    """``rules``: {category: max_regression or None, "overall": ..., "critical": [prompt ids]}."""
    changed = check_same_measurement(candidate, baseline)
    if changed and not allow_change:
        raise SuiteChanged(
            "the runs measured different things; refusing to gate "
            "(pass --punie-allow-suite-change to compare anyway):\n  " + "\n  ".join(changed)
        )
    reasons_fail: list[str] = []
    reasons_inc: list[str] = []
    cand_p, base_p = _prompts(candidate), _prompts(baseline)
    flips = []
    labels = []
    for key, cp in cand_p.items():
        bp = base_p.get(key)
        if bp is None:
            continue
        if bp["passed"] != cp["passed"]:
            flips.append(
                {
                    "id": cp["id"],
                    "category": cp["category"],
                    "from": bp["passed"],
                    "to": cp["passed"],
                    "score_from": bp["score"],
                    "score_to": cp["score"],
                }
            )
        if bp["label"] != cp["label"]:
            labels.append({"id": cp["id"], "from": bp["label"], "to": cp["label"]})
    label_moves: dict[str, int] = {}
    for m in labels:
        label_moves[f"{m['from']} -> {m['to']}"] = label_moves.get(f"{m['from']} -> {m['to']}", 0) + 1

    categories: dict[str, Any] = {}
    cand_cats, base_cats = candidate.get("categories", {}), baseline.get("categories", {})
    for name in [*cand_cats, "overall"]:
        c: Any = cand_cats.get(name) if name != "overall" else candidate.get("overall")
        b: Any = base_cats.get(name) if name != "overall" else baseline.get("overall")
        if not c or not b or c.get("score") is None or b.get("score") is None:
            continue
        mine = [f for f in flips if name == "overall" or f["category"] == name]
        worse = sum(1 for f in mine if f["from"] and not f["to"])
        better = sum(1 for f in mine if not f["from"] and f["to"])
        p = mcnemar_exact(worse, better)
        delta = c["score"] - b["score"]
        n = c.get("prompts_run") or 0
        entry = {
            "baseline": b["score"],
            "candidate": c["score"],
            "delta": round(delta, 6),
            "worse": worse,
            "better": better,
            "p_value": round(p, 6),
            "prompts": n,
            "candidate_interval": wilson(c.get("prompts_passed") or 0, n) if n else None,
            "baseline_interval": wilson(b.get("prompts_passed") or 0, b.get("prompts_run") or 0)
            if b.get("prompts_run")
            else None,
        }
        categories[name] = entry
        allowed = rules.get(name)
        if allowed is not None and delta < -allowed - 1e-12:
            what = f"{name}: {b['score']:.1%} -> {c['score']:.1%} ({delta:+.1%}), more than the allowed -{allowed:.1%}"
            if p < ALPHA:
                reasons_fail.append(f"{what}; {worse} prompts got worse, {better} better (exact McNemar p={p:.3f})")
            else:
                need = min_flips_for_significance(ALPHA)
                reasons_inc.append(
                    f"{what}, but {worse} worse / {better} better flips cannot be told from noise (p={p:.3f}); "
                    f"with {n} prompts at least {need} one-way flips are needed to show a change"
                )
    for suite in candidate.get("suites", []):
        for name, cat in suite["categories"].items():
            if cat["passed"] is False:
                reasons_fail.append(
                    f"{name}: {cat['score']:.1%} misses its pre-registered threshold {cat['threshold']}"
                )
        if suite["overall"]["passed"] is False:
            reasons_fail.append(
                f"overall: {suite['overall']['score']:.1%} misses its threshold {suite['overall']['threshold']}"
            )
        for pid in suite.get("no_response", []):
            reasons_fail.append(f"{pid}: no response")
    for pid in rules.get("critical", []):
        crit = next((x for x in cand_p.values() if x["id"] == pid), None)
        if crit is not None and not crit["passed"]:
            reasons_fail.append(f"critical prompt {pid} failed ({crit['label']}, score {crit['score']:.2f})")
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
            "flips": flips,
            "label_changes": labels,
            "label_moves": label_moves,
            "measurement_changed": changed,
        },
    )
