"""One training example as chat messages, from either mlx-lm data format.

mlx-lm trains on ``{"messages": [...]}`` and on ``{"text": "..."}`` whose text
is the rendered ChatML chat. Four of the users' real datasets are ``text``;
reading those as opaque hid every content check, so both formats become the
same list of messages here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
ROLES = ("system", "user", "assistant", "tool")


class ExampleFormatError(ValueError):
    """The example is neither a messages list nor ChatML text."""


def chatml_messages(text: str) -> tuple[list[dict[str, str]], bool]:
    """The turns of ChatML text, and whether the last turn was closed with
    ``<|im_end|>``. Raises ExampleFormatError saying where it cannot be read."""
    messages: list[dict[str, str]] = []
    pos, n = 0, len(text)
    closed = True
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            break
        if not text.startswith(IM_START, pos):
            raise ExampleFormatError(f"text outside a turn at character {pos}: {text[pos : pos + 40]!r}")
        head = pos + len(IM_START)
        newline = text.find("\n", head)
        role = text[head:newline] if newline >= 0 else text[head : head + 20]
        if newline < 0 or role not in ROLES:
            raise ExampleFormatError(
                f"turn {len(messages)}: {IM_START} is followed by {role!r}, not a role and a newline"
            )
        end = text.find(IM_END, newline + 1)
        nxt = text.find(IM_START, newline + 1)
        if nxt >= 0 and (end < 0 or nxt < end):
            raise ExampleFormatError(f"turn {len(messages)} ({role}) is not closed with {IM_END} before the next turn")
        if end < 0:
            messages.append({"role": role, "content": text[newline + 1 :]})
            closed = False
            break
        messages.append({"role": role, "content": text[newline + 1 : end]})
        pos = end + len(IM_END)
    if not messages:
        raise ExampleFormatError("no <|im_start|>role ... <|im_end|> turn in the text")
    return messages, closed


def example_messages(obj: Any) -> list[dict[str, Any]]:
    """The messages of one JSONL example (``messages`` or ChatML ``text``)."""
    if isinstance(obj, dict) and "messages" in obj:
        messages = obj["messages"]
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise ExampleFormatError('"messages" must be a non-empty list of objects')
        return messages
    if isinstance(obj, dict) and "text" in obj:
        if not isinstance(obj["text"], str) or not obj["text"].strip():
            raise ExampleFormatError('"text" is empty')
        return list(chatml_messages(obj["text"])[0])
    raise ExampleFormatError('expected an object with "messages" (or "text")')


def assistant_turns(path: Path) -> Iterator[tuple[int, int, str]]:
    """(line, message index, content) of every assistant turn of a JSONL file;
    lines that cannot be read are skipped (the data lint reports them)."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                messages = example_messages(json.loads(raw))
            except (ValueError, RecursionError):
                continue
            for i, m in enumerate(messages):
                if m.get("role") == "assistant" and isinstance(m.get("content"), str):
                    yield lineno, i, m["content"]


def first_tool_example(directories: list[Path], with_response: bool = True) -> list[dict[str, Any]] | None:
    """The first training example (``messages`` format) whose first answer is a
    tool call, from each directory's train.jsonl in turn; with ``with_response``,
    preferably one that also carries a tool response."""
    first = None
    for directory in directories:
        train = directory / "train.jsonl"
        if not train.is_file():
            continue
        with open(train, encoding="utf-8") as fh:
            for line in fh:
                msgs = json.loads(line).get("messages") or []
                if len(msgs) >= 3 and "<tool_call>" in str(msgs[2].get("content")):
                    if not with_response or "<tool_response>" in line:
                        return list(msgs)
                    first = first or list(msgs)
    return first
