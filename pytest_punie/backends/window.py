"""When another prompt may start generating, so that every prompt's own time limit stays honest.

A prompt's ``timeout_s`` bounds that prompt's own generation: its clock starts when it is
admitted, never when the batch started. A decode step costs more the more sequences share
it (on a CPU almost linearly: mlx's quantized kernels do not amortize there; on Apple
silicon far less), so every admission slows the prompts already running. A running
sequence is never moved out (its tokens would be generated a second time): the window
shrinks by not refilling. A waiting prompt is admitted only when, with it, every prompt
still fits ``fill`` of its own limit, each projected as the one that runs to its
``max_tokens`` while the others run to the length expected of them (the answers' lengths
so far). Pure arithmetic: no mlx here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class StepCost:
    """Seconds one decode step takes at each number of sequences sharing it, as measured here."""

    measured: dict[int, float] = field(default_factory=dict)
    """Sequences sharing a step -> its seconds (smoothed over the steps seen at that width)."""

    def observe(self, active: int, step_s: float) -> bool:
        """Count one measured step; True when it is the first at that width (the plan may change)."""
        if active <= 0 or step_s <= 0:
            return False
        old = self.measured.get(active)
        self.measured[active] = step_s if old is None else 0.5 * old + 0.5 * step_s
        return old is None

    def at(self, n: int) -> float | None:
        """A step's seconds for ``n`` sequences: interpolated between measured widths, linear in the
        batch beyond the widest (this CPU's case, pessimistic where steps amortize); None: unmeasured."""
        if not self.measured:
            return None
        widths = sorted(self.measured)
        if n >= widths[-1]:
            return self.measured[widths[-1]] * n / widths[-1]
        if n <= widths[0]:
            return self.measured[widths[0]]
        upper = next(w for w in widths if w >= n)
        lower = max(w for w in widths if w <= n)
        if upper == lower:
            return self.measured[n]
        share = (n - lower) / (upper - lower)
        return self.measured[lower] + share * (self.measured[upper] - self.measured[lower])


@dataclass(frozen=True)
class PromptState:
    """What the planner knows of one prompt: its clock, its tokens so far and its two bounds."""

    elapsed_s: float
    """Seconds since it was admitted (0 for one not admitted yet)."""
    tokens: int
    """Tokens it has generated so far."""
    max_tokens: int
    """The most it may generate."""
    timeout_s: float
    """Its own time limit."""


def expected_total(tokens: int, max_tokens: int, answer_lengths: Sequence[int]) -> int:
    """The length a prompt is expected to reach: the longest answer so far, or (past it) as long
    again as it already is; ``max_tokens`` while no answer has finished (nothing known yet)."""
    if not answer_lengths:
        return max_tokens
    longest = max(answer_lengths)
    return min(max_tokens, longest if tokens < longest else 2 * tokens)


def projected_s(own_left: int, others_left: Sequence[int], cost: Callable[[int], float]) -> float:
    """Seconds until a sequence with ``own_left`` steps to go finishes, while the others run their
    steps and stop (no prompt admitted meanwhile)."""
    others = sorted(others_left)
    total, done, i = 0.0, 0, 0
    while done < own_left:
        while i < len(others) and others[i] <= done:
            i += 1
        until = min(others[i], own_left) if i < len(others) else own_left
        total += (until - done) * cost(1 + len(others) - i)
        done = until
    return total


@dataclass
class Admission:
    """Decides how many waiting prompts may start now, from the measured step cost."""

    limit: int = 32
    """Never more sequences at once than this (mlx-lm's own completion batch size)."""
    fill: float = 0.7
    """The share of a prompt's own limit its projected finish may take."""
    cost: StepCost = field(default_factory=StepCost)
    """What a decode step costs, as measured in this generation."""
    answer_lengths: list[int] = field(default_factory=list)
    """Tokens of every answer finished so far (what the expected length is read from)."""
    prefill_s_per_token: float = 0.0
    """Measured prompt processing cost (it holds up every running sequence while it runs)."""

    def fits(self, running: Sequence[PromptState], admitted: Sequence[PromptState], prefill_tokens: int) -> bool:
        """Whether every prompt, running and newly admitted, still fits ``fill`` of its own limit, each
        projected to its ``max_tokens`` while the others run to their expected length."""
        cost = self.cost.at
        if cost(1) is None:
            return not running and len(admitted) <= 1  # nothing measured yet: one prompt, to measure
        everyone = [*running, *admitted]
        expected = [
            max(1, min(s.max_tokens, expected_total(s.tokens, s.max_tokens, self.answer_lengths)) - s.tokens)
            for s in everyone
        ]
        delay = prefill_tokens * self.prefill_s_per_token
        steps = lambda n: cost(n) or 0.0  # noqa: E731
        for i, s in enumerate(everyone):
            own_left = max(1, s.max_tokens - s.tokens)
            budget = self.fill * s.timeout_s - s.elapsed_s
            if projected_s(own_left, [], steps) > budget:
                continue  # it does not fit even alone: holding others back cannot save it (it is warned)
            if delay + projected_s(own_left, expected[:i] + expected[i + 1 :], steps) > budget:
                return False
        return True

    def how_many(
        self, running: Sequence[PromptState], waiting: Sequence[PromptState], prefill_tokens: Sequence[int]
    ) -> int:
        """How many of ``waiting`` (in order) may start now: the most that fit, at least one when
        nothing runs (a prompt that does not fit even alone still gets its turn, and is warned)."""
        room = min(len(waiting), self.limit - len(running))
        lo, hi = 0, max(0, room)
        while lo < hi:  # more admitted only slows everyone: the largest that fits, by bisection
            mid = (lo + hi + 1) // 2
            if self.fits(running, waiting[:mid], sum(prefill_tokens[:mid])):
                lo = mid
            else:
                hi = mid - 1
        return max(lo, 1 if not running and waiting else 0)

    def full_answer_s(self, width: int, max_tokens: int) -> float | None:
        """Seconds one full-length answer takes with ``width`` sequences sharing every step (None: unmeasured)."""
        step = self.cost.at(max(1, width))
        return None if step is None else max_tokens * step


def eta_s(todo: int, width: int, full_answer_s: float) -> float:
    """Seconds until the last of ``todo`` prompts is done, if each runs to its limit ``width`` at a time."""
    return math.ceil(todo / max(1, width)) * full_answer_s


def plan_line(todo: int, width: int, admission: Admission, max_tokens: int, timeout_s: float) -> str:
    """What the scheduler decided and why, with the estimate a person needs before a long wait."""
    full = admission.full_answer_s(width, max_tokens) or 0.0
    alone = admission.full_answer_s(1, max_tokens) or 0.0
    step = admission.cost.at(max(1, width)) or 0.0
    line = (
        f"generating {todo} prompts (up to {max_tokens} tokens each), {min(width, todo)} at a time: "
        f"a decode step of {width} takes ~{step * 1000:.0f} ms, so a full answer takes ~{full:.0f} s of its own "
        f"{timeout_s:g} s limit; estimate <= {eta_s(todo, width, full):.0f} s (more start as answers finish)"
    )
    if alone > timeout_s:
        scale = math.ceil(alone / timeout_s * 10) / 10
        line += (
            f"; WARNING: a full answer does not fit its limit even one at a time: prompts that run to max_tokens "
            f"will be cut (the run is then INCOMPLETE; --punie-timeout-scale={scale:g} gives them time)"
        )
    return line
