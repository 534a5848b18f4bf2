"""Scoring: parse a completion, score it two ways, label its failure mode."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pytest_punie.scoring.labels import LABELS, failure_label
from pytest_punie.scoring.legacy import LegacyExtraction, score_legacy
from pytest_punie.scoring.legacy26 import score_legacy26
from pytest_punie.scoring.parse import ParsedResponse, parse_response
from pytest_punie.scoring.strict import StrictResult, score_strict
from pytest_punie.suite.model import SCORERS, Prompt
from pytest_punie.toolsurface import ToolSurface


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
        """The scorer's details and the sampled run's own (repeats), together."""
        return {**super().details(), **(self.extra or {})}


def score_response(response: dict[str, Any] | None, prompt: Prompt, surface: ToolSurface) -> ScoredResponse:
    """Score one chat completion (None: no response) with both scorers."""
    parsed = parse_response(response) if response is not None else None
    # the Phase 33 script had no direct-answer prompts: those follow the Phase 26 script's rule
    phase26 = prompt.expect.legacy_rules == "phase26" or prompt.expect.direct
    legacy_score, extraction = (score_legacy26 if phase26 else score_legacy)(response, prompt.expect)
    strict = score_strict(parsed, prompt.expect, surface)
    return ScoredResponse(
        scores={"legacy": legacy_score, "strict": strict.score},
        label=failure_label(parsed, strict, prompt.expect),
        legacy=extraction,
        strict=strict,
        parsed=parsed,
    )


__all__ = ["LABELS", "SCORERS", "ScoredResponse", "parse_response", "score_response"]
