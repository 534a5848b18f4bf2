"""The gate for recipes: seed set against seed set, never seed i against seed i, never one
seed against a model; the interval checked against a brute-force enumeration."""

from __future__ import annotations

import itertools
import json

import pytest

from pytest_punie.gate.rungate import GateOptions, apply_gate
from pytest_punie.gate.seedset import compare_seed_sets, is_seed_set
from pytest_punie.stats import seed_set_difference


def seed_doc(rows: list[list[bool]], digest: str = "sha256:s") -> dict:
    """A --punie-seeds document: rows[s][p] pass/fail of seed s on prompt p."""
    prompts, suites = [], []
    for s, row in enumerate(rows):
        v = f"seed={s}"
        prompts += [
            {"id": f"p{i}", "suite": "s.yaml", "category": "git", "variant": v, "passed": ok, "score": float(ok)}
            for i, ok in enumerate(row)
        ]
        suites.append(
            {"suite": "s", "path": "s.yaml", "digest": digest, "scorer": "strict", "variant": v, "complete": True}
        )
    return {
        "verdict": "FAIL",
        "prompts": prompts,
        "suites": suites,
        "seeds": {"s": {"seeds": list(range(len(rows)))}},
        "completeness": {"state": "whole", "reasons": []},
        "provenance": {"sampling": {"default": {"temperature": 0.0}}, "model": {}, "time": "t"},
    }


def test_a_clearly_worse_recipe_fails_and_an_equal_one_passes():
    good = seed_doc([[True] * 20] * 3)
    bad = seed_doc([[i % 4 == 0 for i in range(20)]] * 3)
    assert compare_seed_sets(bad, good, {}).verdict == "FAIL"
    assert compare_seed_sets(good, good, {}).verdict == "PASS"
    assert compare_seed_sets(good, bad, {}).verdict == "PASS"  # better is never a regression


def test_a_regression_the_seeds_cannot_tell_from_noise_is_inconclusive():
    base = seed_doc([[True] * 10, [False] * 10, [True] * 10])  # the seeds disagree on everything
    cand = seed_doc([[True] * 10, [False] * 10, [False] * 10])
    out = compare_seed_sets(cand, base, {})
    assert out.verdict == "INCONCLUSIVE", out.reasons
    suite = out.comparison["suites"]["s.yaml"]
    assert suite["difference"] == pytest.approx(-1 / 3, abs=1e-6)
    assert suite["interval"]["low"] < suite["difference"] < 0 <= suite["interval"]["high"]
    # the same regression with an allowance that covers it passes
    assert compare_seed_sets(cand, base, {"overall": 0.4}).verdict == "PASS"


