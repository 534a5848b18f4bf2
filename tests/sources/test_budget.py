"""The run's budget: durations as users write them, this machine's rates kept and read back, a plan
that cannot fit named before any step, and the command that finishes a run the budget stopped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.budget import BUDGET_STOP, Budget, Rates, budget_stop_message, parse_duration
from pytest_punie.report.rundocument import finishing_command, unanswered_reason
from pytest_punie.sources.plan import PlannedWork, cannot_fit, plan_lines


@given(h=st.integers(0, 48), m=st.integers(0, 59), s=st.integers(0, 59))
def test_a_duration_is_read_as_written(h, m, s):
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    if not text:
        with pytest.raises(ValueError):
            parse_duration(text)
        return
    assert parse_duration(text) == h * 3600 + m * 60 + s


@pytest.mark.parametrize("bad", ["", "3 hours", "-5m", "0s", "m", "1h30x"])
def test_a_bad_duration_is_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_rates_are_kept_in_the_cache_and_read_back(tmp_path):
    rates = Rates.load(tmp_path)
    assert rates.per_unit("build:adapter") is None  # never measured: unknown
    rates.add("build:adapter", 60.0, 60)
    rates.add("build:adapter", 90.0, 60)
    again = Rates.load(tmp_path)
    assert again.per_unit("build:adapter") == 1.25


def work(what, estimate, cached=False):
    return PlannedWork("", what, "k", 1.0, cached, 0.0 if cached else estimate)


def test_what_does_not_fit_is_named_and_cached_or_unknown_work_never_is():
    budget = Budget(100.0, "100s")
    plan = [
        work("build base", 10.0, cached=True),
        work("build adapter", 80.0),
        work("generate", None),
        work("fuse", 30.0),
    ]
    assert [w.what for w in cannot_fit(plan, budget)] == ["fuse"]
    lines = plan_lines(plan, budget)
    assert "  build base: cached" in lines and "  build adapter: to do, ~80 s" in lines
    assert any("unknown (not measured on this machine yet)" in line for line in lines)
    assert lines[-1] == "  total to do: ~2 min plus 1 unknown; budget 2 min"  # 110 s and 100 s, as a plan says them
    assert cannot_fit(plan[:3], budget) == []


def test_a_budget_stop_gets_the_command_that_finishes_the_run():
    budget = Budget(60.0, "1m")
    why = budget_stop_message("build fused", 12.0, budget)
    assert BUDGET_STOP.search(why).group(1) == "1m"
    command = finishing_command(["--punie-model=tiny_5bit", "-m", "eval", "--punie-budget", "1m", "-k", "lsp"])
    assert command == "pytest --punie-model=tiny_5bit -m eval -k lsp"
    assert finishing_command(["--punie-budget=45m", "-m", "eval"]) == "pytest -m eval"
    reason = unanswered_reason([{"id": "lsp-01", "error": why, "variant": ""}], command)  # type: ignore[list-item]
    assert "1 not started within --punie-budget=1m" in reason and f"finish with {command}" in reason
    assert "rerun to finish" not in reason


def test_the_whole_run_s_remaining_estimate_is_what_the_plan_has_not_started_plus_the_running_work():
    budget = Budget(3600, "1h")
    budget.plan("build:adapter", 60, 120.0)  # 2 s an iteration
    budget.plan("build:fused", 1, None)  # never measured here
    budget.plan("generate:m", 27, 54.0)
    budget.plan("generate:m", 27, 54.0)  # a second suite
    assert "~4 min plus 1 unknown left" in budget.run_line(None)  # 120 + 108 s
    budget.begin("build:adapter", 60)
    budget.begin("build:fused", 1)
    budget.begin("generate:m", 27)  # the first suite runs now: its own ETA stands in for it
    line = budget.run_line(10.0)
    assert "~64 s left" in line and "unknown" not in line and "(budget 1h: " in line
    assert line.startswith("run 0 s elapsed")
    budget.begin("generate:m", 50)  # more than planned (kept answers were not counted): never negative
    assert "~10 s left" in budget.run_line(10.0)
