"""Turn an OpenAI chat completion into the tool calls a model made.

Handles every wire format Punie models emit: Code Mode format A
(``<function=execute_code><parameter=code>``), format B (code directly in
``<tool_call>``), JSON inside ``<tool_call>``, native ``tool_calls`` (all of
them), ``<think>`` blocks closed or not, and output cut off mid-call.
Model output is only read, never executed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

WRAPPER = "execute_code"

_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"
CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
_FUNCTION = re.compile(r"^\s*<function=([^>\s]+)>\s*(.*?)\s*(</function>\s*)?$", re.DOTALL)
_PARAM = re.compile(r"<parameter=([^>\s]+)>\n?(.*?)(?:\n?</parameter>|(?=<parameter=)|$)", re.DOTALL)


@dataclass(frozen=True)
class ToolCall:
    """One call as the model wrote it.

    ``code`` is set when the call is the wrapper (the program to run);
    ``complete`` is False when the output stopped inside the call.
    """

    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str
    source: str  # native | format_a | format_b | json
    complete: bool = True
    code: str | None = None

    @property
    def wrapped(self) -> bool:
        """Whether the call is the Code Mode wrapper (execute_code)."""
        return self.name == WRAPPER


@dataclass(frozen=True)
class ParsedResponse:
    """An answer parsed once: visible text, think blocks and tool calls, for every scorer."""

    content: str
    visible_text: str  # content outside think blocks and tool calls
    calls: tuple[ToolCall, ...]
    think_opened: bool
    think_closed: bool
    finish_reason: str | None
    malformed: tuple[str, ...] = field(default=())
    raw_available: bool = False  # the generated text itself was kept (punie.raw_text)
    content_null: bool = False  # the served message's content was null
    turns: tuple[dict[str, Any], ...] = ()  # a conversation's later turns (punie.turns): tool responses, model turns

    @property
    def think_unclosed(self) -> bool:
        """A <think> block never closed: the model thought until it ran out."""
        return self.think_opened and not self.think_closed

    @property
    def truncated(self) -> bool:
        """Cut by the token budget, or a tool call never closed."""
        return self.finish_reason == "length" or any(not c.complete for c in self.calls)


def message_of(response: dict[str, Any] | None) -> dict[str, Any]:
    """``choices[0].message`` or an empty message; never raises on odd JSON."""
    if not isinstance(response, dict):
        return {}
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return {}
    msg = choices[0].get("message")
    return msg if isinstance(msg, dict) else {}


def finish_reason_of(response: dict[str, Any] | None) -> str | None:
    """Why generation stopped, as the response says."""
    if not isinstance(response, dict):
        return None
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        reason = choices[0].get("finish_reason")
        return reason if isinstance(reason, str) else None
    return None


def wrapper_code(arguments: Any, raw: str) -> str:
    """The program inside a wrapper call's arguments: ``code``, else ``python``,
    else the first string value; undecodable arguments are the program."""
    if isinstance(arguments, dict):
        for key in ("code", "python"):
            if isinstance(arguments.get(key), str):
                return arguments[key]
        for value in arguments.values():
            if isinstance(value, str):
                return value
        return ""
    return raw


def _decode(raw: Any) -> tuple[dict[str, Any] | None, str]:
    if isinstance(raw, dict):
        return raw, json.dumps(raw)
    if not isinstance(raw, str):
        return None, "" if raw is None else str(raw)
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None, raw
    return (value if isinstance(value, dict) else None), raw


def native_functions(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Each served tool call's function object (``name``, ``arguments``), nested under
    ``function`` as OpenAI sends it or flat; entries that are not objects are skipped."""
    entries = message.get("tool_calls")
    return [
        entry["function"] if isinstance(entry.get("function"), dict) else entry
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
    ]


def _native_calls(message: dict[str, Any]) -> list[ToolCall]:
    out = []
    for fn in native_functions(message):
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            continue
        args, raw = _decode(fn.get("arguments"))
        code = wrapper_code(args, raw) if name == WRAPPER else None
        out.append(ToolCall(name=name, arguments=args, raw_arguments=raw, source="native", code=code))
    return out


def _split_think(text: str) -> tuple[str, bool, bool]:
    """Remove think blocks; return (text outside them, opened, closed)."""
    outside, sections = split_sections(text, _THINK_OPEN, _THINK_CLOSE)
    opened, closed = bool(sections), bool(sections) and sections[-1][1]
    # a stray </think> with no opener (the template may have opened it)
    if not opened and _THINK_CLOSE in outside:
        return outside.split(_THINK_CLOSE, 1)[1], True, True
    return outside, opened, closed


