"""The one metric implementation: exact fractions, None when nothing was measured, any metric per group."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.metrics import exact_score, grouped, mean_score, metric_value, pass_rate

fractions = st.fractions(min_value=0, max_value=1, max_denominator=12)


@given(st.lists(fractions, max_size=30))
def test_the_mean_score_is_exact(scores):
    expected = None if not scores else sum(scores, Fraction(0)) / len(scores)
    assert mean_score(scores) == expected
    assert metric_value("mean_score", scores, [True] * len(scores)) == expected


@given(st.lists(st.booleans(), max_size=30))
def test_the_pass_rate_counts_passes_over_prompts(passed):
    expected = None if not passed else Fraction(passed.count(True), len(passed))
    assert pass_rate(passed) == expected == metric_value("pass_rate", [Fraction(0)] * len(passed), passed)


def test_an_unknown_metric_is_refused_and_groups_keep_their_first_seen_order():
    with pytest.raises(ValueError, match="unknown metric 'median'"):
        metric_value("median", [], [])
    rows = [("git", True), ("lsp", False), ("git", False)]
    assert grouped(rows, lambda r: r[0], lambda rs: pass_rate([r[1] for r in rs])) == {
        "git": Fraction(1, 2),
        "lsp": Fraction(0),
    }


def test_a_rows_exact_score_comes_from_its_text_fraction_else_its_float():
    assert exact_score({"scores_exact": {"strict": "1/3"}, "scores": {"strict": 0.333333}}, "strict") == Fraction(1, 3)
    assert exact_score({"scores": {"strict": 0.25}}, "strict") == Fraction(1, 4)  # an older document
