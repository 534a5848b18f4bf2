"""What one Code Mode program did when the sandbox ran it: typed data that the sandbox writes, the
outcome scorer reads and the results document keeps (no sandbox, no pytest, no mlx here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# how a program's run ended
ENDINGS = (
    "ran",  # to its end, no uncaught exception
    "runtime-error",  # an uncaught exception (the type and message kept)
    "timeout",  # a time, memory or recursion limit was hit
    "refused",  # a forbidden action: an import, open/eval/exec, a dunder walk, a path outside the workspace
    "crashed",  # the sandbox's worker died (the pool replaced it)
    "syntax-error",  # the program does not parse
    "tool-missing",  # a tool the program called cannot run on this machine (named): not the model's fault
)


@dataclass
class ToolCall:
    """One call of a sandbox function, as it happened."""

    tool: str
    """The sandbox function's name (``typecheck``)."""
    args: dict[str, Any]
    """Its arguments by parameter name, as the program passed them."""
    paths: list[str] = field(default_factory=list)
    """The workspace paths its path arguments resolve to ('' is the workspace's root), normalised."""
    absent: list[str] = field(default_factory=list)
    """Those of ``paths`` that did not exist in the workspace when the tool was called."""
    result: str = ""
    """A summary of what it returned (the result's repr, cut to a few hundred characters)."""
    error: str | None = None
    """The exception the tool raised into the program (``FileNotFoundError: ...``), if any."""
    cached: bool = False
    """Whether the same call on the same files had already run in this process (its result reused)."""
    seconds: float = 0.0
    """Wall time of the tool itself."""
    fields: dict[str, Any] = field(default_factory=dict)
    """The result's values by field path (``error_count``, ``violations[0].code``, ``violations.len``):
    what a suite's ``expect.answer.mentions`` resolves against."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return asdict(self)


@dataclass
class ProgramRun:
    """One program's run in the sandbox: how it ended, what it printed, every call it made."""

    ending: str
    """One of ``ENDINGS``."""
    stdout: str = ""
    """What the program printed (what production sends back as the tool response)."""
    exception: str | None = None
    """``Type: message`` of an uncaught exception, the limit hit, the refusal or the crash."""
    calls: list[ToolCall] = field(default_factory=list)
    """Every sandbox function it called, in order."""
    seconds: float = 0.0
    """Wall time of the whole run, tools included."""
    tool_seconds: float = 0.0
    """The part of it spent inside the tools (the rest is the sandbox's own overhead)."""
    workspace: str = ""
    """The workspace's name and digest the program ran against."""

    @property
    def ran(self) -> bool:
        """Whether the program ran to its end."""
        return self.ending == "ran"

    @property
    def exception_type(self) -> str | None:
        """The uncaught exception's type name (``NameError``), if any."""
        return self.exception.split(":", 1)[0].strip() if self.exception else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data, as the results document keeps it."""
        return {
            "ending": self.ending,
            "stdout": self.stdout,
            "exception": self.exception,
            "calls": [c.to_dict() for c in self.calls],
            "seconds": round(self.seconds, 4),
            "tool_seconds": round(self.tool_seconds, 4),
            "workspace": self.workspace,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgramRun:
        """A run as the document kept it."""
        return cls(
            ending=data["ending"],
            stdout=data.get("stdout", ""),
            exception=data.get("exception"),
            calls=[ToolCall(**c) for c in data.get("calls") or []],
            seconds=float(data.get("seconds") or 0.0),
            tool_seconds=float(data.get("tool_seconds") or 0.0),
            workspace=data.get("workspace", ""),
        )


@dataclass
class Conversation:
    """What a conversation after the tool left, as the outcome scorer reads it."""

    tool_response_given: bool
    """Whether a program's output went back to the model as a tool response."""
    final_answer: str | None
    """The model's last turn in words, when it calls no program (None: no answer followed)."""
    files: dict[str, str | None] = field(default_factory=dict)
    """The text of the files a state check reads, after every turn's writes (None: absent)."""
