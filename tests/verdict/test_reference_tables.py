"""The verdict on the constructed Phase 33b and 43a responses reproduces the
reference tables to the last digit, with exact fractions at the thresholds."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pytest_punie.results import PromptResult, judge_prompt
from pytest_punie.sources import ResponseRecord
from pytest_punie.verdict import judge_suite

from ..conftest import FIXTURES, read_jsonl


def results_of(phase33, fixture: str) -> list[PromptResult]:
    """Each recorded response of a fixture judged by ``judge_prompt``, as the items do."""
    rows = read_jsonl(FIXTURES / fixture)
    out = []
    for row in rows:
        if "id" not in row:
            continue
        p = phase33.prompt(row["id"])
        out.append(judge_prompt(phase33.path, phase33, p, [ResponseRecord(row["response"])], "legacy"))
    return out


REFERENCE = {  # percent, from the reference's measured table
    "phase33b_responses.jsonl": {
        "text_tools": 100,
        "validation": 100,
        "git": 100,
        "cst": 100,
        "lsp": 90,
        "domain": 60,
        "multi_tool": 35,
        "overall": 82.4,
    },
    "phase43a_responses.jsonl": {
        "text_tools": 50.0,
        "validation": 50.0,
        "git": 33.3,
        "cst": 16.7,
        "lsp": 50.0,
        "domain": 27.8,
        "multi_tool": 100,
        "overall": 38.9,
    },
}


@pytest.mark.parametrize("fixture", sorted(REFERENCE))
def test_constructed_responses_reproduce_the_reference_table(phase33, fixture):
    verdict = judge_suite(phase33, results_of(phase33, fixture))
    got = {name: round(float(c.mean_score) * 100, 1) for name, c in verdict.categories.items()}
    got["overall"] = round(float(verdict.overall.mean_score) * 100, 1)
    assert got == REFERENCE[fixture]


def test_phase33b_exact_total_and_verdict(phase33):
    verdict = judge_suite(phase33, results_of(phase33, "phase33b_responses.jsonl"))
    assert verdict.overall.mean_score == Fraction(2225, 2700)  # 22.25 / 27
    assert verdict.categories["domain"].mean_score == Fraction(6, 10)  # exactly the threshold: holds
    assert verdict.passed


def test_phase43a_exact_total_and_verdict(phase33):
    verdict = judge_suite(phase33, results_of(phase33, "phase43a_responses.jsonl"))
    assert verdict.overall.mean_score == Fraction(105, 270)  # 10.5 / 27
    assert not verdict.passed
    assert [n for n, c in verdict.categories.items() if c.passed] == ["multi_tool"]
