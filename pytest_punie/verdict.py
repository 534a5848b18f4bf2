"""Per-category and overall verdicts against the suite's pre-registered thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from pytest_punie.metrics import mean_score, metric_value, pass_rate
from pytest_punie.results import PromptResult
from pytest_punie.suite.suitetypes import Suite, Threshold


@dataclass(frozen=True)
class CategoryVerdict:
    """A category's outcome. ``passed`` is None when not every prompt of the
    category ran (``-k``, ``--lf``): a partial category is not judged."""

    name: str
    prompts_total: int
    prompts_run: int
    prompts_passed: int
    mean_score: Fraction | None
    pass_rate: Fraction | None
    metric: str
    threshold: Threshold
    passed: bool | None

    @property
    def score(self) -> Fraction | None:
        """The score the threshold is judged on (mean score or pass rate)."""
        return self.mean_score if self.metric == "mean_score" else self.pass_rate

    @property
    def complete(self) -> bool:
        """Every prompt of the category ran."""
        return self.prompts_run == self.prompts_total


@dataclass(frozen=True)
class SuiteVerdict:
    """A suite judged: each category, the overall and each metric against its threshold."""

    suite: Suite
    scorer: str
    categories: dict[str, CategoryVerdict]
    overall: CategoryVerdict
    no_response: tuple[str, ...]  # prompt ids that got no response
    metrics: dict[str, CategoryVerdict] = field(default_factory=dict)  # suite-level metrics (metrics:)

    @property
    def complete(self) -> bool:
        """Every prompt of the suite ran."""
        return self.overall.complete

    @property
    def passed(self) -> bool:
        """True exactly when every threshold that could be judged holds, at
        least one could be judged, and every prompt that ran got a response."""
        rows = [*self.categories.values(), self.overall, *self.metrics.values()]
        judged = [c for c in rows if c.passed is not None]
        return bool(judged) and all(c.passed for c in judged) and not self.no_response


def _judge(
    name: str,
    total: int,
    results: list[PromptResult],
    threshold: Threshold,
    metric: str,
    scorer: str,
    pass_score: Fraction,
) -> CategoryVerdict:
    run = len(results)
    scores = [r.scores[scorer] for r in results]
    passed_each = [s >= pass_score for s in scores]
    mean, rate = mean_score(scores), pass_rate(passed_each)
    passed_n = sum(passed_each)
    value = metric_value(metric, scores, passed_each)
    passed = threshold.holds(value) if (run == total and value is not None) else None
    return CategoryVerdict(name, total, run, passed_n, mean, rate, metric, threshold, passed)


def judge_suite(suite: Suite, results: list[PromptResult], scorer: str | None = None) -> SuiteVerdict:
    """Judges a suite's results against its pre-registered thresholds, in exact fractions."""
    scorer = scorer or suite.primary_scorer
    by_id = {r.id: r for r in results}
    cats = {}
    for name, cat in suite.categories.items():
        ids = [p.id for p in suite.prompts if p.category == name]
        rs = [by_id[i] for i in ids if i in by_id]
        cats[name] = _judge(name, len(ids), rs, cat.threshold, suite.threshold_metric, scorer, suite.pass_score)
    ran = [by_id[p.id] for p in suite.prompts if p.id in by_id]
    overall = _judge(
        "overall", len(suite.prompts), ran, suite.overall, suite.threshold_metric, scorer, suite.pass_score
    )
    metrics = {
        name: _judge(
            name,
            len(m.prompts),
            [by_id[i] for i in m.prompts if i in by_id],
            m.threshold,
            suite.threshold_metric,
            scorer,
            suite.pass_score,
        )
        for name, m in suite.metrics.items()
    }
    return SuiteVerdict(
        suite=suite,
        scorer=scorer,
        categories=cats,
        overall=overall,
        no_response=tuple(r.id for r in ran if not r.got_response),
        metrics=metrics,
    )
