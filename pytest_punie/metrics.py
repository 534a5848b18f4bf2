"""The run's metrics, one implementation in exact fractions: the mean score and the pass rate of
a group of prompts, and ``grouped()`` to have either per category, per variant or per anything.
The verdict, the gate and every view compute them here; floats appear only when a number is
written out (rounded) or printed."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

METRICS = ("mean_score", "pass_rate")  # what a threshold may bound


def mean_score(scores: Sequence[Fraction]) -> Fraction | None:
    """The mean of the prompts' scores (None for no prompt: nothing was measured)."""
    return sum(scores, Fraction(0)) / len(scores) if scores else None


def pass_rate(passed: Sequence[bool]) -> Fraction | None:
    """The share of prompts that passed (None for no prompt)."""
    return Fraction(sum(1 for p in passed if p), len(passed)) if passed else None


def metric_value(metric: str, scores: Sequence[Fraction], passed: Sequence[bool]) -> Fraction | None:
    """The value a threshold bounds: the mean score or the pass rate, by the suite's threshold_metric."""
    if metric == "mean_score":
        return mean_score(scores)
    if metric == "pass_rate":
        return pass_rate(passed)
    raise ValueError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")


def grouped(items: Iterable[T], key: Callable[[T], K], metric: Callable[[list[T]], V]) -> dict[K, V]:
    """Any metric per group (category, variant, suite): the items grouped by ``key`` in first-seen order."""
    groups: dict[K, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return {k: metric(v) for k, v in groups.items()}


def exact(value: Fraction | str | None, rounded: float | None) -> Fraction:
    """A document's number, exact: its exact form (a fraction, or its text "3/5"), else the rounded float."""
    return Fraction(value) if value is not None else Fraction(str(rounded or 0))


def exact_score(row: Mapping[str, Any], scorer: str) -> Fraction:
    """A prompt row's score by ``scorer``, exact: from ``scores_exact`` (a results document's
    prompt), else from the rounded float an older document kept."""
    return exact((row.get("scores_exact") or {}).get(scorer), (row.get("scores") or {}).get(scorer))
