"""Scoring: parse a completion, score it two ways, label its failure mode."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pytest_punie.scoring.labels import LABELS, failure_label
from pytest_punie.scoring.legacy import LegacyExtraction, score_legacy
from pytest_punie.scoring.parse import ParsedResponse, parse_response
from pytest_punie.scoring.strict import StrictResult, score_strict
from pytest_punie.serving.served import DROPPED, as_written, served_status
from pytest_punie.suite.model import Prompt
from pytest_punie.toolsurface import ToolSurface

SCORERS = ("legacy", "strict")


@dataclass
class ScoredResponse:
    """Everything a report says about one prompt's response."""

    scores: dict[str, Fraction]
    label: str
    legacy: LegacyExtraction
    strict: StrictResult
    parsed: ParsedResponse | None
    served: dict[str, Any] | None = None  # what the serving path did (serving.served)

    def details(self) -> dict[str, Any]:
        """What the response did, in the terms a failure message uses."""
        return {
            "legacy_wrapped": self.legacy.wrapped,
            "tools_called": self.strict.tools_called,
            "direct_calls": self.strict.direct_calls,
            "problems": self.strict.problems,
            "finish_reason": self.parsed.finish_reason if self.parsed else None,
            "served": self.served,
        }


@dataclass
class SampledResponse(ScoredResponse):
    """Several samples of one prompt, summarised (``--punie-repeat``)."""

    extra: dict[str, Any] | None = None

    def details(self) -> dict[str, Any]:
        return {**super().details(), **(self.extra or {})}


def score_response(response: dict[str, Any] | None, prompt: Prompt, surface: ToolSurface) -> ScoredResponse:
    """Score one chat completion (None: no response) with both scorers."""
    parsed = parse_response(response) if response is not None else None
    legacy_score, extraction = score_legacy(response, prompt.expect)
    strict = score_strict(parsed, prompt.expect, surface)
    scores = {"legacy": legacy_score, "strict": strict.score}
    served = served_status(response)
    if response is not None and served is not None and served["status"] == DROPPED and served["written"]:
        # what the drop cost: each scorer on the response as the model wrote it
        written = as_written(response)
        served["scores_as_written"] = {
            "legacy": str(score_legacy(written, prompt.expect)[0]),
            "strict": str(score_strict(parse_response(written), prompt.expect, surface).score),
        }
    return ScoredResponse(
        scores=scores,
        label=failure_label(parsed, strict, prompt.expect),
        legacy=extraction,
        strict=strict,
        parsed=parsed,
        served=served,
    )


def depends_on_drop(served: dict[str, Any] | None, scores: dict[str, Fraction], scorer: str) -> bool:
    """True when the serving path dropped calls and ``scorer``'s score would
    differ had they been served, or when what was dropped is unknown."""
    if not served or served.get("status") != DROPPED:
        return False
    as_written_scores = served.get("scores_as_written")
    if not as_written_scores:
        return True  # the raw text is unavailable: the cost of the drop cannot be measured
    return Fraction(as_written_scores[scorer]) != scores[scorer]


__all__ = ["LABELS", "SCORERS", "ScoredResponse", "depends_on_drop", "parse_response", "score_response"]
