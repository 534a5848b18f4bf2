"""The conversation after the tool: each program the model writes is run in the sandbox, its printed
output goes back as a ``<tool_response>`` user turn (the training data's form), and the model
continues, up to the suite's ``max_turns``. Turn by turn, every open conversation of a batch is asked
together, through the same path as the first turn (response cache, any backend)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_punie.backends import ChatRequest, ResponseRecord
from pytest_punie.scoring.parse import message_of, programs_in, raw_text_of
from pytest_punie.suite.suitetypes import Suite

Answer = Callable[[list[ChatRequest]], list[ResponseRecord]]


def tool_response_turn(output: str, role: str = "user") -> dict[str, str]:
    """The turn that carries a program's output back: a user turn as the training data writes it, or
    (``role="tool"``) a message of the chat template's tool role, which the template wraps itself."""
    text = output.rstrip("\n")
    if role == "tool":
        return {"role": "tool", "content": text}
    return {"role": "user", "content": f"<tool_response>\n{text}\n</tool_response>"}


def output_of(runs: tuple[Any, ...]) -> str:
    """What production sends back for a turn's programs: what they printed, then an uncaught
    exception's (or a limit's, or a refusal's) message."""
    parts = []
    for run in runs:
        if run.stdout:
            parts.append(run.stdout.rstrip("\n"))
        if run.exception:
            parts.append(run.exception)
    return "\n".join(parts)


def text_of(record: ResponseRecord) -> str:
    """The assistant turn's text as the model wrote it (the raw text where kept)."""
    raw = raw_text_of(record.response)
    return raw if raw is not None else str(message_of(record.response).get("content") or "")


@dataclass
class Conversation:
    """One prompt's conversation as it goes: its messages, its programs so far, its later turns."""

    request: ChatRequest
    first: ResponseRecord
    last: ResponseRecord
    messages: tuple[dict[str, str], ...]
    codes: list[str] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def continue_conversations(
    suite: Suite, requests: list[ChatRequest], records: list[ResponseRecord], answer: Answer
) -> list[ResponseRecord]:
    """Each answered first turn carried on to the suite's ``max_turns``; each record returned is the
    first turn's, with ``punie.turns`` holding every later turn (the tool responses and the model's
    turns) as the document keeps them. A conversation the sandbox cannot carry on is unanswered."""
    max_turns = int(suite.extra.get("max_turns", 1))
    if max_turns <= 1:
        return records
    from pytest_punie.toolsurface import load_surface

    wrapper = (load_surface(suite.tool_surface) if suite.tool_surface else load_surface()).wrapper
    talks = [Conversation(r, rec, rec, r.messages) for r, rec in zip(requests, records, strict=True)]
    open_ = [c for c in talks if c.first.error is None and c.first.response is not None]
    for turn in range(2, max_turns + 1):
        asks: list[tuple[Conversation, ChatRequest]] = []
        for talk in open_:
            ask = _next_request(suite, talk, wrapper, turn)
            if ask is not None:
                asks.append((talk, ask))
        if not asks:
            break
        for (talk, _), record in zip(asks, answer([a for _, a in asks]), strict=True):
            talk.last = record
            talk.turns.append(_assistant_turn(record))
            if record.error is not None:
                talk.error = f"turn {turn}: {record.error}"
        open_ = [t for t, _ in asks if t.error is None]
    return [_whole(t) for t in talks]


def _next_request(suite: Suite, talk: Conversation, wrapper: str, turn: int) -> ChatRequest | None:
    """The request for a conversation's next turn (None: its last turn called no program, it is done)."""
    from pytest_punie.results import run_for_suite

    text = text_of(talk.last)
    codes = programs_in(text, wrapper)
    if not codes:
        return None
    try:
        runs = run_for_suite(suite, [*talk.codes, *codes])
    except Exception as exc:  # the sandbox could not run it: the conversation cannot go on, named
        talk.error = f"turn {turn}: the program was not run: {exc}"
        return None
    output = output_of(runs[len(talk.codes) :])
    talk.codes += codes
    tool = tool_response_turn(output, str(suite.extra.get("tool_response_role", "user")))
    talk.turns.append({"role": "tool", "content": output})
    talk.messages = (*talk.messages, {"role": "assistant", "content": text}, tool)
    return ChatRequest(f"{talk.request.key}/turn{turn}", talk.messages, talk.request.sampling)


def _assistant_turn(record: ResponseRecord) -> dict[str, Any]:
    """A later model turn as the document keeps it."""
    punie = (record.response or {}).get("punie") or {}
    choice = ((record.response or {}).get("choices") or [{}])[0] or {}
    return {
        "role": "assistant",
        "content": text_of(record),
        "token_ids": punie.get("token_ids"),
        "finish_reason": choice.get("finish_reason"),
        "seconds": record.seconds,
        "error": record.error,
    }


def _whole(talk: Conversation) -> ResponseRecord:
    """The first turn's record carrying the conversation's later turns (and its error, if any)."""
    if not talk.turns:
        return talk.first
    response = dict(talk.first.response or {})
    response["punie"] = {**(response.get("punie") or {}), "turns": talk.turns}
    seconds = (talk.first.seconds or 0.0) + sum(t.get("seconds") or 0.0 for t in talk.turns)
    return ResponseRecord(response, error=talk.error, retries=talk.first.retries, seconds=seconds)
