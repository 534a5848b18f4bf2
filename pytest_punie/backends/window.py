"""How many sequences generate at once, so that every prompt's own time limit stays honest.

A prompt's ``timeout_s`` bounds that prompt's own generation: its clock starts when it
is scheduled, never when the batch started. A sequence that runs to ``max_tokens``
needs ``max_tokens`` decode steps, and a step costs more the more sequences share it
(on a CPU almost linearly: mlx's quantized kernels do not amortize there; on Apple
silicon far less). The window is sized from the measured step cost so that a whole
answer fits in a fraction (``fill``) of the limit: it shrinks when steps are slow and
grows (at most doubling) when they are fast. Pure arithmetic: no mlx here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Window:
    """The scheduling window of one batched generation."""

    size: int
    """Sequences allowed to generate at once now."""
    limit: int = 32
    """Never more than this (mlx-lm's own completion batch size)."""
    fill: float = 0.7
    """The share of a prompt's time limit a full-length answer may take at the window's size."""
    history: list[tuple[int, float]] = field(default_factory=list)
    """(sequences, seconds a decode step took): what the window was sized from."""

    def observe(self, active: int, step_s: float, max_tokens: int, timeout_s: float) -> int:
        """Resize from one decode step of ``active`` sequences that took ``step_s``; the new size."""
        if active <= 0 or step_s <= 0:
            return self.size
        self.history.append((active, step_s))
        need = max_tokens * step_s  # seconds a full-length answer takes at this concurrency
        fits = math.floor(active * self.fill * timeout_s / need) if need > 0 else self.limit
        grow_to = 2 * active if active >= self.size else self.size  # grow only from a full window
        self.size = max(1, min(self.limit, fits, grow_to))
        return self.size

    def full_answer_s(self, max_tokens: int) -> float | None:
        """Seconds one full-length answer takes at the last measured step cost (None: nothing measured)."""
        if not self.history:
            return None
        active, step = self.history[-1]
        per_sequence = step if active <= 1 else step * max(1, self.size) / active  # linear: the pessimistic case
        return max_tokens * per_sequence


def eta_s(waiting: int, running: int, window: int, full_answer_s: float) -> float:
    """Seconds until the last of ``waiting`` + ``running`` prompts is done, if each runs to its limit."""
    rounds = math.ceil((waiting + running) / max(1, window))
    return rounds * full_answer_s


def plan_line(todo: int, active: int, step_s: float, window: Window, max_tokens: int, timeout_s: float) -> str:
    """What the scheduler decided and why, with the estimate a person needs before a long wait."""
    full = window.full_answer_s(max_tokens) or 0.0
    line = (
        f"generating {todo} prompts (up to {max_tokens} tokens each), {min(window.size, todo)} at a time: "
        "a decode step of "
        f"{active} took {step_s * 1000:.0f} ms, so a full answer takes ~{full:.0f} s of its own {timeout_s:g} s "
        f"limit; estimate <= {eta_s(todo, 0, window.size, full):.0f} s"
    )
    if window.size == 1 and full > timeout_s:
        scale = math.ceil(full / timeout_s * 10) / 10
        line += (
            f"; WARNING: a full answer does not fit its limit even one at a time: prompts that run to max_tokens "
            f"will be cut (the run is then INCOMPLETE; --punie-timeout-scale={scale:g} gives them time)"
        )
    return line
