"""The admission planner: a waiting prompt starts only when every prompt, running and new, still
fits its own time limit, whatever the machine (steps that grow with the batch, or not); a running
prompt is never moved out. Checked against a brute-force step-by-step simulation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_punie.backends.window import (
    Admission,
    PromptState,
    StepCost,
    eta_s,
    expected_total,
    plan_line,
    projected_s,
)


def simulate(own_left: int, others_left: list[int], cost) -> float:
    """The oracle: one step at a time, every sequence with steps left shares it."""
    left = [own_left, *others_left]
    total = 0.0
    while left[0] > 0:
        active = sum(1 for x in left if x > 0)
        total += cost(active)
        left = [x - 1 for x in left]
    return total


@given(
    own=st.integers(1, 300),
    others=st.lists(st.integers(1, 300), max_size=31),
    per=st.floats(1e-4, 1.0),
    base=st.floats(0.0, 1.0),
)
def test_the_projection_equals_a_step_by_step_simulation(own, others, per, base):
    cost = lambda n: base + per * n  # noqa: E731
    expected = simulate(own, others, cost)
    assert abs(projected_s(own, others, cost) - expected) <= 1e-6 * max(1.0, expected)


def test_the_step_cost_interpolates_measured_widths_and_is_linear_beyond_the_widest():
    cost = StepCost()
    assert cost.at(4) is None
    assert cost.observe(1, 0.1) is True and cost.observe(1, 0.1) is False
    assert cost.at(1) == 0.1 and abs((cost.at(8) or 0) - 0.8) < 1e-12  # nothing wider measured: the CPU's linear case
    cost.observe(9, 0.5)  # a machine whose steps amortize
    assert abs((cost.at(5) or 0) - 0.3) < 1e-12 and abs((cost.at(18) or 0) - 1.0) < 1e-12


def test_the_expected_length_is_the_longest_answer_or_as_long_again():
    assert expected_total(0, 2048, []) == 2048  # nothing finished: only the bound is known
    assert expected_total(10, 2048, [30, 41]) == 41
    assert expected_total(50, 2048, [30, 41]) == 100
    assert expected_total(1500, 2048, [30]) == 2048


def test_nothing_measured_admits_one_prompt_to_measure_with():
    a = Admission()
    waiting = [PromptState(0.0, 0, 2048, 120.0)] * 27
    assert a.how_many([], waiting, [50] * 27) == 1


def test_the_users_real_shape_starts_what_fits_a_45_s_limit():
    """The real shape on this CPU: 0.083 s a step per sequence, 24 tokens, a 45 s limit each."""
    a = Admission()
    a.cost.observe(1, 0.083)
    waiting = [PromptState(0.0, 0, 24, 45.0)] * 26
    running = [PromptState(0.1, 1, 24, 45.0)]
    k = a.how_many(running, waiting, [0] * 26)
    assert k == 14  # 15 sequences x 0.083 s x 24 steps = 29.9 s <= 0.7 x 45 s; 16 would take 31.9 s
    # when answers are known to be short, the same machine runs more at once
    a.answer_lengths.extend([3, 4])
    assert a.how_many(running, waiting, [0] * 26) > k


def linear_machines():
    return st.tuples(st.floats(1e-4, 0.5), st.floats(0.0, 0.2))


prompt = st.builds(
    PromptState,
    elapsed_s=st.floats(0.0, 30.0),
    tokens=st.integers(0, 200),
    max_tokens=st.integers(201, 2048),
    timeout_s=st.floats(1.0, 600.0),
)


@given(
    machine=linear_machines(),
    running=st.lists(prompt, max_size=12),
    waiting_n=st.integers(1, 30),
    max_tokens=st.integers(1, 2048),
    timeout=st.floats(1.0, 600.0),
    lengths=st.lists(st.integers(1, 300), max_size=6),
)
@settings(deadline=None)  # a property of the admission rule, not of the machine's speed (a loaded CI took 257 ms)
def test_what_is_admitted_fits_and_one_more_would_not(machine, running, waiting_n, max_tokens, timeout, lengths):
    """Every prompt that could finish alone still fits fill x its limit with the admitted ones (by
    the simulation); one more admitted would break one; never past the limit; a run never stalls."""
    per, base = machine
    cost = lambda n: base + per * n  # noqa: E731
    a = Admission(answer_lengths=list(lengths))
    for n in (1, 8):
        a.cost.observe(n, cost(n))
    waiting = [PromptState(0.0, 0, max_tokens, timeout)] * waiting_n
    k = a.how_many(running, waiting, [0] * waiting_n)
    assert 0 <= k <= min(waiting_n, a.limit - len(running)) or (k == 1 and not running)
    if not running:
        assert k >= 1

    def holds(admitted: int) -> bool:
        everyone = [*running, *waiting[:admitted]]
        expect = [
            max(1, min(s.max_tokens, expected_total(s.tokens, s.max_tokens, lengths)) - s.tokens) for s in everyone
        ]
        for i, s in enumerate(everyone):
            own = max(1, s.max_tokens - s.tokens)
            budget = a.fill * s.timeout_s - s.elapsed_s
            if simulate(own, [], a.cost.at) > budget * (1 + 1e-9):
                continue
            if simulate(own, expect[:i] + expect[i + 1 :], a.cost.at) > budget * (1 + 1e-9):
                return False
        return True

    if k and (running or k > 1):
        assert holds(k)
    if k < min(waiting_n, a.limit - len(running)):
        assert not holds(k + 1) or (k == 0 and not holds(0))


def test_the_plan_says_the_estimate_and_warns_when_one_at_a_time_does_not_fit():
    a = Admission()
    a.cost.observe(1, 0.5)
    line = plan_line(5, 1, a, 64, 10.0)
    assert "5 prompts (up to 64 tokens each), 1 at a time" in line
    assert "a full answer takes ~32 s of its own 10 s limit" in line
    assert "estimate <= 160 s" in line
    assert "--punie-timeout-scale=3.2" in line
    assert eta_s(5, 2, 10.0) == 30.0
