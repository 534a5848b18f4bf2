"""N samples of one prompt (``--punie-repeat``) reduced to one scored response."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from pytest_punie.scoring import SampledResponse, ScoredResponse
from pytest_punie.stats import pass_hat_k


def combine_samples(scoreds: list[ScoredResponse], pass_score: Fraction, scorer: str) -> SampledResponse:
    """Mean scores, the most common label, and in details the pass rate and
    pass^k (the chance that k samples all pass)."""
    n = len(scoreds)
    means = {k: sum((s.scores[k] for s in scoreds), Fraction(0)) / n for k in scoreds[0].scores}
    passes = sum(1 for s in scoreds if s.scores[scorer] >= pass_score)
    label = Counter(s.label for s in scoreds).most_common(1)[0][0]
    extra = {
        "samples": n,
        "sample_passes": passes,
        "pass_rate": round(passes / n, 6),
        "pass_hat_k": {str(k): round(pass_hat_k(passes, n, k), 6) for k in range(1, n + 1)},
        "sample_scores": [float(s.scores[scorer]) for s in scoreds],
        "sample_labels": [s.label for s in scoreds],
    }
    first = scoreds[0]
    return SampledResponse(
        means,
        label,
        first.legacy,
        first.strict,
        first.parsed,
        served=first.served,
        extra=extra,
        outcome=first.outcome,
        runs=first.runs,
    )
