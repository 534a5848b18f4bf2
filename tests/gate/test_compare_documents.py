"""The gate's compare on hand-built documents: each rule, alone, decides."""

from __future__ import annotations

import pytest

from pytest_punie.gate.baselines import rules_of
from pytest_punie.gate.compare import SuiteChanged, compare

from .handbuilt import document, write_suite

SIX = {"a1", "a2", "a3", "b1", "b2", "b3"}


@pytest.fixture
def mini(tmp_path):
    return write_suite(tmp_path)


def gate(candidate, baseline):
    return compare(candidate, baseline, rules_of(baseline))


def test_identical_runs_pass(mini):
    doc = document([mini])
    result = gate(doc, doc)
    assert result.verdict == "PASS"
    assert result.comparison["metrics"]["rate"]["delta"] == 0
    assert result.comparison["categories"]["a"]["worse"] == 0


def test_a_metric_below_its_threshold_fails_the_gate(mini):
    base = document([mini])
    cand = document([mini], failing={"a1", "b1"})  # metric 3/5 = 60% holds; a 3/5 holds
    assert gate(cand, base).verdict in ("PASS", "INCONCLUSIVE")
    worse = document([mini], failing={"a1", "b1", "b2"})  # metric 2/5 = 40% < 60%
    result = gate(worse, base)
    assert result.verdict == "FAIL"
    assert "rate: 40.0% misses its pre-registered threshold >= 0.6" in result.reasons


def test_a_category_threshold_miss_fails(mini):
    result = gate(document([mini], failing={"b1", "b2", "b3", "b4"}), document([mini]))
    assert "b: 20.0% misses its pre-registered threshold >= 0.4" in result.reasons
    assert result.verdict == "FAIL"


def test_a_regression_exactly_at_its_allowance_is_allowed(mini):
    base = document([mini])
    cand = document([mini], failing={"b4"})  # rate untouched; overall -10%, allowed -20%
    result = gate(cand, base)
    assert result.comparison["categories"]["overall"]["delta"] == pytest.approx(-0.1)
    assert result.verdict == "PASS", result.reasons
    at = document([mini], failing={"b4", "b5"})  # overall exactly -20%: at the allowance, not beyond
    assert gate(at, base).verdict == "PASS"


def test_a_metric_regression_beyond_its_allowance(mini):
    """rate: 100% -> 40%: beyond the allowed -20%, but 3 flips cannot be told from noise."""
    base = document([mini])
    cand = document([mini], failing={"a1", "a2", "a3"})
    result = gate(cand, base)
    row = result.comparison["metrics"]["rate"]
    assert (row["baseline"], row["candidate"], row["worse"], row["better"]) == (1.0, 0.4, 3, 0)
    assert any(r.startswith("rate: 100.0% -> 40.0% (-60.0%), more than the allowed -20.0%") for r in result.reasons)


def test_six_one_way_flips_make_a_significant_regression(tmp_path):
    suite = write_suite(
        tmp_path,
        categories={"a": {"threshold": ">= 0"}, "b": {"threshold": ">= 0"}},
        overall_threshold=">= 0",
        metrics={},
    )
    result = gate(document([suite], failing=SIX), document([suite]))
    assert result.verdict == "FAIL"
    assert any("6 prompts got worse, 0 better (exact McNemar p=0.031)" in r for r in result.reasons)


def test_flips_in_both_directions_cancel(tmp_path):
    suite = write_suite(
        tmp_path,
        categories={"a": {"threshold": ">= 0"}, "b": {"threshold": ">= 0"}},
        overall_threshold=">= 0",
        metrics={},
    )
    base = document([suite], failing={"a1", "a2", "b1"})
    cand = document([suite], failing={"a3", "a4", "b2"})
    result = gate(cand, base)
    overall = result.comparison["categories"]["overall"]
    assert (overall["worse"], overall["better"], overall["delta"]) == (3, 3, 0)
    assert result.verdict == "PASS"
    assert {(f["id"], f["from"], f["to"]) for f in result.comparison["flips"]} == {
        ("a1", False, True),
        ("a2", False, True),
        ("b1", False, True),
        ("a3", True, False),
        ("a4", True, False),
        ("b2", True, False),
    }


def test_a_missing_response_fails_the_gate(mini):
    result = gate(document([mini], errors={"b5"}), document([mini]))
    assert "b5: no response" in result.reasons and result.verdict == "FAIL"


def test_a_critical_prompt_that_passes_is_no_reason(tmp_path):
    suite = write_suite(tmp_path)
    base = document([suite])
    rules = {**rules_of(base), "critical": ["a1"]}
    assert compare(document([suite]), base, rules).verdict == "PASS"
    failed = compare(document([suite], failing={"a1"}), base, rules)
    assert "critical prompt a1 failed (wrapped-wrong-tool, score 0.00)" in failed.reasons


def test_changed_sampling_or_repeats_refuse_to_gate(mini):
    base = document([mini])
    with pytest.raises(SuiteChanged, match="sampling"):
        gate(document([mini], sampling={"default": {"temperature": 0.7}}), base)
    with pytest.raises(SuiteChanged, match="repeat"):
        gate(document([mini], repeat=3), base)
    allowed = compare(document([mini], repeat=3), base, rules_of(base), allow_change=True)
    assert allowed.comparison["measurement_changed"] == ["repeat: baseline 1, candidate 3"]


def test_a_partial_candidate_is_never_a_pass(mini):
    result = gate(document([mini], missing={"b5"}), document([mini]))
    assert result.verdict == "INCONCLUSIVE"
    assert result.comparison["scope"] == {
        "common_prompts": 9,
        "candidate_prompts": 9,
        "baseline_prompts": 10,
        "restricted": True,
    }
    assert any("a PASS needs the whole suite" in r for r in result.reasons)


def test_with_two_suites_rules_apply_to_each_suites_categories_and_metrics(tmp_path):
    one, two = write_suite(tmp_path, "one"), write_suite(tmp_path, "two")
    base = document([one, two])
    rules = rules_of(base)
    assert rules["one:a"] == 0.2 and rules["two:a"] == 0.2 and "a" not in rules
    assert rules["metrics"] == {"one:rate": 0.2, "two:rate": 0.2}
    assert gate(document([one, two]), base).verdict == "PASS"
    # three flips in suite two's category a: its own rows, not suite one's
    cand_doc = document([one, two])
    for p in cand_doc["prompts"]:
        if p["suite"] == two.path and p["id"] in {"a1", "a2", "a3"}:
            p["passed"], p["score"] = False, 0.0
    result = gate(cand_doc, base)
    assert result.comparison["categories"]["two:a"]["worse"] == 3
    assert result.comparison["categories"]["one:a"]["worse"] == 0
    assert result.comparison["metrics"]["two:rate"]["worse"] == 3
    assert result.comparison["metrics"]["one:rate"]["worse"] == 0
