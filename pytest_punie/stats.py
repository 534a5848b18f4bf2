"""Small-sample statistics for 27 prompts, said honestly.

Wilson intervals for pass rates (they stay inside [0, 1] and behave at 0
and n), and the exact McNemar test (a two-sided sign test on the prompts
that flipped) for paired comparisons: one flip on 27 prompts moves the
overall score by 3.7 points, and can never be significant on its own.
"""

from __future__ import annotations

import math


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def mcnemar_exact(worse: int, better: int) -> float:
    """Two-sided exact p-value for ``worse`` pass->fail and ``better`` fail->pass flips."""
    n = worse + better
    if n == 0:
        return 1.0
    k = min(worse, better)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def min_flips_for_significance(alpha: float = 0.05) -> int:
    """The fewest one-sided flips (none the other way) that the exact test can call significant."""
    n = 1
    while mcnemar_exact(n, 0) >= alpha:
        n += 1
    return n


def pass_hat_k(successes: int, trials: int, k: int) -> float:
    """pass^k: the chance that k independent samples all pass, estimated without replacement."""
    if trials < k:
        return float("nan")
    return math.comb(successes, k) / math.comb(trials, k)
