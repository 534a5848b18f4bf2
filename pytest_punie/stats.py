"""Small-sample statistics for 27 prompts, said honestly.

Wilson intervals for pass rates (they stay inside [0, 1] and behave at 0
and n), and the exact McNemar test (a two-sided sign test on the prompts
that flipped) for paired comparisons: one flip on 27 prompts moves the
overall score by 3.7 points, and can never be significant on its own.
"""

from __future__ import annotations

import math
from typing import TypedDict


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


# -- training seeds: is a recipe's score reproducible? ------------------------------------------
class Spread(TypedDict):
    """A score over training seeds: where it lies and how far seeds scatter it."""

    min: float
    median: float
    max: float
    mean: float
    sd: float | None  # seed to seed, n - 1; None for one seed


def seed_spread(scores: list[float]) -> Spread:
    """Min / median / max over seeds and the seed-to-seed standard deviation (n - 1; None for one seed)."""
    ordered = sorted(scores)
    n = len(ordered)
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    mean = sum(ordered) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in ordered) / (n - 1)) if n > 1 else None
    return {"min": ordered[0], "median": median, "max": ordered[-1], "mean": mean, "sd": sd}


def crossed_bootstrap(
    scores: list[list[float]], reps: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval for the mean score when both the training seeds and the prompts are
    samples: each replicate draws seeds and prompts with replacement and averages the crossed
    cells (Sellam et al. 2021, the multi-bootstrap). ``scores[s][p]``: seed s, prompt p. Seeded."""
    import random

    rng = random.Random(seed)
    n_seeds, n_prompts = len(scores), len(scores[0])
    stats = []
    for _ in range(reps):
        seeds = [rng.randrange(n_seeds) for _ in range(n_seeds)]
        prompts = [rng.randrange(n_prompts) for _ in range(n_prompts)]
        stats.append(sum(scores[s][p] for s in seeds for p in prompts) / (n_seeds * n_prompts))
    stats.sort()
    tail = (1 - level) / 2
    lo = stats[max(0, math.floor(tail * reps))]
    hi = stats[min(reps - 1, math.ceil((1 - tail) * reps) - 1)]
    return (lo, hi)


def seed_reaches(threshold: float, prompts: int, rate: float) -> float:
    """P(one seed's score over ``prompts`` pass/fail prompts is >= ``threshold``) at true pass
    rate ``rate``, under a plain binomial model."""
    need = math.ceil(threshold * prompts - 1e-9)
    return sum(math.comb(prompts, j) * rate**j * (1 - rate) ** (prompts - j) for j in range(need, prompts + 1))


def k_of_n_pass_probability(k: int, n: int, threshold: float, prompts: int, rate: float) -> float:
    """P(at least k of n seeds reach ``threshold``) at true rate ``rate``: the operating
    characteristic of a "k of n seeds" reproducibility rule."""
    q = seed_reaches(threshold, prompts, rate)
    return sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k, n + 1))


def seed_set_difference(
    baseline: list[list[float]], candidate: list[list[float]], reps: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Candidate minus baseline mean score, two seed sets on the same prompts (``x[s][p]``), with a
    percentile interval that respects both levels: each replicate resamples the prompts (paired:
    the same prompts for both recipes) and, independently, each recipe's own seeds. Seeded."""
    import random

    def mean(m: list[list[float]], seeds: list[int], prompts: list[int]) -> float:
        return sum(m[s][p] for s in seeds for p in prompts) / (len(seeds) * len(prompts))

    n_p = len(baseline[0])
    everything = list(range(n_p))
    observed = mean(candidate, list(range(len(candidate))), everything) - mean(
        baseline, list(range(len(baseline))), everything
    )
    rng = random.Random(seed)
    stats = []
    for _ in range(reps):
        prompts = [rng.randrange(n_p) for _ in range(n_p)]
        b = [rng.randrange(len(baseline)) for _ in baseline]
        c = [rng.randrange(len(candidate)) for _ in candidate]
        stats.append(mean(candidate, c, prompts) - mean(baseline, b, prompts))
    stats.sort()
    tail = (1 - level) / 2
    return observed, stats[max(0, math.floor(tail * reps))], stats[min(reps - 1, math.ceil((1 - tail) * reps) - 1)]


def wilcoxon_signed_rank_exact(diffs: list[float]) -> tuple[float, float]:
    """Exact two-sided Wilcoxon signed-rank test of paired differences: (W+, p). Zeros are dropped;
    tied |d| get their mid-rank and the p-value is exact given those ranks (every sign pattern
    enumerated by a count over rank sums, so 27 prompts cost nothing)."""
    d = [x for x in diffs if x != 0]
    n = len(d)
    if n == 0:
        return 0.0, 1.0
    order = sorted(range(n), key=lambda i: abs(d[i]))
    twice = [0] * n  # twice the mid-rank: integers
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(d[order[j + 1]]) == abs(d[order[i]]):
            j += 1
        for k in range(i, j + 1):
            twice[order[k]] = i + j + 2  # (i + 1 + j + 1)
        i = j + 1
    w2 = sum(twice[k] for k in range(n) if d[k] > 0)
    counts = {0: 1}
    for r in twice:
        nxt = dict(counts)
        for s, c in counts.items():
            nxt[s + r] = nxt.get(s + r, 0) + c
        counts = nxt
    patterns = 2**n
    low = sum(c for s, c in counts.items() if s <= w2) / patterns
    high = sum(c for s, c in counts.items() if s >= w2) / patterns
    return w2 / 2, min(1.0, 2 * min(low, high))
