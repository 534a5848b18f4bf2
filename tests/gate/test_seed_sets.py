"""The gate for recipes: seed set against seed set, never seed i against seed i, never one
seed against a model; the interval checked against a brute-force enumeration."""

from __future__ import annotations

import itertools
import json

import pytest

from pytest_punie.gate.run import GateOptions, apply_gate
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
