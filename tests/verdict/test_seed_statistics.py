"""Seed statistics against independent computations: scipy's binomial, a brute-force
enumeration of every bootstrap replicate, Python's statistics module."""

from __future__ import annotations

import itertools
import statistics
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from pytest_punie.report.seeds import judge_rule, seeds_of
from pytest_punie.stats import crossed_bootstrap, k_of_n_pass_probability, seed_reaches, seed_spread
from pytest_punie.suite.suitetypes import Threshold


def test_the_issue_s_figures_for_three_of_five_seeds_at_80_percent():
    got = [k_of_n_pass_probability(3, 5, 0.80, 27, p) for p in (0.78, 0.80, 0.82, 0.85)]
    assert [round(g, 2) for g in got] == [0.38, 0.57, 0.75, 0.93]  # the issue's ~0.38 / 0.57 / 0.76 / 0.93


@given(
    prompts=st.integers(1, 40),
    threshold=st.sampled_from([0.5, 0.6, 0.8, 0.9, 0.95, 1.0]),
    rate=st.floats(0.01, 0.99),
    n=st.integers(1, 7),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_k_of_n_matches_scipy(prompts, threshold, rate, n, data):
    k = data.draw(st.integers(1, n))
    need = -(-Fraction(threshold).limit_denominator(100) * prompts // 1)  # ceil, exactly
    q = float(binom.sf(int(need) - 1, prompts, rate))
    assert seed_reaches(threshold, prompts, rate) == pytest.approx(q, abs=1e-12)
    assert k_of_n_pass_probability(k, n, threshold, prompts, rate) == pytest.approx(
        float(binom.sf(k - 1, n, q)), abs=1e-12
    )


@given(st.lists(st.floats(0, 1), min_size=1, max_size=9))
def test_spread_matches_the_statistics_module(scores):
    out = seed_spread(scores)
    assert out["min"] == min(scores) and out["max"] == max(scores)
    assert out["median"] == pytest.approx(statistics.median(scores))
    if len(scores) > 1:
        assert out["sd"] == pytest.approx(statistics.stdev(scores), abs=1e-12)
    else:
        assert out["sd"] is None


def exact_quantiles(matrix: list[list[float]], level: float = 0.95) -> tuple[float, float]:
    """Every replicate of the crossed bootstrap, enumerated, with its probability."""
    n_s, n_p = len(matrix), len(matrix[0])
    dist: dict[float, float] = {}
    for seeds in itertools.product(range(n_s), repeat=n_s):
        for prompts in itertools.product(range(n_p), repeat=n_p):
            v = round(sum(matrix[s][p] for s in seeds for p in prompts) / (n_s * n_p), 9)
            dist[v] = dist.get(v, 0.0) + 1 / (n_s**n_s * n_p**n_p)
    acc, lo, hi = 0.0, None, None
    for v in sorted(dist):
        acc += dist[v]
        if lo is None and acc >= (1 - level) / 2:
            lo = v
        if hi is None and acc >= 1 - (1 - level) / 2 - 1e-12:
            hi = v
    assert lo is not None and hi is not None
    return lo, hi


@pytest.mark.parametrize(
    "matrix",
    [
        [[1, 0, 1], [1, 1, 0], [0, 0, 1]],
        [[1, 1, 1], [0, 0, 0]],  # all the variance is between seeds
        [[1, 0, 1, 0], [1, 0, 1, 0]],  # none is
    ],
)
def test_crossed_bootstrap_converges_to_the_enumerated_interval(matrix):
    lo, hi = crossed_bootstrap(matrix, reps=20000, seed=1)
    exact_lo, exact_hi = exact_quantiles(matrix)
    assert lo == pytest.approx(exact_lo, abs=0.07) and hi == pytest.approx(exact_hi, abs=0.07)


def test_crossed_bootstrap_is_seeded_and_sees_the_seed_level():
    agree = [[1, 0, 1, 0, 1, 1, 0, 1]] * 3
    disagree = [[1] * 8, [0, 1, 0, 1, 0, 1, 1, 1], [0] * 8]
    assert crossed_bootstrap(agree, seed=3) == crossed_bootstrap(agree, seed=3)
    a_lo, a_hi = crossed_bootstrap(agree)
    d_lo, d_hi = crossed_bootstrap(disagree)
    assert (d_hi - d_lo) > (a_hi - a_lo)  # seeds that disagree widen the interval; resampling prompts alone would not


def _doc(per_seed: dict[int, list[bool]]) -> dict:
    prompts, suites = [], []
    for seed, passes in per_seed.items():
        v = f"seed={seed}"
        for i, ok in enumerate(passes):
            prompts.append(
                {"id": f"p{i}", "suite": "s.yaml", "category": "git", "variant": v, "passed": ok, "score": float(ok)}
            )
        score = sum(passes) / len(passes)
        cat = {"score": score, "passed": score >= 0.8, "metric": "pass_rate", "threshold": ">= 0.80"}
        suites.append({"suite": "s", "path": "s.yaml", "variant": v, "categories": {"git": cat}, "overall": dict(cat)})
    return {"suites": suites, "prompts": prompts}


def test_seeds_section_per_seed_rows_consistency_and_the_rule():
    doc = _doc({0: [True] * 5, 1: [True, True, True, True, False], 2: [True, False, False, True, True]})
    rule = {"seeds_passing": 2, "of": 3, "overall": Threshold(">=", Fraction(8, 10), ">= 0.80")}
    out = seeds_of(doc, {"s": rule})["s"]
    assert out["seeds"] == [0, 1, 2]
    assert [out["overall"]["per_seed"][k]["score"] for k in "012"] == [1.0, 0.8, 0.6]
    assert out["overall"]["median"] == 0.8 and out["overall"]["sd"] == pytest.approx(0.2)
    assert {p["id"]: p["seeds_passing"] for p in out["prompts"]} == {"p0": 3, "p1": 2, "p2": 2, "p3": 3, "p4": 2}
    assert out["decided_by_luck"] == ["p1", "p2", "p4"]
    assert out["rule"]["verdict"] == "REPRODUCIBLE" and out["rule"]["seeds_reaching"] == ["0", "1"]
    probs = [o["pass_probability"] for o in out["rule"]["operating_characteristic"]]
    assert probs == sorted(probs)  # a rule passes more often the better the recipe
    iv = out["overall"]["interval"]
    assert iv["low"] <= 0.8 <= iv["high"] and iv["reps"] == 2000 and "Sellam" in iv["method"]


def test_a_rule_for_another_number_of_seeds_is_not_judged():
    overall = {"per_seed": {"0": {"score": 0.9}, "1": {"score": 0.9}}}
    rule = {"seeds_passing": 3, "of": 5, "overall": Threshold(">=", Fraction(8, 10), ">= 0.80")}
    out = judge_rule(rule, overall, seeds_run=2, overall_prompts=27)
    assert out["verdict"] == "NOT JUDGED" and "this run trained 2" in out["why"]
    strict = judge_rule({**rule, "seeds_passing": 2, "of": 2}, overall, seeds_run=2, overall_prompts=27)
    assert strict["verdict"] == "REPRODUCIBLE"
    assert (
        judge_rule(
            {**rule, "seeds_passing": 2, "of": 2}, {"per_seed": {"0": {"score": 0.9}, "1": {"score": 0.79}}}, 2, 27
        )["verdict"]
        == "NOT REPRODUCIBLE"
    )


def _lcg():
    """A fixed stream of draws (a linear congruential generator): every bootstrap replicate is known."""
    x = 12345
    while True:
        x = (x * 1103515245 + 12345) % 2**31
        yield x >> 8


class _Scripted:
    """A stand-in for random.Random whose draws are the fixed stream above."""

    def __init__(self, seed=None):
        self.draws = _lcg()

    def randrange(self, n):
        return next(self.draws) % n


def _percentile_pick(stats: list[float], level: float) -> tuple[float, float]:
    """The interval by its definition: the floor(2.5% x reps)-th and ceil(97.5% x reps)-th smallest replicates."""
    import math

    ordered, reps, tail = sorted(stats), len(stats), (1 - level) / 2
    return ordered[math.floor(tail * reps)], ordered[math.ceil((1 - tail) * reps) - 1]


@pytest.mark.parametrize(("reps", "level"), [(40, 0.95), (200, 0.9), (10, 0.95)])
def test_the_percentiles_are_picked_by_their_definition(monkeypatch, reps, level):
    """With the draws scripted, every replicate of both bootstraps is computed here independently."""
    import random

    from pytest_punie.stats import seed_set_difference

    # scores with distinct values: the replicates' means differ, so a neighbouring pick is another number
    base = [[(s * 37 + p * 11) % 97 / 97 for p in range(5)] for s in range(3)]
    cand = [[(s * 53 + p * 29) % 89 / 89 for p in range(5)] for s in range(4)]
    monkeypatch.setattr(random, "Random", _Scripted)
    draws, stats, diffs = _Scripted().draws, [], []
    for _ in range(reps):
        seeds, prompts = [next(draws) % 3 for _ in base], [next(draws) % 5 for _ in range(5)]
        stats.append(sum(base[s][p] for s in seeds for p in prompts) / 15)
    assert len(set(stats)) > 0.7 * reps  # most replicates their own value
    assert crossed_bootstrap(base, reps=reps, level=level) == _percentile_pick(stats, level)
    draws = _Scripted().draws
    for _ in range(reps):
        prompts = [next(draws) % 5 for _ in range(5)]
        b, c = [next(draws) % 3 for _ in base], [next(draws) % 4 for _ in cand]
        diffs.append(
            sum(cand[s][p] for s in c for p in prompts) / 20 - sum(base[s][p] for s in b for p in prompts) / 15
        )
    observed = sum(map(sum, cand)) / 20 - sum(map(sum, base)) / 15
    assert seed_set_difference(base, cand, reps=reps, level=level) == (observed, *_percentile_pick(diffs, level))


def test_the_defaults_are_2000_replicates_seed_0_and_95_percent_and_one_seed_is_enough():
    from pytest_punie.stats import seed_set_difference

    wide = [[(s * 7 + p * 3) % 10 / 10 for p in range(12)] for s in range(4)]
    assert crossed_bootstrap(wide) == crossed_bootstrap(wide, reps=2000, seed=0, level=0.95)
    assert crossed_bootstrap(wide) != crossed_bootstrap(wide, reps=2000, seed=1, level=0.95)
    assert seed_set_difference(wide[:2], wide[2:]) == seed_set_difference(wide[:2], wide[2:], 2000, 0, 0.95)
    assert seed_set_difference(wide[:2], wide[2:]) != seed_set_difference(wide[:2], wide[2:], 2000, 1, 0.95)
    base, cand = [[1.0, 0.0, 1.0, 1.0]], [[0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 1.0]]
    low, high = crossed_bootstrap(base)  # one training seed: only the prompts vary
    assert 0.0 <= low <= 0.75 <= high <= 1.0
    diff, low, high = seed_set_difference(base, cand)  # one baseline seed
    assert diff == -0.25 and low <= diff <= high


def test_a_certain_pass_rate_reaches_every_threshold():
    assert seed_reaches(0.8, 10, 1.0) == 1.0 and seed_reaches(0.8, 10, 0.0) == 0.0
    assert k_of_n_pass_probability(3, 5, 0.8, 27, 1.0) == 1.0
