"""What a program did in the sandbox, as people read it: its ending, each call with its arguments,
what it returned or raised, and what the program printed (the terminal's miss and the HTML's row);
and a conversation's later turns, the tool responses and what the model answered after them."""

from __future__ import annotations

from typing import Any


def _cut(text: str, width: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def execution_lines(details: dict[str, Any]) -> list[str]:
    """The sandbox's runs of one answer, a line per call (no lines when no program ran)."""
    runs = details.get("execution") or []
    outcome = details.get("outcome") or {}
    lines: list[str] = []
    for i, run in enumerate(runs, start=1):
        which = f" {i}" if len(runs) > 1 else ""
        ending = run["ending"] + (f" ({_cut(run['exception'], 200)})" if run.get("exception") else "")
        lines.append(f"program{which} in the sandbox ({run.get('workspace', '')}): {ending}, {run['seconds']:.2f} s")
        for call in run.get("calls") or []:
            args = ", ".join(f"{k}={v!r}" for k, v in call["args"].items())
            got = f"raised {call['error']}" if call.get("error") else f"-> {call.get('result', '')}"
            lines.append(f"  {call['tool']}({_cut(args, 120)}) {_cut(got)}" + (" [kept]" if call.get("cached") else ""))
        if run.get("stdout"):
            lines.append(f"  printed: {_cut(run['stdout'], 200)}")
    for problem in outcome.get("problems") or []:
        lines.append(f"outcome: {problem}")
    return lines


def transcript_lines(response: dict[str, Any] | None) -> list[str]:
    """A conversation's turns after the first, as sent and answered (no lines for a single turn)."""
    turns = ((response or {}).get("punie") or {}).get("turns") or []
    lines = []
    for turn in turns:
        tool = turn.get("role") == "tool"
        text = str(turn.get("content") or "")
        empty = "(the program printed nothing)" if tool else "(the model wrote nothing)"
        lines.append(f"{'tool response' if tool else 'the model'}: " + (empty if not text.strip() else _cut(text, 300)))
        if turn.get("error"):
            lines.append(f"  error: {_cut(turn['error'], 200)}")
    return lines
