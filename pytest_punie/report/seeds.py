"""Training seeds as the unit of analysis: each seed's score, the spread, an interval over
seeds and prompts, the prompts decided by luck, and a pre-registered k-of-n rule printed with
its operating characteristic (so nobody over-reads it)."""

from __future__ import annotations

import re
from typing import Any, TypedDict

from pytest_punie.models.gates import gate_that_stopped
from pytest_punie.resultsformat import CategoryRow, PromptRow, RunDocument, SeedRow, SeedRuleVerdict, SuiteSeeds
from pytest_punie.stats import crossed_bootstrap, k_of_n_pass_probability, seed_spread
from pytest_punie.suite.suitetypes import Threshold

SEED_VARIANT = re.compile(r"^seed=(\d+)$")
BOOTSTRAP_REPS, BOOTSTRAP_SEED = 2000, 0


class SeedRule(TypedDict):
    """A suite's pre-registered k-of-n reproducibility rule (``reproducibility:``), its threshold parsed."""

    seeds_passing: int
    of: int
    overall: Threshold


BOOTSTRAP = {
    "method": "crossed bootstrap over seeds and prompts (Sellam et al. 2021)",
    "reps": BOOTSTRAP_REPS,
    "seed": BOOTSTRAP_SEED,
}


def _value(prompt: PromptRow, metric: str) -> float:
    """A prompt's contribution to a category's score: pass/fail for a pass rate, else its score."""
    return (1.0 if prompt["passed"] else 0.0) if metric == "pass_rate" else score_number(prompt["score"])


def score_number(score: float | None) -> float:
    """A score a seed's figures are made of: a seed with a prompt left unanswered is measured in no figure."""
    if score is None:
        raise TypeError("a seed's row has no score")
    return float(score)


def _row(name: str, seeds: list[tuple[int, CategoryRow]], prompts: dict[int, list[PromptRow]]) -> SeedRow:
    """One category (or overall) across seeds."""
    scores = [score_number(c["score"]) for _, c in seeds]
    metric = seeds[0][1].get("metric", "mean_score")
    ids = sorted({p["id"] for s, _ in seeds for p in prompts[s]})
    by = {s: {p["id"]: p for p in prompts[s]} for s, _ in seeds}
    out: SeedRow = {
        "name": name,
        "threshold": seeds[0][1].get("threshold"),
        "per_seed": {str(s): {"score": c["score"], "passed": c["passed"]} for s, c in seeds},
    }
    out.update(seed_spread(scores))
    if ids and all(i in by[s] for s, _ in seeds for i in ids):
        matrix = [[_value(by[s][i], metric) for i in ids] for s, _ in seeds]
        lo, hi = crossed_bootstrap(matrix, reps=BOOTSTRAP_REPS, seed=BOOTSTRAP_SEED)
        out["interval"] = {"low": round(lo, 6), "high": round(hi, 6), **BOOTSTRAP}
    return out


def operating_characteristic(rule: SeedRule, prompts: int) -> list[dict[str, float]]:
    """The rule's pass probability at true rates around its threshold (binomial prompts)."""
    t = float(rule["overall"].value)
    rates = sorted({round(min(1.0, max(0.0, t + d)), 4) for d in (-0.05, -0.02, 0.0, 0.02, 0.05)})
    k, n = rule["seeds_passing"], rule["of"]
    return [{"rate": r, "pass_probability": round(k_of_n_pass_probability(k, n, t, prompts, r), 4)} for r in rates]


