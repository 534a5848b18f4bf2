"""One prompt's path from its response records to its result, as a plain
function: no pytester, no model."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pytest_punie.backends import ResponseRecord
from pytest_punie.results import PromptResult, judge_prompt, no_response
from pytest_punie.scoring import score_response
from pytest_punie.scoring.reduce import combine_samples

from ..fixtures.make_responses import code_mode, completion

GOOD = completion(code_mode('result = git_status(".")\nprint(result.files)'))
PROSE = completion("I would run git_status for you.")


def legacy_and_strict(scores: dict) -> dict:
    """The two text scorers' scores (the outcome scorer, which runs programs, is tested in tests/sandbox)."""
    return {k: scores[k] for k in ("legacy", "strict")}


def test_a_response_is_scored_both_ways_and_judged_by_the_primary_scorer(phase33):
    r = judge_prompt("phase33.yaml", phase33, phase33.prompt("git-01"), [ResponseRecord(GOOD, seconds=1.5)])
    assert legacy_and_strict(r.scores) == {"legacy": Fraction(1), "strict": Fraction(1)}
    assert (r.primary_scorer, r.passed, r.label, r.seconds) == ("legacy", True, "wrapped-correct", 1.5)
    assert r.details["served"]["status"] == "raw-unavailable"
    assert PromptResult.from_wire(r.to_wire()) == r


def test_a_mention_passes_legacy_and_fails_strict(phase33):
    prompt = phase33.prompt("git-01")
    legacy = judge_prompt("s", phase33, prompt, [ResponseRecord(PROSE)])
    strict = judge_prompt("s", phase33, prompt, [ResponseRecord(PROSE)], scorer="strict")
    assert (
        legacy_and_strict(legacy.scores)
        == legacy_and_strict(strict.scores)
        == {"legacy": Fraction(1, 2), "strict": Fraction(0)}
    )
    assert legacy.passed and not strict.passed
    assert strict.primary_scorer == "strict" and strict.label == "prose"


def test_a_transport_error_never_passes_whatever_the_scores(phase33):
    r = judge_prompt("s", phase33, phase33.prompt("git-01"), [ResponseRecord(GOOD, error="timeout after 120 s")])
    assert legacy_and_strict(r.scores) == {"legacy": Fraction(0), "strict": Fraction(0)}
    assert not r.passed and r.error == "timeout after 120 s" and r.label == "error"
    assert not r.got_response


def test_nothing_recorded_is_an_error_not_a_zero_that_passes(phase33):
    r = no_response("s", phase33, phase33.prompt("git-01"), "no recorded response", "t=0.7")
    assert (r.passed, r.label, r.error, r.variant) == (False, "error", "no recorded response", "t=0.7")


def test_samples_are_reduced_to_means_pass_rate_and_pass_hat_k(phase33):
    records = [ResponseRecord(GOOD), ResponseRecord(PROSE), ResponseRecord(completion(""))]
    r = judge_prompt("s", phase33, phase33.prompt("git-01"), records, scorer="strict")
    assert legacy_and_strict(r.scores) == {"legacy": Fraction(1 + Fraction(1, 2), 3), "strict": Fraction(1, 3)}
    assert r.details["samples"] == 3 and r.details["sample_passes"] == 1
    assert r.details["pass_hat_k"] == {"1": pytest.approx(1 / 3), "2": 0.0, "3": 0.0}
    assert r.details["sample_labels"] == ["wrapped-correct", "prose", "empty"]
    assert not r.passed  # the mean strict score 1/3 is below the pass score 1/2


def test_the_most_common_label_wins(phase33, surface):
    prompt = phase33.prompt("git-01")
    scoreds = [score_response(x, prompt, surface) for x in (PROSE, GOOD, PROSE)]
    reduced = combine_samples(scoreds, Fraction(1, 2), "legacy")
    assert reduced.label == "prose"
    assert reduced.extra is not None and reduced.extra["pass_rate"] == 1.0  # 0.5, 1, 0.5 all pass legacy
