"""judge_suite on hand-built results: what a category, the overall and a metric
say when all, some or none of their prompts ran."""

from __future__ import annotations

from fractions import Fraction

from pytest_punie.verdict import judge_suite

from ..gate.handbuilt import result, write_suite


def test_a_category_with_no_prompt_run_is_not_judged_and_counts_nothing(tmp_path):
    suite = write_suite(tmp_path)
    ran = [result(suite, f"a{i}", True) for i in range(1, 6)]
    v = judge_suite(suite, ran)
    b = v.categories["b"]
    assert (b.prompts_run, b.prompts_passed, b.mean_score, b.pass_rate, b.passed) == (0, 0, None, None, None)
    assert b.score is None and not b.complete
    a = v.categories["a"]
    assert (a.prompts_run, a.prompts_passed, a.pass_rate, a.passed, a.complete) == (5, 5, 1, True, True)
    assert v.overall.passed is None and v.metrics["rate"].passed is None  # partial: not judged
    assert v.passed  # every judged threshold holds
    assert not judge_suite(suite, []).passed  # nothing judged is never a pass


def test_mean_score_and_pass_rate_are_different_metrics(tmp_path):
    suite = write_suite(tmp_path, threshold_metric="mean_score", pass_score=0.5)
    rs = [result(suite, p.id, True) for p in suite.prompts]
    rs[0].scores = {"legacy": Fraction(1, 2), "strict": Fraction(0)}
    rs[1].scores = {"legacy": Fraction(1, 10), "strict": Fraction(0)}
    v = judge_suite(suite, rs)
    a = v.categories["a"]
    assert a.mean_score == Fraction(36, 50) and a.pass_rate == Fraction(4, 5) and a.score == a.mean_score
    assert judge_suite(suite, rs, "strict").categories["a"].mean_score == Fraction(3, 5)


def test_thresholds_at_their_boundary(tmp_path):
    """>= holds at the value exactly; > does not; the metric is judged like a category."""
    suite = write_suite(tmp_path)
    three_of_five = [result(suite, p.id, p.id not in {"a1", "a2"}) for p in suite.prompts]
    v = judge_suite(suite, three_of_five)
    assert v.categories["a"].pass_rate == Fraction(3, 5) and v.categories["a"].passed is True  # >= 0.6
    assert v.metrics["rate"].pass_rate == Fraction(3, 5) and v.metrics["rate"].passed is True
    strict = write_suite(tmp_path, "gt", categories={"a": {"threshold": "> 0.6"}, "b": {"threshold": ">= 0.4"}})
    assert (
        judge_suite(strict, [result(strict, p.id, p.id not in {"a1", "a2"}) for p in strict.prompts])
        .categories["a"]
        .passed
        is False
    )


def test_a_prompt_without_a_response_fails_the_suite(tmp_path):
    suite = write_suite(
        tmp_path,
        categories={"a": {"threshold": ">= 0"}, "b": {"threshold": ">= 0"}},
        overall_threshold=">= 0",
        metrics={},
    )
    rs = [result(suite, p.id, True, error="timeout" if p.id == "b5" else None) for p in suite.prompts]
    v = judge_suite(suite, rs)
    assert v.no_response == ("b5",) and not v.passed
    assert all(c.passed for c in v.categories.values())
