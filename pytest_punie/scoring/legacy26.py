"""The Phase 26 validation script's scorer, exactly as it scored.

It read the raw generated text (in process, no server, no tool parser) and
looked for markers: a tool call is ``<tool_call>`` or a fenced JSON block;
field access is one of sixteen substrings anywhere in the text, in a call or
not. A query scores 1 or 0. Its quirks are kept on purpose: a direct answer
that shows a ```` ```json ```` example fails, and ``result.errors`` in prose
counts as field access. The strict scorer judges the intent.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from pytest_punie.scoring.legacy import LegacyExtraction
from pytest_punie.scoring.parse import CALL_CLOSE, CALL_OPEN, message_of, native_functions, raw_text_of, wrapper_code
from pytest_punie.suite.suitetypes import Expectation

TOOL_MARKERS = (CALL_OPEN, "```json")
FIELD_PATTERNS = (
    "result.error_count",
    "result.warning_count",
    "result.success",
    "result.errors",
    "result.violation_count",
    "result.fixable_count",
    "result.violations",
    "result.passed",
    "result.failed",
    "result.tests",
    ".errors[",
    ".violations[",
    ".tests[",
    "for error in result.errors",
    "for v in result.violations",
    "for test in result.tests",
)


def text_of(response: dict[str, Any] | None) -> str:
    """The text the script would have read: the raw generated text when the
    backend kept it; otherwise the served content with each served tool call
    written back as a ``<tool_call>`` around its arguments (a server only
    serves a call it parsed out of such a block)."""
    raw = raw_text_of(response)
    if raw is not None:
        return raw
    message = message_of(response)
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    for fn in native_functions(message):
        args = fn.get("arguments")
        try:
            decoded = json.loads(args) if isinstance(args, str) else args
        except ValueError:
            decoded = None
        body = wrapper_code(decoded, args if isinstance(args, str) else json.dumps(args))
        text += f"{CALL_OPEN}\n{body}\n{CALL_CLOSE}"
    return str(text)


def has_tool_marker(text: str) -> bool:
    """Phase 26's raw-text rule: a tool call marker anywhere in the answer."""
    return any(marker in text for marker in TOOL_MARKERS)


def field_patterns_in(text: str) -> list[str]:
    """Phase 26's raw-text rule: which result-field patterns the answer contains."""
    return [p for p in FIELD_PATTERNS if p in text]


def score_legacy26(response: dict[str, Any] | None, expect: Expectation) -> tuple[Fraction, LegacyExtraction]:
    """1 or 0 by the query type's rule; a missing response (transport error) scores 0.
    ``wrapped`` reports whether the text carried a tool-call marker."""
    if response is None:
        return Fraction(0), LegacyExtraction(False, "")
    text = text_of(response)
    tool = has_tool_marker(text)
    if expect.kind == "direct":
        ok = not tool
    elif expect.kind == "field_access":
        ok = tool and bool(field_patterns_in(text))
    else:
        ok = tool
    return Fraction(int(ok)), LegacyExtraction(tool, text)
