"""One failure-mode label per response: the column users wrote by hand."""

from __future__ import annotations

from pytest_punie.scoring.parse import ParsedResponse, control_tokens
from pytest_punie.scoring.strict import StrictResult
from pytest_punie.suite.suitetypes import Expectation

LABELS = (
    "wrapped-correct",
    "direct-answer",
    "needless-call",
    "fields-not-read",
    "wrapped-partial",
    "wrapped-wrong-tool",
    "hallucinated-tool",
    "bad-field",
    "sandbox-violation",
    "syntax-error",
    "direct-call",
    "prose",
    "think-unclosed",
    "truncated",
    "unclosed-call",
    "control-token-leak",
    "empty",
    "unknown",
    "error",
    "timeout",  # cut by its own time limit (or, for the outcome scorer, a program that hit a sandbox limit)
    # the outcome scorer's: what the program did when the sandbox ran it
    "ran-correct",
    "ran-partial",
    "wrong-argument",
    "wrong-tool",
    "runtime-error",
    "refused",
    "crashed",
    "tool-missing",
    # and after the tool (a conversation of more than one turn)
    "state-wrong",
    "answer-missing",
    "answer-wrong",
)


def failure_label(parsed: ParsedResponse | None, strict: StrictResult, expect: Expectation) -> str:
    """What went wrong with an answer, named (prose, wrong tool, unclosed think, ...), or that it was right."""
    if parsed is None:
        return "error"
    if control_tokens(parsed.content):
        return "control-token-leak"  # the model wrote past the end of its turn
    if expect.direct and (parsed.calls or strict.fenced_calls):
        return "needless-call"  # a tool was called (or a call written out) where words were the answer
    if expect.direct and parsed.visible_text:
        return "direct-answer"
    if not parsed.calls and not parsed.visible_text:
        if not parsed.raw_available and (parsed.finish_reason == "tool_calls" or parsed.content_null):
            # the server sent nothing and kept no raw text: a dropped call looks like this; never guess
            return "unknown"
        if parsed.think_unclosed:
            return "think-unclosed"
        return "empty" if not parsed.content.strip() or parsed.think_closed else "prose"
    if strict.wrapped_calls:
        if strict.syntax_error:
            return "syntax-error"
        if strict.unknown_names:
            return "hallucinated-tool"
        if strict.imports:
            return "sandbox-violation"
        if strict.bad_fields:
            return "bad-field"
        if strict.expected_found and len(strict.expected_found) == len(expect.tools):
            return "wrapped-correct"
        if strict.expected_found and expect.match == "any":
            return "wrapped-correct"
        if strict.expected_found:
            return "wrapped-partial"
        if strict.fields_missing:
            return "fields-not-read"  # the right tool, but its result's fields never read in the program
        return "wrapped-wrong-tool"
    if strict.incomplete_calls:
        # cut off by max_tokens, or the model itself stopped inside the call
        return "truncated" if parsed.finish_reason == "length" else "unclosed-call"
    if strict.direct_calls:
        return "direct-call"
    if parsed.think_unclosed:
        return "think-unclosed"
    return "prose"
