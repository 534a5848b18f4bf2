"""Scorer agreement: pass or fail per scorer at the pass score, and the reason
for each disagreement in the users' terms. Hand-built prompt objects."""

from __future__ import annotations

from fractions import Fraction

from pytest_punie.scoring.agreement import SERVING_DROP, disagreement_reason, scorer_agreement


def prompt(pid, legacy, strict, label, served="parsed", error=None):
    return {
        "id": pid,
        "suite": "s.yaml",
        "variant": "",
        "scores_exact": {"legacy": legacy, "strict": strict},
        "label": label,
        "served": served,
        "error": error,
        "details": {"problems": ["p1"]},
    }


def test_agreement_counts_pass_and_fail_at_the_pass_score():
    prompts = [
        prompt("a", "1", "1", "wrapped-correct"),
        prompt("b", "1/2", "0", "direct-call"),
        prompt("c", "1/2", "0", "prose"),
        prompt("d", "0", "1", "wrapped-correct", served="dropped"),
        prompt("e", "1", "0", "bad-field"),
        prompt("f", "1", "0", "wrapped-wrong-tool"),
        prompt("g", "1/10", "0", "wrapped-wrong-tool"),
        prompt("h", "1", "1", "wrapped-correct", error="timeout"),
    ]
    out = scorer_agreement(prompts, {"s.yaml": Fraction(1, 2)})
    assert (out["prompts"], out["agree"], out["disagree"]) == (8, 3, 5)
    reasons = {d["id"]: d["reason"] for d in out["disagreements"]}
    assert reasons["b"].startswith("direct call")
    assert reasons["c"].startswith("prose naming a tool")
    assert reasons["d"] == SERVING_DROP
    assert reasons["e"].startswith("bad-field: the program would not run")
    assert reasons["f"].startswith("keyword substring")
    assert {d["id"]: (d["legacy_passed"], d["strict_passed"]) for d in out["disagreements"]}["d"] == (False, True)


def test_a_reason_is_always_given():
    assert disagreement_reason("wrapped-partial", "parsed", False, {}).startswith("wrapped-partial: strict credits")
    assert disagreement_reason("truncated", "parsed", True, {"problems": ["cut"]}) == "truncated: cut"
    assert disagreement_reason("empty", None, True, {}) == "empty"
