"""What a data check sees: the lint's bounds, one example at its line, the end of a file, and
what a file (and the whole pass) remembers. Memory holds counters and 8-byte hashes of
queries, never the examples."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pytest_punie.datalint.findings import Finding
from pytest_punie.scoring.parse import parse_response
from pytest_punie.scoring.program import ProgramAnalysis, analyze_program
from pytest_punie.toolsurface import ToolSurface, load_surface


@dataclass
class LintConfig:
    """The lint's pre-registered bounds (tool share, calls per tool, field access, near-copies, length)."""

    tool_share: tuple[float, float] = (0.10, 0.80)
    min_tool_examples: int = 5  # fewer calls of a tool than this (in train) is flagged
    min_field_access: float = 0.5  # share of typed-tool programs that read a result field
    similarity: float = 0.85  # eval near-copy threshold (difflib ratio)
    max_seq_length: int = 2048
    eval_queries: tuple[str, ...] = ()
    eval_system_prompts: tuple[str, ...] = ()  # the system prompts of the suites the data serves
    tokenizer: str | None = None  # a tokenizer.json for the length check
    surface: ToolSurface = field(default_factory=load_surface)


def query_hash(text: str) -> bytes:
    """A query as the lint remembers it: 8 bytes, case and surrounding space ignored."""
    return hashlib.blake2b(text.strip().lower().encode(), digest_size=8).digest()


class FileMemory:
    """What one file's checks remember between its examples: only sizes and hashes."""

    def __init__(self) -> None:
        self.examples = 0
        self.tool_examples = 0
        self.tool_counts: Counter[str] = Counter()
        self.typed_programs = 0
        self.typed_with_fields = 0
        self.system_prompts: dict[str, int] = {}  # prompt -> first line (few variants expected)
        self.queries: dict[bytes, int] = {}
        self.think_assistant = 0
        self.assistant_turns = 0


class PassMemory:
    """What the whole pass (train, then valid and test) remembers, and the findings it made."""

    def __init__(self, config: LintConfig):
        self.cfg = config
        self.findings: list[Finding] = []
        self.tokenizer: Any = None
        if config.tokenizer:
            from tokenizers import Tokenizer

            self.tokenizer = Tokenizer.from_file(config.tokenizer)
        self.eval = [(q, q.strip().lower()) for q in config.eval_queries]
        self.eval_hashes = {query_hash(q): q for q in config.eval_queries}
        self.train_queries: set[bytes] = set()

    def add(self, check: str, severity: str, path: Path, line: int | None, message: str) -> None:
        """Records one finding."""
        self.findings.append(Finding(check, severity, str(path), line, message))


@dataclass(frozen=True)
class CallReading:
    """One tool call an assistant turn wrote, read once for every check that looks at calls."""

    message: int  # the turn's index in the example
    kind: str  # unparsed (a marker, no call), unclosed, outside (not the wrapper), syntax, program
    name: str = ""  # the called name (outside)
    error: str = ""  # the program's syntax error (syntax)
    program: ProgramAnalysis | None = None  # the Code Mode program (program)


def read_calls(message: int, content: str, surface: ToolSurface) -> list[CallReading]:
    """The calls of one assistant turn that carries a ``<tool_call>`` marker."""
    parsed = parse_response({"choices": [{"message": {"content": content}}]})
    if not parsed.calls:
        return [CallReading(message, "unparsed")]
    out = []
    for call in parsed.calls:
        if not call.complete:
            out.append(CallReading(message, "unclosed"))
        elif call.name != surface.wrapper:
            out.append(CallReading(message, "outside", name=call.name))
        else:
            prog = analyze_program(call.code or "", surface)
            if prog.syntax_error:
                out.append(CallReading(message, "syntax", error=prog.syntax_error))
            else:
                out.append(CallReading(message, "program", program=prog))
    return out


@dataclass
class Example:
    """One example at its line, as every data check sees it."""

    lint: PassMemory
    file: FileMemory
    path: Path
    line: int
    split: str  # train, valid or test
    obj: Any  # the line's JSON
    messages: list[dict[str, Any]] | None = None  # read by the format check; None when unreadable

    def add(self, check: str, message: str, severity: str = "error") -> None:
        """Records a finding of ``check`` at this example's line."""
        self.lint.add(check, severity, self.path, self.line, message)

    @property
    def turns(self) -> list[dict[str, Any]]:
        """The example's messages (every check after the format check runs on a readable example)."""
        return self.messages or []

    @cached_property
    def query(self) -> str | None:
        """The first user message: what duplicates, leaks and contamination are judged on."""
        for m in self.turns:
            if m.get("role") == "user" and isinstance(m.get("content"), str):
                return str(m["content"])
        return None

    @cached_property
    def query_key(self) -> bytes:
        """The first user message's hash (``query_hash``), computed once for the checks that compare queries."""
        return query_hash(self.query or "")

    @cached_property
    def calls(self) -> list[CallReading]:
        """Every tool call the assistant turns write, in order, read once."""
        surface = self.lint.cfg.surface
        return [
            reading
            for i, m in enumerate(self.turns)
            if m.get("role") == "assistant" and isinstance(m.get("content"), str) and "<tool_call>" in m["content"]
            for reading in read_calls(i, m["content"], surface)
        ]


@dataclass
class FileEnd:
    """A file once every example was seen: the checks that need the whole file."""

    lint: PassMemory
    file: FileMemory
    path: Path
    split: str

    def add(self, check: str, message: str, severity: str = "error") -> None:
        """Records a finding of ``check`` about the whole file (no line)."""
        self.lint.add(check, severity, self.path, None, message)
