"""The scheduling window: sized from the measured step cost so that every prompt's own
time limit stays honest, whatever the machine (steps that grow with the batch, or not)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.backends.window import Window, eta_s, plan_line


def test_the_users_case_shrinks_the_window_to_what_fits():
    """The issue's measurement: 27 sequences at 2,647 ms a step, 64 tokens, 120 s each."""
    w = Window(size=27)
    assert w.observe(27, 2.647, 64, 120.0) == 13  # floor(27 * 0.7 * 120 / (64 * 2.647))
    assert w.history == [(27, 2.647)]


def test_a_fast_step_grows_a_full_window_at_most_twofold_and_never_past_the_limit():
    w = Window(size=4, limit=32)
    assert w.observe(4, 0.001, 64, 120.0) == 8
    assert w.observe(8, 0.001, 64, 120.0) == 16
    assert w.observe(16, 0.001, 64, 120.0) == 32
    assert w.observe(32, 0.001, 64, 120.0) == 32


def test_a_window_that_is_not_full_does_not_grow():
    w = Window(size=8)
    assert w.observe(3, 0.001, 64, 120.0) == 8  # three left running: nothing measured about eight


def test_never_below_one_even_when_nothing_fits():
    w = Window(size=4)
    assert w.observe(4, 100.0, 64, 1.0) == 1


@given(
    per_sequence=st.floats(min_value=1e-4, max_value=5.0),
    active=st.integers(min_value=1, max_value=32),
    max_tokens=st.integers(min_value=1, max_value=2048),
    timeout=st.floats(min_value=0.5, max_value=600.0),
)
def test_on_a_machine_whose_step_grows_with_the_batch_a_full_answer_fits_the_limit(
    per_sequence, active, max_tokens, timeout
):
    """Steps linear in the batch (this CPU): at the new size a full answer takes at most
    ``fill`` of the limit, unless one sequence alone cannot fit (size 1)."""
    w = Window(size=active)
    size = w.observe(active, per_sequence * active, max_tokens, timeout)
    assert 1 <= size <= min(w.limit, 2 * active)
    assert size == 1 or size * per_sequence * max_tokens <= w.fill * timeout * (1 + 1e-9)


def test_the_plan_says_the_estimate_and_warns_when_one_at_a_time_does_not_fit():
    w = Window(size=1)
    w.observe(1, 0.5, 64, 10.0)
    line = plan_line(5, 1, 0.5, w, 64, 10.0)
    assert "5 prompts (up to 64 tokens each), 1 at a time" in line
    assert "a full answer takes ~32 s of its own 10 s limit" in line
    assert "estimate <= 160 s" in line
    assert "--punie-timeout-scale=3.2" in line
    assert eta_s(3, 2, 2, 10.0) == 30.0
