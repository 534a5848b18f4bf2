"""What the serving path did with each response, from the response alone.

A backend that keeps the generated text (``punie.raw_text``) lets us count
the tool calls the model wrote and compare them with the ``tool_calls`` the
client was served. Without the raw text a drop is only visible as
``finish_reason: tool_calls`` with no call served; what the model wrote is
then unknown, and is said to be.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pytest_punie.programrun import ProgramRun
from pytest_punie.scoring import score_response
from pytest_punie.scoring.parse import (
    CALL_CLOSE,
    CALL_OPEN,
    finish_reason_of,
    message_of,
    raw_text_of,
    split_sections,
)
from pytest_punie.suite.suitetypes import Prompt
from pytest_punie.toolsurface import ToolSurface

PARSED = "parsed"  # every call the model wrote reached the client as tool_calls (or there were none to parse)
DROPPED = "dropped"  # the model wrote calls the client never saw
NO_CALL = "no-call"  # the model wrote no tool call
UNCLOSED = "unclosed"  # the model's only calls never reached </tool_call> (its fault, not the server's)
UNAVAILABLE = "raw-unavailable"  # no raw text: whether a call was dropped cannot be told
STATUSES = (PARSED, DROPPED, NO_CALL, UNCLOSED, UNAVAILABLE)


def _served_calls(message: dict[str, Any]) -> int:
    calls = message.get("tool_calls")
    return len(calls) if isinstance(calls, list) else 0


def served_status(response: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"status", "written", "served"}``: complete calls the model wrote
    (closed ``<tool_call>`` sections of the raw text; None when unknown) and
    calls the client got. None for no response at all."""
    if not isinstance(response, dict):
        return None
    message = message_of(response)
    served = _served_calls(message)
    raw = raw_text_of(response)
    if raw is None:
        content = message.get("content")
        evident_drop = not served and not content and finish_reason_of(response) == "tool_calls"
        return {"status": DROPPED if evident_drop else UNAVAILABLE, "written": None, "served": served}
    _, sections = split_sections(raw, CALL_OPEN, CALL_CLOSE)
    written = sum(1 for _, closed in sections if closed)
    if not sections:
        status = NO_CALL
    elif not written:
        status = UNCLOSED  # the model stopped inside its call: no parser could serve it
    elif served >= written:
        status = PARSED
    elif served == 0 and isinstance(message.get("content"), str) and CALL_OPEN in message["content"]:
        status = PARSED  # no tool parser: the server returns the calls as content, unchanged
    else:
        status = DROPPED
    return {"status": status, "written": written, "served": served}


def as_written(response: dict[str, Any]) -> dict[str, Any]:
    """The response as the model wrote it: the raw text as the message's
    content, nothing parsed out. Scoring it shows what a drop cost."""
    raw = raw_text_of(response)
    out = dict(response)
    choices = list(response.get("choices") or [{}])
    first = dict(choices[0]) if isinstance(choices[0], dict) else {}
    first["message"] = {"role": "assistant", "content": raw}
    out["choices"] = [first, *choices[1:]]
    return out


def serving_record(
    response: dict[str, Any] | None, prompt: Prompt, surface: ToolSurface, runs: tuple[ProgramRun, ...] | None = None
) -> dict[str, Any] | None:
    """``served_status``, and for a drop whose raw text is known, what it cost:
    each scorer on the response as the model wrote it (``scores_as_written``; the programs written
    are the ones the sandbox ran, ``runs``)."""
    served = served_status(response)
    if response is not None and served is not None and served["status"] == DROPPED and served["written"]:
        scores = score_response(as_written(response), prompt, surface, runs=runs).scores
        served["scores_as_written"] = {k: str(v) for k, v in scores.items()}
    return served


def depends_on_drop(served: dict[str, Any] | None, scores: dict[str, Fraction], scorer: str) -> bool:
    """True when the serving path dropped calls and ``scorer``'s score would
    differ had they been served, or when what was dropped is unknown."""
    if not served or served.get("status") != DROPPED:
        return False
    as_written_scores = served.get("scores_as_written")
    if not as_written_scores:
        return True  # the raw text is unavailable: the cost of the drop cannot be measured
    return Fraction(as_written_scores[scorer]) != scores[scorer]
