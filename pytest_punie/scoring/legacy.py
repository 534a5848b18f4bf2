"""The legacy keyword scorer, exactly as the Phase 33 script scored.

Every historical number was measured with it, quirks included (substring
matching, 0.5 for an unwrapped mention, only the first native call), so it
must agree to the last digit. Scores are exact fractions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pytest_punie.scoring.parse import WRAPPER, message_of, native_functions, wrapper_code
from pytest_punie.suite.suitetypes import Expectation

_LEGACY_PATTERN = re.compile(
    r"<tool_call>\s*<function=execute_code>\s*<parameter=code>\s*(.*?)\s*(?:</parameter>|$)", re.DOTALL
)

FULL = Fraction(1)
UNWRAPPED_MENTION = Fraction(1, 2)
WRAPPED_WRONG = Fraction(1, 10)
WRAPPER_BONUS = Fraction(1, 10)


@dataclass(frozen=True)
class LegacyExtraction:
    """What the historical Phase 33 script looked at: whether the answer was wrapped, and the text it searched."""

    wrapped: bool
    body: str


def legacy_extract(response: dict[str, Any] | None) -> LegacyExtraction:
    """The text the historical script searched, reproduced exactly."""
    message = message_of(response)
    for fn in native_functions(message):
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            continue
        raw = fn.get("arguments")
        raw_str = raw if isinstance(raw, str) else json.dumps(raw) if raw is not None else ""
        if name == WRAPPER:
            try:
                decoded = json.loads(raw_str) if isinstance(raw, str) else raw
            except ValueError:
                return LegacyExtraction(True, raw_str)
            return LegacyExtraction(True, wrapper_code(decoded, raw_str))
        return LegacyExtraction(False, name + "\n" + raw_str)
    content = message.get("content")
    content = content if isinstance(content, str) else ""
    m = _LEGACY_PATTERN.search(content)
    if m:
        return LegacyExtraction(True, m.group(1))
    return LegacyExtraction(False, content)


def score_legacy(response: dict[str, Any] | None, expect: Expectation) -> tuple[Fraction, LegacyExtraction]:
    """Score one response; a missing response (transport error) scores 0."""
    if response is None:
        return Fraction(0), LegacyExtraction(False, "")
    ext = legacy_extract(response)
    found = [kw for kw in expect.keywords if kw in ext.body]
    if expect.match == "all":
        score = Fraction(len(found), len(expect.keywords)) + (WRAPPER_BONUS if ext.wrapped else 0)
        return min(score, FULL), ext
    if ext.wrapped:
        return (FULL if found else WRAPPED_WRONG), ext
    return (UNWRAPPED_MENTION if found else Fraction(0)), ext
