"""A run's time budget and this machine's measured rates: what the plan's estimates come from.

``--punie-budget=3h`` (or ``45m``, ``90s``, ``1h30m``) bounds the whole run. Each build step and
each generation is estimated from what this machine measured before (kept in the build cache's
``rates.json``: a step's seconds per unit of work, a generation's seconds per prompt), or
"unknown" until one is measured. Pure arithmetic and one small JSON file: no mlx here.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")
RATES = "rates.json"
KEEP = 20  # measurements kept per kind: the recent ones say what this machine does now


def parse_duration(text: str) -> float:
    """Seconds in ``3h``, ``45m``, ``90s``, ``1h30m`` or a bare number of seconds; ValueError otherwise."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        m = DURATION.match(value)
        if not value or m is None or not any(m.groups()):
            raise ValueError(f"not a duration: {text!r} (write 3h, 45m, 90s or 1h30m)") from None
        h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = h * 3600 + mi * 60 + s
    if seconds <= 0:
        raise ValueError(f"a budget must be more than nothing: {text!r}")
    return seconds


def duration(seconds: float) -> str:
    """Seconds as a person reads a plan: 45 s, 12 min, 3 h 5 min."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {round(seconds % 3600 / 60)} min"


@dataclass
class Rates:
    """This machine's measured rates, by kind of work: seconds per unit (an iteration, a prompt, a step)."""

    path: Path | None
    measured: dict[str, list[float]] = field(default_factory=dict)
    """Kind -> the last measurements of seconds per unit."""

    @classmethod
    def load(cls, cache_root: Path) -> Rates:
        """The rates kept in a build cache (none when it has none, or cannot be read)."""
        path = Path(cache_root) / RATES
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            measured = {str(k): [float(x) for x in v][-KEEP:] for k, v in raw.items() if isinstance(v, list)}
        except (OSError, ValueError, TypeError):
            measured = {}
        return cls(path, measured)

    def per_unit(self, kind: str) -> float | None:
        """The median seconds per unit measured for this kind of work (None: never measured here)."""
        values = self.measured.get(kind)
        return statistics.median(values) if values else None

    def seconds_for(self, kind: str, units: float) -> float | None:
        """Seconds ``units`` of this kind of work take at the measured rate (None: never measured here)."""
        rate = self.per_unit(kind)
        return None if rate is None else rate * units

    def add(self, kind: str, seconds: float, units: float = 1.0) -> None:
        """Remember one measurement (``seconds`` for ``units`` of work) and keep it on disk."""
        if units <= 0 or seconds < 0:
            return
        self.measured.setdefault(kind, []).append(seconds / units)
        self.measured[kind] = self.measured[kind][-KEEP:]
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.measured, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only or full cache: the rate is used in this run, only not kept


@dataclass
class Budget:
    """The run's time limit, counted from when the run started."""

    limit_s: float
    """What ``--punie-budget`` gave."""
    text: str
    """As the user wrote it (for messages and the finishing command)."""
    started: float = field(default_factory=time.monotonic)
    planned: dict[str, list[float | None]] = field(default_factory=dict)
    """The plan's work not started yet, by rate kind: [units left, seconds per unit or None (unknown)]."""

    def plan(self, kind: str, units: float, estimate_s: float | None) -> None:
        """Count work the plan says is to do (what the whole run's remaining estimate is summed from)."""
        left = self.planned.setdefault(kind, [0.0, None])
        left[0] = float(left[0] or 0.0) + units
        if estimate_s is not None and units > 0:
            left[1] = estimate_s / units

    def begin(self, kind: str, units: float) -> None:
        """Work of this kind starts: it leaves what the plan has still to do."""
        left = self.planned.get(kind)
        if left is not None:
            left[0] = max(0.0, float(left[0] or 0.0) - units)

    def run_line(self, current_left_s: float | None) -> str:
        """The whole run's clock for a progress line: elapsed, and what the plan says is left (the
        work running now by its own ETA, the rest by this machine's rates), against the budget."""
        rest = [(float(u or 0.0), r) for u, r in self.planned.values() if (u or 0.0) > 0]
        known = sum(u * r for u, r in rest if r is not None) + (current_left_s or 0.0)
        unknown = sum(1 for _u, r in rest if r is None)
        more = f" plus {unknown} unknown" if unknown else ""
        return (
            f"run {duration(self.elapsed())} elapsed, ~{duration(known)}{more} left "
            f"(budget {self.text}: {duration(max(0.0, self.left()))} left)"
        )

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def left(self) -> float:
        """Seconds left of the budget (negative once it is spent)."""
        return self.limit_s - self.elapsed()

    def allows(self, estimate_s: float | None) -> bool:
        """Whether work of this estimate may start now (unknown work may start while time is left)."""
        return self.left() > 0 and (estimate_s is None or estimate_s <= self.left())


class BudgetSpent(Exception):
    """Work not started because the run's budget could not fit it (its message says what and why)."""


def budget_stop_message(what: str, estimate_s: float | None, budget: Budget) -> str:
    """Why ``what`` was not started, in the words the completeness section and the seeds summary read."""
    need = "an unknown time" if estimate_s is None else f"~{duration(estimate_s)}"
    return (
        f"not started within --punie-budget={budget.text}: {what} needs {need}, "
        f"{duration(max(0.0, budget.left()))} of the budget was left after {duration(budget.elapsed())}"
    )


BUDGET_STOP = re.compile(r"not started within --punie-budget=(\S+):")
