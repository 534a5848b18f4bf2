"""Scoring: parse a completion, score it two ways, label its failure mode."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pytest_punie.programrun import Conversation, ProgramRun
from pytest_punie.scoring.labels import LABELS, failure_label
from pytest_punie.scoring.legacy import LegacyExtraction
from pytest_punie.scoring.outcome import OutcomeResult
from pytest_punie.scoring.parse import ParsedResponse, parse_response
from pytest_punie.scoring.scorers import ScorerInput, score_all
from pytest_punie.scoring.strict import StrictResult
from pytest_punie.suite.suitetypes import Prompt
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
    outcome: OutcomeResult | None = None  # what the outcome scorer found
    runs: tuple[ProgramRun, ...] | None = None  # the programs as the sandbox ran them

    def details(self) -> dict[str, Any]:
        """What the response did, in the terms a failure message uses."""
        out: dict[str, Any] = {
            "legacy_wrapped": self.legacy.wrapped,
            "tools_called": self.strict.tools_called,
            "direct_calls": self.strict.direct_calls,
            "problems": self.strict.problems,
            "finish_reason": self.parsed.finish_reason if self.parsed else None,
            "served": self.served,
        }
        if self.outcome is not None:
            out["outcome"] = {
                "label": self.outcome.label,
                "ran": self.outcome.ran,
                "problems": self.outcome.problems,
                "named_paths": self.outcome.named_paths,
            }
        if self.runs is not None:
            out["execution"] = [r.to_dict() for r in self.runs]
        return out


@dataclass
class SampledResponse(ScoredResponse):
    """Several samples of one prompt, summarised (``--punie-repeat``)."""

    extra: dict[str, Any] | None = None

    def details(self) -> dict[str, Any]:
        """The scorer's details and the sampled run's own (repeats), together."""
        return {**super().details(), **(self.extra or {})}


def score_response(
    response: dict[str, Any] | None,
    prompt: Prompt,
    surface: ToolSurface,
    runs: tuple[ProgramRun, ...] | None = None,
    parsed: ParsedResponse | None = None,
    conversation: Conversation | None = None,
) -> ScoredResponse:
    """Score one chat completion (None: no response) with every registered scorer; ``runs`` are its
    programs as the sandbox ran them (the outcome scorer reads them)."""
    if parsed is None and response is not None:
        parsed = parse_response(response)
    outputs = score_all(ScorerInput(response, parsed, prompt, surface, runs, conversation))
    strict = outputs["strict"].detail  # the failure label reads what the strict scorer found
    return ScoredResponse(
        scores={name: out.score for name, out in outputs.items()},
        label=failure_label(parsed, strict, prompt.expect),
        legacy=outputs["legacy"].detail,
        strict=strict,
        parsed=parsed,
        outcome=outputs["outcome"].detail if "outcome" in outputs else None,
        runs=runs,
    )


__all__ = ["LABELS", "ScoredResponse", "parse_response", "score_response"]
