"""The checks, run in one streaming pass over each file of a dataset.

A dataset is a directory with ``train.jsonl`` and ``valid.jsonl`` (and
optionally ``test.jsonl``) in mlx-lm's ``messages`` (or ``text``) format.
Each line is parsed once and handed to every check; memory holds only
counters and 8-byte hashes of queries, never the examples. Each check
stands for a defect the Punie team shipped once (see the reference notes).
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_punie.datalint.examples import ROLES, ExampleFormatError, chatml_messages
from pytest_punie.datalint.findings import Finding
from pytest_punie.scoring.parse import parse_response
from pytest_punie.scoring.program import analyze_program
from pytest_punie.toolsurface import ToolSurface, load_surface

CHECKS = {
    "format": "every line is JSON with a messages (or text) list",
    "structure": "roles in order, a final assistant turn, no empty content",
    "tool-share": "share of tool-calling examples within the band",
    "tool-responses": "no empty or placeholder tool responses",
    "code-parses": "every Code Mode program parses",
    "known-tools": "only tools the sandbox has are called (no _direct names)",
    "known-fields": "only result fields that exist are read",
    "coverage": "field access is taught, and every tool has enough examples",
    "system-prompt": "one system prompt, the one the eval suite uses",
    "duplicates": "no duplicate user queries within a split",
    "split-leak": "no validation/test query is also in train",
    "eval-contamination": "no eval query, or near-copy of one, in training data",
    "length": "examples fit the training max sequence length (model tokenizer)",
    "think": "<think> blocks used consistently and closed",
}

MAX_PROMPT_VARIANTS = 64  # system prompts remembered per file: memory stays bounded on any data
PLACEHOLDERS = ("[tool execution completed]", "[no output]", "[tool output]", "[result]", "...")
_TOOL_RESPONSE = re.compile(r"<tool_response>\s*(.*?)\s*(?:</tool_response>|$)", re.DOTALL)


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


def _h(text: str) -> bytes:
    return hashlib.blake2b(text.strip().lower().encode(), digest_size=8).digest()


def _first_user(messages: list[dict[str, Any]]) -> str | None:
    for m in messages:
        if m.get("role") == "user" and isinstance(m.get("content"), str):
            return m["content"]
    return None


class _State:
    """Per-file counters; only sizes and hashes, not examples."""

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


class Linter:
    """Walks a dataset line by line and collects located findings."""

    def __init__(self, config: LintConfig):
        self.cfg = config
        self.findings: list[Finding] = []
        self._tokenizer: Any = None
        if config.tokenizer:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(config.tokenizer)
        self._eval = [(q, q.strip().lower()) for q in config.eval_queries]
        self._eval_hashes = {_h(q): q for q in config.eval_queries}
        self.train_queries: set[bytes] = set()

    def add(self, check: str, severity: str, path: Path, line: int | None, message: str) -> None:
        """Records one finding."""
        self.findings.append(Finding(check, severity, str(path), line, message))

    # -- one example -------------------------------------------------------------------
    def example(self, st: _State, path: Path, line: int, obj: Any, split: str) -> None:
        """Checks one example (its format, roles, tool calls and Code Mode programs) at its line."""
        if not isinstance(obj, dict) or not ("messages" in obj or "text" in obj):
            self.add("format", "error", path, line, 'expected an object with "messages" (or "text")')
            return
        st.examples += 1
        if "text" in obj and "messages" not in obj:
            messages = self._chatml(path, line, obj["text"])
            if messages is None:
                return
        else:
            messages = obj["messages"]
            if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
                self.add("format", "error", path, line, '"messages" must be a non-empty list of objects')
                return
        self._structure(path, line, messages)
        self._system(st, path, line, messages)
        query = _first_user(messages)
        if query is not None:
            self._query(st, path, line, query, split)
        if self._turns(st, path, line, messages):
            st.tool_examples += 1
        if self._tokenizer is not None:
            n = sum(len(self._tokenizer.encode(str(m.get("content") or "")).ids) + 4 for m in messages)
            if n > self.cfg.max_seq_length:
                self.add(
                    "length",
                    "error",
                    path,
                    line,
                    f"{n} tokens, over the training max sequence length {self.cfg.max_seq_length} (truncated)",
                )

    def _turns(self, st: _State, path: Path, line: int, messages: list[dict[str, Any]]) -> bool:
        """Each turn's own checks (think blocks, tool calls, tool responses); whether the example calls a tool."""
        called = False
        for i, m in enumerate(messages):
            content = m.get("content")
            if not isinstance(content, str):
                continue
            if m.get("role") == "assistant":
                st.assistant_turns += 1
                if "<think>" in content:
                    st.think_assistant += 1
                    if "</think>" not in content:
                        self.add("think", "error", path, line, f"message {i}: <think> is never closed")
                if "<tool_call>" in content:
                    called = True
                    self._calls(st, path, line, i, content)
            elif "<tool_response>" in content or m.get("role") == "tool":
                body = _TOOL_RESPONSE.search(content)
                text = body.group(1) if body else content
                if not text.strip() or text.strip().lower() in PLACEHOLDERS:
                    self.add(
                        "tool-responses",
                        "error",
                        path,
                        line,
                        f"message {i}: empty or placeholder tool response {text.strip()[:40]!r}",
                    )
            if "<tool_result>" in content:
                self.add(
                    "tool-responses",
                    "error",
                    path,
                    line,
                    f"message {i}: <tool_result> is not the training format; use <tool_response>",
                )
        return called

    def _chatml(self, path: Path, line: int, text: Any) -> list[dict[str, Any]] | None:
        """mlx-lm's ``text`` format read into turns, so every check applies to it."""
        if not isinstance(text, str) or not text.strip():
            self.add("structure", "error", path, line, '"text" is empty')
            return None
        try:
            messages, closed = chatml_messages(text)
        except ExampleFormatError as exc:
            self.add("format", "error", path, line, f'"text" cannot be read as ChatML turns: {exc}')
            return None
        if not closed:
            self.add(
                "structure",
                "error",
                path,
                line,
                f"the last turn ({messages[-1]['role']}) is not closed with <|im_end|>: the model never learns to stop",
            )
        return list(messages)

    def _structure(self, path: Path, line: int, messages: list[dict[str, Any]]) -> None:
        roles = [m.get("role") for m in messages]
        bad = [r for r in roles if r not in ROLES]
        if bad:
            self.add("structure", "error", path, line, f"unknown role {bad[0]!r}")
            return
        if "system" in roles[1:]:
            self.add("structure", "error", path, line, "a system message after the first message")
        if roles[-1] != "assistant":
            self.add("structure", "error", path, line, f"the last message is {roles[-1]!r}, not 'assistant'")
        convo = [r for r in roles if r != "system"]
        if convo and convo[0] != "user":
            self.add("structure", "error", path, line, f"the conversation starts with {convo[0]!r}, not 'user'")
        for a, b in itertools.pairwise(convo):
            if a == b == "assistant":
                self.add("structure", "error", path, line, "two assistant messages in a row")
                break
        for i, m in enumerate(messages):
            c = m.get("content")
            if not isinstance(c, str) or not c.strip():
                self.add("structure", "error", path, line, f"message {i} ({m.get('role')}) has empty content")

    def _system(self, st: _State, path: Path, line: int, messages: list[dict[str, Any]]) -> None:
        if messages[0].get("role") == "system":
            prompt = str(messages[0].get("content") or "")
            if prompt not in st.system_prompts and len(st.system_prompts) < MAX_PROMPT_VARIANTS:
                st.system_prompts[prompt] = line
            wanted = self.cfg.eval_system_prompts
            if wanted and prompt.strip() not in {w.strip() for w in wanted}:
                if st.system_prompts.get(prompt) == line:  # report each differing variant once, at first use
                    closest = max(wanted, key=lambda w: difflib.SequenceMatcher(None, prompt, w).ratio())
                    self.add(
                        "system-prompt",
                        "error",
                        path,
                        line,
                        f"system prompt differs from the eval suite's system prompt{'s' if len(wanted) > 1 else ''}: "
                        f"{_diff_hint(prompt, closest)}",
                    )

    def _query(self, st: _State, path: Path, line: int, query: str, split: str) -> None:
        h = _h(query)
        if h in st.queries:
            self.add(
                "duplicates", "error", path, line, f"duplicate query (first at line {st.queries[h]}): {query[:60]!r}"
            )
        else:
            st.queries[h] = line
        if split == "train":
            self.train_queries.add(h)
        elif h in self.train_queries:
            self.add("split-leak", "error", path, line, f"{split} query also in train: {query[:60]!r}")
        if h in self._eval_hashes:
            self.add("eval-contamination", "error", path, line, f"eval query in training data: {query[:60]!r}")
        else:
            q = query.strip().lower()
            for original, ev in self._eval:
                sm = difflib.SequenceMatcher(None, q, ev, autojunk=False)
                if sm.real_quick_ratio() >= self.cfg.similarity and sm.quick_ratio() >= self.cfg.similarity:
                    r = sm.ratio()
                    if r >= self.cfg.similarity:
                        self.add(
                            "eval-contamination",
                            "error",
                            path,
                            line,
                            f"near-copy ({r:.2f}) of eval query {original!r}: {query[:60]!r}",
                        )

    def _calls(self, st: _State, path: Path, line: int, i: int, content: str) -> None:
        surface = self.cfg.surface
        parsed = parse_response({"choices": [{"message": {"content": content}}]})
        if not parsed.calls:
            self.add("code-parses", "error", path, line, f"message {i}: <tool_call> marker but no parseable call")
            return
        for call in parsed.calls:
            if not call.complete:
                self.add("code-parses", "error", path, line, f"message {i}: tool call is not closed")
                continue
            if call.name != surface.wrapper:
                known = call.name in surface.tools
                self.add(
                    "known-tools",
                    "error",
                    path,
                    line,
                    f"message {i}: {'direct call of ' if known else 'unknown tool '}{call.name!r} "
                    f"outside {surface.wrapper}",
                )
                continue
            prog = analyze_program(call.code or "", surface)
            if prog.syntax_error:
                self.add(
                    "code-parses", "error", path, line, f"message {i}: program does not parse: {prog.syntax_error}"
                )
                continue
            for name in sorted(set(prog.unknown_names)):
                hint = " (the sandbox has no _direct names)" if name.endswith("_direct") else ""
                self.add("known-tools", "error", path, line, f"message {i}: calls {name!r}, not in the sandbox{hint}")
            for bad in sorted(set(prog.bad_fields)):
                self.add("known-fields", "error", path, line, f"message {i}: reads {bad}, which does not exist")
            typed = [c.name for c in prog.calls if surface.tools[c.name].returns in surface.types]
            st.tool_counts.update(prog.tools_called)
            if typed:
                st.typed_programs += 1
                if prog.fields_read:
                    st.typed_with_fields += 1

    # -- whole files ---------------------------------------------------------------------
    def finish_file(self, st: _State, path: Path, split: str) -> None:
        """The per-file checks that need every example seen (tool share, calls per tool, field access)."""
        if not st.examples:
            self.add("format", "error", path, None, "no examples")
            return
        share = st.tool_examples / st.examples
        lo, hi = self.cfg.tool_share
        if not lo <= share <= hi:
            self.add(
                "tool-share",
                "error",
                path,
                None,
                f"{share:.1%} of examples call tools ({st.tool_examples}/{st.examples}); band is {lo:.0%}-{hi:.0%}",
            )
        wanted = {w.strip() for w in self.cfg.eval_system_prompts}
        if len(st.system_prompts) > 1 and not {p.strip() for p in st.system_prompts} <= wanted:
            lines = ", ".join(str(v) for v in sorted(st.system_prompts.values()))
            self.add(
                "system-prompt",
                "error",
                path,
                None,
                f"{len(st.system_prompts)}{'+' if len(st.system_prompts) >= MAX_PROMPT_VARIANTS else ''} "
                f"different system prompts (first used at lines {lines})",
            )
        if (
            st.think_assistant
            and st.think_assistant != st.assistant_turns
            and st.think_assistant / st.assistant_turns < 0.5
        ):
            self.add(
                "think",
                "warning",
                path,
                None,
                f"<think> in {st.think_assistant} of {st.assistant_turns} assistant turns: inconsistent",
            )
        if split == "train":
            if st.typed_programs and st.typed_with_fields / st.typed_programs < self.cfg.min_field_access:
                self.add(
                    "coverage",
                    "error",
                    path,
                    None,
                    f"only {st.typed_with_fields}/{st.typed_programs} typed-tool programs read a result field "
                    f"(minimum {self.cfg.min_field_access:.0%}): print(result) teaches nothing",
                )
            for tool in self.cfg.surface.tools:
                n = st.tool_counts.get(tool, 0)
                if n < self.cfg.min_tool_examples:
                    self.add(
                        "coverage",
                        "error",
                        path,
                        None,
                        f"{tool} is called in {n} examples (minimum {self.cfg.min_tool_examples})",
                    )


def _diff_hint(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"first difference at character {i}: {a[max(0, i - 15) : i + 25]!r}"
    return f"lengths differ ({len(a)} vs {len(b)} characters)"


def lint_dataset(directory: Path, config: LintConfig) -> list[Finding]:
    """Lint train, then valid and test (which are checked against train)."""
    linter = Linter(config)
    directory = Path(directory)
    splits = [s for s in ("train", "valid", "test") if (directory / f"{s}.jsonl").is_file()]
    if "train" not in splits:
        linter.add("format", "error", directory / "train.jsonl", None, "missing: a dataset needs train.jsonl")
        return linter.findings
    for split in splits:
        path = directory / f"{split}.jsonl"
        st = _State()
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError as exc:
                    linter.add("format", "error", path, lineno, f"not valid JSON: {exc}")
                    continue
                linter.example(st, path, lineno, obj, split)
        linter.finish_file(st, path, split)
    return linter.findings
