"""One prompt's result as it travels: from an xdist worker to the controller,
into the JSON report and back out of a saved baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from pytest_punie.programrun import Conversation, ProgramRun
from pytest_punie.registry import SCORERS
from pytest_punie.sandbox import Limits, SandboxUnavailable, WorkspaceError, run_and_read
from pytest_punie.scoring import ScoredResponse, parse_response, score_response
from pytest_punie.scoring.parse import ParsedResponse, programs_in, programs_of
from pytest_punie.scoring.reduce import combine_samples
from pytest_punie.serving.served import serving_record
from pytest_punie.toolsurface import ToolSurface, load_surface

if TYPE_CHECKING:
    from pytest_punie.backends import ResponseRecord
    from pytest_punie.suite.suitetypes import Prompt, Suite


@dataclass
class PromptResult:
    """One judged prompt: its scores, label, response and timing, as items hand it to the session."""

    suite: str  # suite file path (as collected)
    suite_digest: str
    id: str
    category: str
    scores: dict[str, Fraction]
    primary_scorer: str
    passed: bool
    label: str
    response: dict[str, Any] | None
    error: str | None = None  # transport error, timeout (the text so far kept in response), or no recorded response
    retries: int = 0
    seconds: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    variant: str = ""  # "" or e.g. "t=0.7", "ckpt=40"

    @property
    def score(self) -> Fraction:
        """The primary scorer's score, the one thresholds are judged on."""
        return self.scores[self.primary_scorer]

    @property
    def got_response(self) -> bool:
        """Whether a response came back at all (an error is not a miss)."""
        return self.error is None

    @classmethod
    def from_scored(
        cls, suite_ref: str, suite: Suite, prompt: Prompt, scored: ScoredResponse, scorer: str, record: ResponseRecord
    ) -> PromptResult:
        """A prompt passes when it got a response that scores at least the suite's pass score."""
        return cls(
            suite=suite_ref,
            suite_digest=suite.digest,
            id=prompt.id,
            category=prompt.category,
            scores=scored.scores,
            primary_scorer=scorer,
            passed=record.error is None and scored.scores[scorer] >= suite.pass_score,
            label=scored.label,
            response=record.response,
            error=record.error,
            retries=record.retries,
            seconds=record.seconds,
            details=scored.details(),
        )

    def to_wire(self) -> dict[str, Any]:
        """Plain JSON-able data; exact scores travel as fraction strings."""
        return {
            "suite": self.suite,
            "suite_digest": self.suite_digest,
            "id": self.id,
            "category": self.category,
            "scores": {k: str(v) for k, v in self.scores.items()},
            "primary_scorer": self.primary_scorer,
            "passed": self.passed,
            "label": self.label,
            "response": self.response,
            "error": self.error,
            "retries": self.retries,
            "seconds": self.seconds,
            "details": self.details,
            "variant": self.variant,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> PromptResult:
        """A result as an xdist worker sent it."""
        return cls(
            suite=data["suite"],
            suite_digest=data["suite_digest"],
            id=data["id"],
            category=data["category"],
            scores={k: Fraction(v) for k, v in data["scores"].items()},
            primary_scorer=data["primary_scorer"],
            passed=bool(data["passed"]),
            label=data["label"],
            response=data.get("response"),
            error=data.get("error"),
            retries=int(data.get("retries") or 0),
            seconds=data.get("seconds"),
            details=data.get("details") or {},
            variant=data.get("variant") or "",
        )


def judge_prompt(
    suite_ref: str,
    suite: Suite,
    prompt: Prompt,
    records: list[ResponseRecord],
    scorer: str | None = None,
    variant: str = "",
) -> PromptResult:
    """One prompt's result from its response record(s), one per sample: both
    scores, the label, what the serving path did, pass or miss. A transport
    error is scored as no response, and a prompt with one never passes."""
    scorer = scorer or suite.primary_scorer
    surface = load_surface(suite.tool_surface) if suite.tool_surface else load_surface()
    # a prompt cut by its own time limit is scored on the text it wrote (and never passes);
    # any other error is no response, whatever body came with it
    unmeasured: list[str] = []
    scoreds = [
        _scored(r.response if r.error is None or cut_by_limit(r) else None, prompt, surface, suite, unmeasured)
        for r in records
    ]
    record = next((r for r in records if r.error is not None), records[0])
    scored = scoreds[0] if len(scoreds) == 1 else combine_samples(scoreds, suite.pass_score, scorer)
    result = PromptResult.from_scored(suite_ref, suite, prompt, scored, scorer, record)
    if scorer == "outcome" and scored.outcome is not None:
        result.label = scored.outcome.label
    if record.error is not None and cut_by_limit(record):
        result.label = "timeout"
    if unmeasured and result.error is None:
        # the sandbox could not measure what the program does: the prompt is unanswered, never a score
        result.error = unmeasured[0]
        result.passed = False
    result.variant = variant
    return result


def cut_by_limit(record: ResponseRecord) -> bool:
    """A response the harness cut at the prompt's own time limit (its text so far kept)."""
    return bool(((record.response or {}).get("punie") or {}).get("cut"))


def _scored(
    response: dict[str, Any] | None, prompt: Prompt, surface: ToolSurface, suite: Suite, unmeasured: list[str]
) -> ScoredResponse:
    parsed = parse_response(response) if response is not None else None
    runs, talk = _programs_run(parsed, surface, suite, unmeasured, prompt) if parsed is not None else (None, None)
    scored = score_response(response, prompt, surface, runs=runs, parsed=parsed, conversation=talk)
    scored.served = serving_record(response, prompt, surface, runs)
    return scored


def sandbox_limits(suite: Suite) -> Limits:
    """The limits a suite's programs run under (its ``sandbox`` key, else the sandbox's defaults)."""
    config = suite.extra.get("sandbox") or {}
    default = Limits()
    return Limits(
        seconds=float(config.get("time_limit_s", default.seconds)),
        memory_bytes=int(config["memory_mb"]) * 1024 * 1024 if "memory_mb" in config else default.memory_bytes,
        tool_timeout_s=float(config.get("tool_timeout_s", default.tool_timeout_s)),
    )


def run_for_suite(suite: Suite, codes: list[str], files: tuple[str, ...] = ()) -> tuple[ProgramRun, ...]:
    """Programs run one after another on the suite's workspace, with its tools and limits."""
    return run_with_files(suite, codes, files)[0]


def run_with_files(
    suite: Suite, codes: list[str], files: tuple[str, ...] = ()
) -> tuple[tuple[ProgramRun, ...], dict[str, str | None]]:
    """``run_for_suite``, and the text of ``files`` as the programs left them (the state check's)."""
    config = suite.extra.get("sandbox") or {}
    return run_and_read(codes, config.get("workspace"), config.get("tools"), sandbox_limits(suite), files)


def _programs_run(
    parsed: ParsedResponse, surface: ToolSurface, suite: Suite, unmeasured: list[str], prompt: Prompt | None = None
) -> tuple[tuple[ProgramRun, ...] | None, Conversation | None]:
    """The answer's complete Code Mode programs (of every turn of a conversation) run in the sandbox on
    the suite's workspace (always run again, a replayed answer too: no tool output is trusted from a
    file); None when it has none. A sandbox that cannot start, or a tool this machine lacks, is noted
    in ``unmeasured``. A conversation's final answer and the files its state check reads come with it."""
    codes = programs_of(parsed, surface.wrapper)
    turns = parsed.turns
    later = [t for t in turns if t.get("role") == "assistant"]
    for turn in later:
        codes += programs_in(str(turn.get("content") or ""), surface.wrapper)
    if not codes:
        return None, _conversation(parsed, later, {}, surface.wrapper) if turns else None
    files = (prompt.expect.state["file"],) if prompt is not None and prompt.expect.state else ()
    try:
        runs, read = run_with_files(suite, codes, files)
    except (SandboxUnavailable, WorkspaceError, OSError) as exc:
        unmeasured.append(f"the program was not run: {exc}")
        return None, None
    missing = [r.exception for r in runs if r.ending == "tool-missing"]
    if missing:
        unmeasured.append(f"the program was not measured: {missing[0]} (install it and rerun)")
    return runs, _conversation(parsed, later, read, surface.wrapper) if turns or files else None


def _conversation(
    parsed: ParsedResponse, later: list[dict[str, Any]], read: dict[str, str | None], wrapper: str
) -> Conversation:
    """What the outcome scorer reads of a conversation: was a tool response given, the final answer in
    words (the last model turn, when it calls no program), and the files after the writes."""
    toolled = any(t.get("role") == "tool" for t in parsed.turns)
    final = str(later[-1].get("content") or "") if later else (parsed.visible_text if not toolled else "")
    answered = bool(later) and not programs_in(final, wrapper) and bool(final.strip())
    return Conversation(tool_response_given=toolled, final_answer=final if answered else None, files=read)


def no_response(suite_ref: str, suite: Suite, prompt: Prompt, why: str, variant: str = "") -> PromptResult:
    """A prompt with nothing to score (nothing recorded for it): an error, never a zero."""
    return PromptResult(
        suite=suite_ref,
        suite_digest=suite.digest,
        id=prompt.id,
        category=prompt.category,
        scores=dict.fromkeys(SCORERS.names(), Fraction(0)),
        primary_scorer=suite.primary_scorer,
        passed=False,
        label="error",
        response=None,
        error=why,
        variant=variant,
    )
