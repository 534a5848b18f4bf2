"""The scorers, registered by name (``pytest_punie.registry.SCORERS``): every prompt's response is
scored by each, a suite names one as its primary one (the schema's enum is read from the registry),
and ``--punie-scorer`` may judge with another. A new scorer is one function decorated with
``@scorer(name, description)`` plus its tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

from pytest_punie.programrun import Conversation, ProgramRun
from pytest_punie.registry import SCORERS
from pytest_punie.scoring.labels import failure_label
from pytest_punie.scoring.legacy import score_legacy
from pytest_punie.scoring.legacy26 import score_legacy26
from pytest_punie.scoring.outcome import judge_conversation, score_outcome
from pytest_punie.scoring.parse import ParsedResponse
from pytest_punie.scoring.strict import score_strict
from pytest_punie.suite.suitetypes import Prompt
from pytest_punie.toolsurface import ToolSurface


@dataclass(frozen=True)
class ScorerInput:
    """What a scorer may read about one response."""

    response: dict[str, Any] | None
    """The chat.completion as the client got it (None: no response)."""
    parsed: ParsedResponse | None
    """The same, parsed once for every scorer (None: no response)."""
    prompt: Prompt
    """The prompt, with what a correct answer does."""
    surface: ToolSurface
    """The tools, their arguments and result fields, that the sandbox runs."""
    runs: tuple[ProgramRun, ...] | None = None
    """What each Code Mode program of the response did when the sandbox ran it (None: none ran)."""
    conversation: Conversation | None = None
    """What the conversation after the tool left: the final answer, the files after the writes."""


@dataclass(frozen=True)
class ScorerOutput:
    """A scorer's score of one response, and what it found on the way."""

    score: Fraction
    """0..1, exact."""
    detail: Any
    """The scorer's own findings (the legacy extraction, the strict result) for labels and messages."""


Scorer = Callable[[ScorerInput], ScorerOutput]


def scorer(name: str, description: str) -> Callable[[Scorer], Scorer]:
    """Registers a scorer under ``name``: a suite may then name it, and every response gets its score."""
    return cast(Callable[[Scorer], Scorer], SCORERS.register(name, description))


def score_all(given: ScorerInput) -> dict[str, ScorerOutput]:
    """Every registered scorer's output for one response, by name."""
    return {entry.name: cast(Scorer, entry.fn)(given) for entry in SCORERS.entries()}


@scorer(
    "legacy",
    "the historical eval scripts' rule, reproduced exactly: Phase 33's keywords in the extracted program, "
    "Phase 26's markers in the raw text (a direct-answer prompt follows Phase 26's rule)",
)
def legacy(given: ScorerInput) -> ScorerOutput:
    """The score the users' own scripts gave: comparable with every number they ever published."""
    expect = given.prompt.expect
    phase26 = expect.legacy_rules == "phase26" or expect.direct  # Phase 33's script had no direct-answer prompts
    score, extraction = (score_legacy26 if phase26 else score_legacy)(given.response, expect)
    return ScorerOutput(score, extraction)


@scorer(
    "strict",
    "credit only for what the sandbox would run: the Code Mode program parsed, its calls, arguments and "
    "result fields checked against the tool surface",
)
def strict(given: ScorerInput) -> ScorerOutput:
    """The score production would give: a tool named in prose or called outside the wrapper earns nothing."""
    result = score_strict(given.parsed, given.prompt.expect, given.surface)
    return ScorerOutput(result.score, result)


@scorer(
    "outcome",
    "credit for what the program did when the sandbox ran it on the suite's workspace: it ran to its end, "
    "called the expected tool with arguments resolving to the paths the prompt names, and read the fields asked for",
)
def outcome(given: ScorerInput) -> ScorerOutput:
    """The score production would see: a program that acts on the wrong path, or fails at run time, earns nothing."""
    strict_result = score_strict(given.parsed, given.prompt.expect, given.surface)
    static = failure_label(given.parsed, strict_result, given.prompt.expect)
    result = score_outcome(
        given.parsed, given.prompt.expect, given.surface, given.prompt.query, given.runs, strict_result, static
    )
    result = judge_conversation(result, given.prompt.expect, given.runs, given.conversation)
    return ScorerOutput(result.score, result)