def call_from_block(body: str, complete: bool) -> ToolCall:
    """One ``<tool_call>`` section's body as the call it is (format A, JSON or format B)."""
    stripped = body.strip()
    fm = _FUNCTION.match(stripped)
    if fm:
        name, inner = fm.group(1), fm.group(2)
        params = {m.group(1): m.group(2) for m in _PARAM.finditer(inner)}
        complete = complete and fm.group(3) is not None
        raw = json.dumps(params)
        code = wrapper_code(params, inner) if name == WRAPPER else None
        return ToolCall(name=name, arguments=params, raw_arguments=raw, source="format_a", complete=complete, code=code)
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            args, raw = _decode(obj.get("arguments", obj.get("parameters")))
            name = obj["name"]
            code = wrapper_code(args, raw) if name == WRAPPER else None
            return ToolCall(name=name, arguments=args, raw_arguments=raw, source="json", complete=complete, code=code)
    return ToolCall(
        name=WRAPPER,
        arguments={"code": stripped},
        raw_arguments=stripped,
        source="format_b",
        complete=complete,
        code=stripped,
    )


def split_sections(text: str, start: str, end: str) -> tuple[str, list[tuple[str, bool]]]:
    """The text outside ``start``...``end`` sections, and each section's body
    with whether it closed (a section left open runs to the end of the text)."""
    outside: list[str] = []
    sections: list[tuple[str, bool]] = []
    pos = 0
    while True:
        i = text.find(start, pos)
        if i < 0:
            outside.append(text[pos:])
            break
        outside.append(text[pos:i])
        body = i + len(start)
        j = text.find(end, body)
        if j < 0:
            sections.append((text[body:], False))
            break
        sections.append((text[body:j], True))
        pos = j + len(end)
    return "".join(outside), sections


def _text_calls(text: str) -> tuple[list[ToolCall], str]:
    visible, sections = split_sections(text, CALL_OPEN, CALL_CLOSE)
    return [call_from_block(body, complete=closed) for body, closed in sections], visible


def raw_text_of(response: dict[str, Any] | None) -> str | None:
    """The generated text itself, when the backend kept it (``punie.raw_text``).

    A server parses tool calls out of the text and silently drops one it
    cannot parse (mlx_lm server does, for a call cut off mid-generation);
    the raw text still shows what the model wrote."""
    if isinstance(response, dict) and isinstance(response.get("punie"), dict):
        raw = response["punie"].get("raw_text")
        return raw if isinstance(raw, str) else None
    return None


def written_text(response: dict[str, Any] | None) -> str:
    """What the model wrote, for people to read: the raw text when the backend kept
    it (a call the server dropped is in it), else the served content and tool calls."""
    raw = raw_text_of(response)
    if raw is not None:
        return raw
    message = message_of(response)
    text = str(message.get("content") or "")
    if message.get("tool_calls"):
        text += ("\n" if text else "") + "[served tool_calls] " + json.dumps(message["tool_calls"], ensure_ascii=False)
    return text


def parse_response(response: dict[str, Any] | None) -> ParsedResponse:
    """Parses an answer from its raw text where kept (a dropped call is in it), else the served message."""
    message = message_of(response)
    content_null = message.get("content") is None
    raw = raw_text_of(response)
    if raw is not None:
        message = {"role": "assistant", "content": raw}
    content = message.get("content")
    content = content if isinstance(content, str) else ""
    outside, opened, closed = _split_think(content)
    text_calls, visible = _text_calls(outside)
    calls = _native_calls(message) + text_calls
    return ParsedResponse(
        content=content,
        visible_text=visible.strip(),
        calls=tuple(calls),
        think_opened=opened,
        think_closed=closed,
        finish_reason=finish_reason_of(response),
        raw_available=raw is not None,
        content_null=content_null,
        turns=tuple(((response or {}).get("punie") or {}).get("turns") or ()),
    )


_FENCED_JSON = re.compile(r"```json\s*\n(.*?)```", re.DOTALL)


def fenced_call_names(text: str) -> list[str]:
    """Names of calls written as fenced JSON blocks (```` ```json {"name": ...} ```` ):
    the shape of a tool call, but nothing runs it. A block that is not such an
    object (an example payload, a config) is not one."""
    names = []
    for m in _FENCED_JSON.finditer(text):
        try:
            obj = json.loads(m.group(1))
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and isinstance(obj.get("name"), str) and ("arguments" in obj or "parameters" in obj):
            names.append(obj["name"])
    return names


CONTROL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")


def control_tokens(text: str) -> list[str]:
    """Chat control tokens inside generated text: the model wrote past the end of its turn."""
    return [t for t in CONTROL_TOKENS if t in text]


def programs_of(parsed: ParsedResponse, wrapper: str) -> list[str]:
    """The complete Code Mode programs of a parsed answer: what the sandbox runs."""
    return [c.code or "" for c in parsed.calls if c.complete and c.name == wrapper]


def programs_in(text: str, wrapper: str) -> list[str]:
    """The complete Code Mode programs of one assistant turn's text (a conversation's later turn)."""
    return programs_of(parse_response({"choices": [{"message": {"role": "assistant", "content": text}}]}), wrapper)
