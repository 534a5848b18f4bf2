"""The lock comparison: the exact Wilcoxon test against scipy (no ties) and a brute-force
enumeration of every sign pattern (ties), and the verdicts on hand-built documents."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import wilcoxon

from pytest_punie.backends.firstposition import nucleus_mask, opener_probability
from pytest_punie.gate.lock import compare_locks
from pytest_punie.stats import wilcoxon_signed_rank_exact
from pytest_punie.views.gateview import lock_line


def brute_force(diffs: list[float]) -> float:
    """Two-sided p by enumerating every sign pattern of the non-zero differences (mid-ranks)."""
    d = [x for x in diffs if x != 0]
    mags = sorted(abs(x) for x in d)
    rank = {m: (mags.index(m) + 1 + len(mags) - mags[::-1].index(m)) / 2 for m in set(mags)}
    observed = sum(rank[abs(x)] for x in d if x > 0)
    stats = [
        sum(rank[abs(x)] for x, s in zip(d, signs, strict=True) if s)
        for signs in itertools.product([0, 1], repeat=len(d))
    ]
    low = sum(1 for w in stats if w <= observed + 1e-9) / len(stats)
    high = sum(1 for w in stats if w >= observed - 1e-9) / len(stats)
    return min(1.0, 2 * min(low, high))


@given(st.lists(st.integers(-4, 4).map(lambda x: x / 2), min_size=1, max_size=11))
@settings(max_examples=150, deadline=None)
def test_wilcoxon_exact_with_ties_equals_brute_force(diffs):
    if all(x == 0 for x in diffs):
        assert wilcoxon_signed_rank_exact(diffs) == (0.0, 1.0)
        return
    assert wilcoxon_signed_rank_exact(diffs)[1] == pytest.approx(brute_force(diffs), abs=1e-12)


@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=25, unique=True))
@settings(max_examples=100, deadline=None)
def test_wilcoxon_exact_without_ties_equals_scipy(diffs):
    nonzero = [x for x in diffs if x != 0]
    if len(nonzero) < 2 or len({abs(x) for x in nonzero}) != len(nonzero):
        return
    expected = wilcoxon(nonzero, method="exact", zero_method="wilcox").pvalue
    assert wilcoxon_signed_rank_exact(diffs)[1] == pytest.approx(expected, abs=1e-9)


def doc(margins: list[float]) -> dict:
    return {
        "prompts": [
            {"id": f"p{i}", "suite": "s.yaml", "variant": "", "format_lock": {"margin": m, "p_opener": 0.9}}
            for i, m in enumerate(margins)
        ]
    }


def test_weakened_held_and_strengthened():
    base = [2.0 + i / 10 for i in range(20)]
    assert compare_locks(doc([m - 0.5 - i / 100 for i, m in enumerate(base)]), doc(base))["verdict"] == "weakened"
    assert compare_locks(doc([m + 0.5 + i / 100 for i, m in enumerate(base)]), doc(base))["verdict"] == "strengthened"
    wobble = [m + (0.1 if i % 2 else -0.1) for i, m in enumerate(base)]
    out = compare_locks(doc(wobble), doc(base))
    assert out["verdict"] == "held" and out["prompts"] == 20 and "Wilcoxon" in out["test"]
    assert compare_locks(doc(base), {"prompts": []}) is None


def test_the_nucleus_then_temperature_order_of_mlx_lm():
    import numpy as np

    lp = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    assert list(np.isinf(nucleus_mask(lp, 0.8))) == [False, False, True, True]
    assert opener_probability(lp, 0, 1.0, 0.8) == pytest.approx(0.5 / 0.8)
    assert opener_probability(lp, 2, 1.0, 0.8) == 0.0  # outside the nucleus: never sampled
    assert opener_probability(lp, 0, 0.0) == 1.0 and opener_probability(lp, 1, 0.0) == 0.0
    t = 0.7
    p = np.exp(lp / t) / np.exp(lp / t).sum()
    assert opener_probability(lp, 1, t) == pytest.approx(p[1])


def test_the_lock_comparison_is_said_exactly():
    """The three largest drops (with both margins and P(opener)), the median and mean change, the line."""
    base = [2.0 + i / 10 for i in range(8)]
    cand = [m - (1.0 if i < 3 else 0.25) - i / 100 for i, m in enumerate(base)]
    out = compare_locks(doc(cand), doc(base))
    changes = [c - b for c, b in zip(cand, base, strict=True)]
    assert out["verdict"] == "weakened" and out["prompts"] == 8 and out["alpha"] == 0.05
    assert out["median_change"] == round(sorted(changes)[3] / 2 + sorted(changes)[4] / 2, 6)
    assert out["mean_change"] == round(sum(changes) / 8, 6)
    assert [d["id"] for d in out["largest_drops"]] == ["p2", "p1", "p0"]
    assert out["largest_drops"][0] == {
        "id": "p2", "variant": "", "from": base[2], "to": cand[2], "p_opener_from": 0.9, "p_opener_to": 0.9
    }  # fmt: skip
    assert out["p_value"] == round(wilcoxon_signed_rank_exact(changes)[1], 6) == 0.007812
    assert lock_line(out) == (
        "format lock weakened: median margin change -0.32 nats over 8 prompts "
        "(exact Wilcoxon signed-rank on per-prompt margins (mid-ranks for ties), two-sided: p = 0.0078)"
    )


def test_a_change_whose_p_is_not_below_alpha_is_held_either_way():
    """Six prompts all weaker (p = 2/64 = 0.031) is weakened; five all weaker (p = 0.0625) is not."""
    six, five = [1.0] * 6, [1.0] * 5
    assert compare_locks(doc([m - 0.5 for m in six]), doc(six))["verdict"] == "weakened"
    assert compare_locks(doc([m - 0.5 for m in five]), doc(five))["verdict"] == "held"
    assert compare_locks(doc([m + 0.5 for m in five]), doc(five))["verdict"] == "held"
    assert compare_locks(doc([m + 0.5 for m in six]), doc(six))["verdict"] == "strengthened"


def test_w_plus_is_the_rank_sum_of_the_positive_differences():
    assert wilcoxon_signed_rank_exact([0.5]) == (1.0, 1.0)  # one difference: rank 1, p = 1
    diffs = [0.5, -1.0, 2.0, 2.0]
    assert wilcoxon_signed_rank_exact(diffs) == (1.0 + 3.5 + 3.5, brute_force(diffs))  # mid-ranks for the tie
    assert wilcoxon_signed_rank_exact([]) == (0.0, 1.0) == wilcoxon_signed_rank_exact([0.0, 0.0])


def test_the_fewest_flips_the_exact_test_calls_significant():
    from pytest_punie.stats import mcnemar_exact, min_flips_for_significance

    assert min_flips_for_significance() == 6 and mcnemar_exact(6, 0) < 0.05 <= mcnemar_exact(5, 0)
    assert min_flips_for_significance(0.0625) == 6  # p(5 flips) is exactly 0.0625: not below it
    assert min_flips_for_significance(0.5) == 3  # p(2 flips) is exactly 0.5


def test_the_gate_report_says_the_lock_and_what_the_sizes_can_show():
    from pytest_punie.views.gateview import _ci, render_gate_markdown, render_gate_terminal, what_n_prompts_can_show

    lock = compare_locks(doc([1.0 - 0.5] * 6), doc([1.0] * 6))
    row = {"baseline": 0.8, "candidate": 0.5, "delta": -0.3, "worse": 3, "better": 0, "p_value": 0.25}
    categories = {
        "git": {**row, "prompts": 4, "candidate_interval": [0.5, 0.9]},
        "empty": {**row, "prompts": 0, "candidate_interval": None},
        "overall": {**row, "prompts": 20, "candidate_interval": None},
    }
    comp = {
        "baseline": {"model": {"digest": "sha256:abc"}, "time": "t0"},
        "baseline_name": "prod",
        "categories": categories,
        "flips": [],
        "label_moves": {},
        "format_lock": lock,
    }
    cand = {"gate": {"verdict": "FAIL", "reasons": ["r"], "alpha": 0.05}, "comparison": comp,
            "provenance": {"model": {"digest": "sha256:def"}, "time": "t1"}}  # fmt: skip
    assert _ci([0.6, 0.9]) == "[60, 90]" and _ci(None) == "-"
    terminal = render_gate_terminal(cand)
    assert terminal[-3:] == [lock_line(lock), "GATE: FAIL", "  - r"]
    assert any(line.startswith("git ") and line.endswith("[50, 90]") for line in terminal)
    markdown = render_gate_markdown(cand)
    assert f"\n\n{lock_line(lock)}\n\n" in markdown
    assert what_n_prompts_can_show(comp) == (
        "What 20 prompts can show: one flip moves the overall score by 5.0 points and a 4-prompt category by "
        "25 points; a change smaller than the intervals above is not evidence either way."
    )
    assert markdown.endswith(what_n_prompts_can_show(comp) + "\n")


def test_a_median_of_no_change_is_held_and_changes_are_rounded_to_six_places():
    """Seven unchanged prompts and six weaker ones: significant (p = 2/64), but the median change is 0."""
    base = [1.0] * 13
    assert compare_locks(doc([1.0] * 7 + [0.0] * 6), doc(base))["verdict"] == "held"
    assert compare_locks(doc([1.0] * 7 + [2.0] * 6), doc(base))["verdict"] == "held"
    third = compare_locks(doc([1.0 - 1 / 3] * 3), doc([1.0] * 3))
    assert (third["median_change"], third["mean_change"]) == (-0.333333, -0.333333)


@pytest.mark.parametrize("gates", [True, False])
def test_a_weakened_lock_fails_the_gate_only_where_the_suite_gates_on_it(tmp_path, gates):
    """Every prompt still passes, its margin 0.5 nats thinner: with ``format_lock: {gate: true}`` the
    gate FAILs with the lock's own line; without it the lock is reported and the gate PASSes."""
    from pytest_punie.gate.baselines import rules_of
    from pytest_punie.gate.compare import compare

    from .handbuilt import document, write_suite

    suite = write_suite(tmp_path, format_lock={"gate": gates})
    base, cand = document([suite]), document([suite])
    for i, (b, c) in enumerate(zip(base["prompts"], cand["prompts"], strict=True)):
        b["format_lock"] = {"margin": 2.0 + i / 10, "p_opener": 0.95}
        c["format_lock"] = {"margin": 1.5 + i / 10, "p_opener": 0.9}
    gate = compare(cand, base, rules_of(cand))
    lock = gate.comparison["format_lock"]
    assert lock["verdict"] == "weakened" and lock["prompts"] == 10
    if gates:
        assert gate.verdict == "FAIL"
        assert gate.reasons == [lock_line(lock) + " (the suite gates on it)"]
    else:
        assert gate.verdict == "PASS"