def seeds_of(doc: RunDocument, rules: dict[str, SeedRule | None]) -> dict[str, SuiteSeeds] | None:
    """The seeds section of a run of ``seed=N`` variants, per suite; None when there are none."""
    out: dict[str, SuiteSeeds] = {}
    for name in dict.fromkeys(s["suite"] for s in doc["suites"]):
        runs = [
            (int(m.group(1)), s)
            for s in doc["suites"]
            if s["suite"] == name and (m := SEED_VARIANT.match(s["variant"]))
        ]
        if not runs:
            continue
        runs.sort(key=lambda r: r[0])
        path = runs[0][1]["path"]
        prompts = {
            seed: [p for p in doc["prompts"] if p["suite"] == path and p.get("variant") == f"seed={seed}"]
            for seed, _ in runs
        }
        # a seed with a prompt left unanswered (not built, cut by a limit) is not a measurement of the recipe
        unmeasured = {
            str(seed): next(p["error"] for p in prompts[seed] if p.get("error"))
            for seed, _ in runs
            if any(p.get("error") for p in prompts[seed])
        }
        asked = [seed for seed, _ in runs]
        runs = [(seed, s) for seed, s in runs if str(seed) not in unmeasured]
        head: SuiteSeeds = {"seeds": [seed for seed, _ in runs], "asked": asked, "covers": _covers(asked, unmeasured)}
        if unmeasured:
            head["not_measured"] = unmeasured
            gates = {k: gate for k, why in unmeasured.items() if (gate := gate_that_stopped(why))}
            if gates:
                head["stopped_at"] = gates
        resumed = _resumed_seeds(doc, asked)
        if resumed:
            head["resumed"] = resumed
        if not runs:
            out[name] = head  # no spread, no interval, no rule: nothing was measured
            continue
        categories = [
            _row(
                cat,
                [(seed, s["categories"][cat]) for seed, s in runs],
                {k: [p for p in v if p["category"] == cat] for k, v in prompts.items()},
            )
            for cat in runs[0][1]["categories"]
        ]
        overall = _row("overall", [(seed, s["overall"]) for seed, s in runs], prompts)
        ids = list(dict.fromkeys(p["id"] for seed, _ in runs for p in prompts[seed]))
        passing = {i: sum(1 for seed, _ in runs for p in prompts[seed] if p["id"] == i and p["passed"]) for i in ids}
        suite: SuiteSeeds = {
            **head,
            "categories": categories,
            "overall": overall,
            "prompts": [{"id": i, "seeds_passing": passing[i], "of": len(runs)} for i in ids],
            "decided_by_luck": [i for i in ids if 0 < passing[i] < len(runs)],
        }
        rule = rules.get(name)
        if rule:
            suite["rule"] = judge_rule(rule, overall, len(runs), overall_prompts=len(ids))
        out[name] = suite
    return out or None


def _resumed_seeds(doc: RunDocument, seeds: list[int]) -> dict[str, str]:
    """Seed -> how its adapter was trained in more than one run (resumed from a checkpoint with the
    weights only): such a seed's figures are not an uninterrupted training run's, and the summary says
    so. A resume that restored the whole training state continues the run exactly: not listed."""
    variants = doc.get("provenance", {}).get("variants") or {}
    out = {}
    for seed in seeds:
        for build in (variants.get(f"seed={seed}") or {}).get("builds") or []:
            r = build.get("resumed") if build.get("step") == "adapter" else None
            if r and not r.get("exact"):
                what = r.get("note", r["restarted"])
                out[str(seed)] = f"resumed at iteration {r['at']} of {r['of']} from {r['from']}: {what}"
    return out


def _covers(asked: list[int], unmeasured: dict[str, str | None]) -> str:
    """What a seeds summary covers, in words: every seed asked for, or only those answered."""
    if not unmeasured:
        return f"all {len(asked)} seeds"
    missing = ", ".join(unmeasured)
    left = len(asked) - len(unmeasured)
    if not left:
        return f"no seed: every seed asked for ({missing}) was not measured"
    return f"{left} of {len(asked)} seeds (seed {missing} not measured)"


def judge_rule(rule: SeedRule, overall: SeedRow, seeds_run: int, overall_prompts: int) -> SeedRuleVerdict:
    """REPRODUCIBLE / NOT REPRODUCIBLE by the pre-registered rule; NOT JUDGED when the run had
    another number of seeds than the rule names."""
    threshold = rule["overall"]
    reached = [s for s, v in overall["per_seed"].items() if threshold.holds(_fraction(v["score"]))]
    k, n = rule["seeds_passing"], rule["of"]
    if seeds_run != n:
        verdict = "NOT JUDGED"
        why = f"the rule is {k} of {n} seeds; this run trained {seeds_run}"
    else:
        verdict = "REPRODUCIBLE" if len(reached) >= k else "NOT REPRODUCIBLE"
        why = f"{len(reached)} of {seeds_run} seeds reached overall {threshold.text} (the rule: {k} of {n})"
    return {
        "seeds_passing": k,
        "of": n,
        "overall": threshold.text,
        "seeds_reaching": reached,
        "verdict": verdict,
        "why": why,
        "operating_characteristic": operating_characteristic(rule, overall_prompts),
        "model": "each seed's score ~ Binomial(prompts, rate) / prompts, seeds independent",
    }


def _fraction(score: Any) -> Any:
    from fractions import Fraction

    return Fraction(str(score))