def test_the_interval_converges_to_the_enumerated_one():
    # no mass within 0.025 of the 2.5% and 97.5% points: the percentiles are well defined
    base = [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    cand = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    dist: dict[float, float] = {}
    n_p, n_b, n_c = 3, 2, 2
    for ps in itertools.product(range(n_p), repeat=n_p):
        for bs in itertools.product(range(n_b), repeat=n_b):
            for cs in itertools.product(range(n_c), repeat=n_c):
                d = sum(cand[s][p] for s in cs for p in ps) / 6 - sum(base[s][p] for s in bs for p in ps) / 6
                dist[round(d, 9)] = dist.get(round(d, 9), 0) + 1 / (n_p**n_p * n_b**n_b * n_c**n_c)
    acc, lo, hi = 0.0, None, None
    for v in sorted(dist):
        acc += dist[v]
        if lo is None and acc >= 0.025:
            lo = v
        if hi is None and acc >= 0.975 - 1e-12:
            hi = v
    observed, blo, bhi = seed_set_difference(base, cand, reps=20000, seed=2)
    assert observed == pytest.approx(-1 / 2)
    assert (blo, bhi) == (pytest.approx(lo), pytest.approx(hi))
    assert seed_set_difference(base, cand, seed=5) == seed_set_difference(base, cand, seed=5)


def test_a_seed_set_is_never_gated_against_one_model(tmp_path):
    seeds = seed_doc([[True] * 5] * 2)
    single = {**seed_doc([[True] * 5]), "seeds": None}
    single["prompts"] = [{**p, "variant": ""} for p in single["prompts"]]
    assert is_seed_set(seeds) and not is_seed_set(single)
    (tmp_path / "one.json").write_text(json.dumps(single))
    doc = json.loads(json.dumps(seeds))
    apply_gate(doc, GateOptions(baseline_dir=tmp_path, compare="one"))
    assert doc["gate"]["verdict"] == "REFUSED"
    assert "never one seed with one model" in doc["gate"]["reasons"][0]


def test_seed_sets_of_different_sizes_measure_alike_but_another_suite_is_refused(tmp_path):
    base = seed_doc([[True] * 5] * 3)
    (tmp_path / "b.json").write_text(json.dumps(base))
    doc = seed_doc([[True] * 5] * 2)
    apply_gate(doc, GateOptions(baseline_dir=tmp_path, compare="b"))
    assert doc["gate"]["verdict"] == "PASS" and doc["comparison"]["kind"] == "seed sets"
    other = seed_doc([[True] * 5] * 2, digest="sha256:changed")
    apply_gate(other, GateOptions(baseline_dir=tmp_path, compare="b"))
    assert other["gate"]["verdict"] == "REFUSED" and "measured different things" in other["gate"]["reasons"][0]


def test_the_seed_set_comparison_is_said_exactly():
    """Pass rates over each recipe's seeds, the difference with its interval, the sentence and the lines."""
    from pytest_punie.views.gateview import seed_set_lines

    base = seed_doc([[True] * 4, [True, True, True, False]])  # 7 of 8
    cand = seed_doc([[True, False, False, False], [True, True, False, False], [False] * 4])  # 3 of 12
    cand["provenance"]["model"] = {"name": "candidate"}
    base["provenance"]["model"] = {"name": "baseline"}
    out = compare_seed_sets(cand, base, {"overall": 0.1})
    s = out.comparison["suites"]["s.yaml"]
    assert (s["prompts"], s["baseline_seeds"], s["candidate_seeds"], s["allowance"]) == (4, 2, 3, 0.1)
    assert (s["baseline_pass_rate"], s["candidate_pass_rate"], s["difference"]) == (0.875, 0.25, -0.625)
    lo, hi = s["interval"]["low"], s["interval"]["high"]
    assert s["interval"]["reps"] == 2000 and s["interval"]["seed"] == 0 and lo <= -0.625 <= hi < 0
    assert out.comparison["baseline"] == {"model": {"name": "baseline"}, "time": "t"}
    assert out.verdict == "FAIL" and out.reasons == [
        f"s.yaml: candidate recipe -62.5 points over 3 seeds against the baseline's 2 (95% interval "
        f"{lo * 100:+.1f} to {hi * 100:+.1f}, seeds and prompts resampled): a regression beyond the allowance "
        "(10.0 points), and not noise"
    ]
    assert seed_set_lines(out.comparison) == [
        "seed sets compared (paired prompts, each recipe's seeds resampled (percentile bootstrap, 95%)):",
        f"s.yaml: baseline 87.5% over 2 seeds, candidate 25.0% over 3, difference -62.5 points "
        f"(95% {lo * 100:+.1f} to {hi * 100:+.1f}), 4 prompts",
    ]
    same = compare_seed_sets(base, base, {"overall": 0.1})
    assert same.reasons == ["s.yaml: candidate recipe +0.0 points, within the allowance (10.0 points)"]
    better = compare_seed_sets(seed_doc([[True] * 4, [True] * 4]), base, {"overall": 0.1})
    assert better.reasons == ["s.yaml: candidate recipe +12.5 points, within the allowance (10.0 points)"]


def test_a_drop_of_exactly_the_allowance_passes_and_no_allowance_means_none():
    base = seed_doc([[True] * 10] * 3)
    cand = seed_doc([[True] * 5 + [False] * 5] * 3)  # every seed: 5 of 10, a drop of exactly 50 points
    assert compare_seed_sets(cand, base, {"overall": 0.5}).verdict == "PASS"
    assert compare_seed_sets(cand, base, {}).verdict == "FAIL"  # no allowance registered: any clear drop
    assert compare_seed_sets(cand, base, {"overall": "a lot"}).verdict == "FAIL"  # not a number: none


def test_a_seed_with_an_unanswered_prompt_is_left_out_and_none_left_is_no_measurement():
    base = seed_doc([[True] * 4] * 2)
    cand = seed_doc([[True] * 4] * 3)
    cand["prompts"][5]["error"] = "timeout"  # seed 1, p1: that seed is not measured
    assert compare_seed_sets(cand, base, {}).comparison["suites"]["s.yaml"]["candidate_seeds"] == 2
    cand["prompts"] = [p for p in cand["prompts"] if not (p["variant"] == "seed=2" and p["id"] == "p3")]
    assert compare_seed_sets(cand, base, {}).comparison["suites"]["s.yaml"]["candidate_seeds"] == 1
    for p in base["prompts"]:
        p["error"] = "timeout"
    out = compare_seed_sets(cand, base, {})
    assert out.verdict == "INCONCLUSIVE" and out.reasons == ["no suite measured by both seed sets"]


def test_what_counts_as_a_seed_set_and_a_changed_suite_is_refused_unless_allowed():
    from pytest_punie.gate.compare import SuiteChanged

    assert is_seed_set(seed_doc([[True]]))
    assert not is_seed_set({**seed_doc([[True]]), "seeds": {}})
    mixed = seed_doc([[True]])
    mixed["prompts"][0]["variant"] = "t=0.7"
    assert not is_seed_set(mixed)
    other = seed_doc([[True] * 4] * 2, digest="sha256:other")
    with pytest.raises(SuiteChanged):
        compare_seed_sets(other, seed_doc([[True] * 4] * 2), {})
    assert compare_seed_sets(other, seed_doc([[True] * 4] * 2), {}, allow_change=True).verdict == "PASS"


def test_a_seed_set_gate_is_said_in_the_terminal_and_in_markdown():
    from pytest_punie.views.gateview import render_gate_markdown, render_gate_terminal, seed_set_lines

    base, cand = seed_doc([[True] * 10] * 3), seed_doc([[True] * 5 + [False] * 5] * 3)
    gate = compare_seed_sets(cand, base, {})
    cand["gate"] = gate.to_dict()
    cand["comparison"] = {**gate.comparison, "baseline_name": "prod"}
    lines = seed_set_lines(cand["comparison"])
    assert render_gate_terminal(cand) == ["baseline: prod", *lines, "GATE: FAIL", f"  - {gate.reasons[0]}"]
    assert (
        render_gate_markdown(cand)
        == "\n".join(
            ["# Regression gate: FAIL", "", "- baseline `prod` (a seed set)", f"- {gate.reasons[0]}", "", *lines]
        )
        + "\n"
    )


def test_rates_are_rounded_to_six_places_and_one_seed_a_side_is_measured():
    base = seed_doc([[True, True, False]] * 3)  # 2 of 3 on every seed
    cand = seed_doc([[True, False, False]])  # one seed, 1 of 3
    s = compare_seed_sets(cand, base, {}).comparison["suites"]["s.yaml"]
    assert (s["baseline_pass_rate"], s["candidate_pass_rate"], s["difference"]) == (0.666667, 0.333333, -0.333333)
    assert (s["baseline_seeds"], s["candidate_seeds"]) == (3, 1)
    one_base = compare_seed_sets(base, seed_doc([[True, True, True]]), {}).comparison["suites"]["s.yaml"]
    assert one_base["baseline_seeds"] == 1
    mixed = seed_doc([[True, True, False], [True, True, True], [True, False, False]])
    thirds = compare_seed_sets(seed_doc([[True, False, False], [False, True, True]]), mixed, {}).comparison
    assert thirds["suites"]["s.yaml"]["interval"] == {"low": -0.666667, "high": 0.666667, "reps": 2000, "seed": 0}
    touching = compare_seed_sets(cand, base, {})  # -33.3 points, the interval's top exactly 0: not shown
    assert touching.comparison["suites"]["s.yaml"]["interval"]["high"] == 0.0 and touching.verdict == "INCONCLUSIVE"


def test_an_allowance_of_zero_is_zero_and_an_inconclusive_drop_says_its_allowance():
    base, cand = seed_doc([[True] * 10] * 3), seed_doc([[True] * 5 + [False] * 5] * 3)
    assert compare_seed_sets(cand, base, {"overall": 0}).verdict == "FAIL"
    noisy_base = seed_doc([[True] * 10, [False] * 10, [True] * 10])
    noisy_cand = seed_doc([[True] * 10, [False] * 10, [False] * 10])
    out = compare_seed_sets(noisy_cand, noisy_base, {"overall": 0.1})
    assert out.verdict == "INCONCLUSIVE"
    assert out.reasons[0].endswith(
        ": a regression beyond the allowance (10.0 points), but the interval holds none as well; "
        "more seeds or prompts narrow it"
    )
