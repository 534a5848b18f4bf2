"""The built-in data checks: each stands for a defect the Punie team shipped once (see the
reference notes). A check is one function run on every example (``@data_check``) and, when it
needs the whole file, one more run at the end of each file (``@at_file_end``); a new check is a
decorated function and its tests. The data items (one pytest item per check) and their
descriptions are read from the registry (datalint/registry.py), in the order registered here."""

from __future__ import annotations

import difflib
import itertools
import re
from typing import Any

from pytest_punie.datalint.checkcontext import Example, FileEnd
from pytest_punie.datalint.checkregistry import at_file_end, data_check
from pytest_punie.datalint.examples import ROLES, ExampleFormatError, chatml_messages

MAX_PROMPT_VARIANTS = 64  # system prompts remembered per file: memory stays bounded on any data
PLACEHOLDERS = ("[tool execution completed]", "[no output]", "[tool output]", "[result]", "...")
_TOOL_RESPONSE = re.compile(r"<tool_response>\s*(.*?)\s*(?:</tool_response>|$)", re.DOTALL)


@data_check("format", "every line is JSON with a messages (or text) list")
def read_messages(ex: Example) -> None:
    """Reads the example into messages; what cannot be read is this check's finding (an empty or
    unclosed ChatML ``text`` is the structure check's), and no other check sees it."""
    obj = ex.obj
    if not isinstance(obj, dict) or not ("messages" in obj or "text" in obj):
        ex.add("format", 'expected an object with "messages" (or "text")')
        return
    ex.file.examples += 1
    if "text" in obj and "messages" not in obj:
        ex.messages = _chatml(ex, obj["text"])
        return
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        ex.add("format", '"messages" must be a non-empty list of objects')
        return
    ex.messages = messages


def _chatml(ex: Example, text: object) -> list[dict[str, Any]] | None:
    """mlx-lm's ``text`` format read into turns, so every check applies to it."""
    if not isinstance(text, str) or not text.strip():
        ex.add("structure", '"text" is empty')
        return None
    try:
        messages, closed = chatml_messages(text)
    except ExampleFormatError as exc:
        ex.add("format", f'"text" cannot be read as ChatML turns: {exc}')
        return None
    if not closed:
        ex.add(
            "structure",
            f"the last turn ({messages[-1]['role']}) is not closed with <|im_end|>: the model never learns to stop",
        )
    return list(messages)


@at_file_end("format")
def no_examples(end: FileEnd) -> None:
    """A file with no example (then nothing else about the file is judged)."""
    if not end.file.examples:
        end.add("format", "no examples")


@data_check("structure", "roles in order, a final assistant turn, no empty content")
def structure(ex: Example) -> None:
    """Roles known and in order, the conversation a user's to start and the assistant's to end."""
    roles = [m.get("role") for m in ex.turns]
    bad = [r for r in roles if r not in ROLES]
    if bad:
        ex.add("structure", f"unknown role {bad[0]!r}")
        return
    if "system" in roles[1:]:
        ex.add("structure", "a system message after the first message")
    if roles[-1] != "assistant":
        ex.add("structure", f"the last message is {roles[-1]!r}, not 'assistant'")
    convo = [r for r in roles if r != "system"]
    if convo and convo[0] != "user":
        ex.add("structure", f"the conversation starts with {convo[0]!r}, not 'user'")
    for a, b in itertools.pairwise(convo):
        if a == b == "assistant":
            ex.add("structure", "two assistant messages in a row")
            break
    for i, m in enumerate(ex.turns):
        c = m.get("content")
        if not isinstance(c, str) or not c.strip():
            ex.add("structure", f"message {i} ({m.get('role')}) has empty content")


@data_check("tool-share", "share of tool-calling examples within the band")
def count_tool_examples(ex: Example) -> None:
    """Counts the examples an assistant turn of which writes a tool call."""
    if ex.calls:  # every assistant turn with a <tool_call> marker gives at least one reading
        ex.file.tool_examples += 1


@at_file_end("tool-share")
def tool_share(end: FileEnd) -> None:
    """The share of tool-calling examples, against the pre-registered band."""
    st = end.file
    share = st.tool_examples / st.examples
    lo, hi = end.lint.cfg.tool_share
    if not lo <= share <= hi:
        end.add(
            "tool-share",
            f"{share:.1%} of examples call tools ({st.tool_examples}/{st.examples}); band is {lo:.0%}-{hi:.0%}",
        )


@data_check("tool-responses", "no empty or placeholder tool responses")
def tool_responses(ex: Example) -> None:
    """A tool response that says nothing, or one written in a format training does not use."""
    for i, m in enumerate(ex.turns):
        content = m.get("content")
        if not isinstance(content, str):
            continue
        if m.get("role") != "assistant" and ("<tool_response>" in content or m.get("role") == "tool"):
            body = _TOOL_RESPONSE.search(content)
            text = body.group(1) if body else content
            if not text.strip() or text.strip().lower() in PLACEHOLDERS:
                ex.add("tool-responses", f"message {i}: empty or placeholder tool response {text.strip()[:40]!r}")
        if "<tool_result>" in content:
            ex.add("tool-responses", f"message {i}: <tool_result> is not the training format; use <tool_response>")


@data_check("code-parses", "every Code Mode program parses")
def code_parses(ex: Example) -> None:
    """A call marker with no call, a call never closed, a program that does not parse."""
    for c in ex.calls:
        if c.kind == "unparsed":
            ex.add("code-parses", f"message {c.message}: <tool_call> marker but no parseable call")
        elif c.kind == "unclosed":
            ex.add("code-parses", f"message {c.message}: tool call is not closed")
        elif c.kind == "syntax":
            ex.add("code-parses", f"message {c.message}: program does not parse: {c.error}")


@data_check("known-tools", "only tools the sandbox has are called (no _direct names)")
def known_tools(ex: Example) -> None:
    """A call outside the Code Mode wrapper, or a program calling a name the sandbox lacks."""
    surface = ex.lint.cfg.surface
    for c in ex.calls:
        if c.kind == "outside":
            what = "direct call of " if c.name in surface.tools else "unknown tool "
            ex.add("known-tools", f"message {c.message}: {what}{c.name!r} outside {surface.wrapper}")
        elif c.program is not None:
            for name in sorted(set(c.program.unknown_names)):
                hint = " (the sandbox has no _direct names)" if name.endswith("_direct") else ""
                ex.add("known-tools", f"message {c.message}: calls {name!r}, not in the sandbox{hint}")


@data_check("known-fields", "only result fields that exist are read")
def known_fields(ex: Example) -> None:
    """A program reading a result field its tool's type does not have."""
    for c in ex.calls:
        if c.program is not None:
            for bad in sorted(set(c.program.bad_fields)):
                ex.add("known-fields", f"message {c.message}: reads {bad}, which does not exist")


@data_check("coverage", "field access is taught, and every tool has enough examples")
def count_coverage(ex: Example) -> None:
    """Counts each tool's calls and the typed-tool programs that read a result field."""
    surface = ex.lint.cfg.surface
    for c in ex.calls:
        if c.program is None:
            continue
        typed = [s.name for s in c.program.calls if surface.tools[s.name].returns in surface.types]
        ex.file.tool_counts.update(c.program.tools_called)
        if typed:
            ex.file.typed_programs += 1
            if c.program.fields_read:
                ex.file.typed_with_fields += 1


@at_file_end("coverage")
def coverage(end: FileEnd) -> None:
    """In train: enough programs read a result field, and every tool is called often enough."""
    if end.split != "train":
        return
    st, cfg = end.file, end.lint.cfg
    if st.typed_programs and st.typed_with_fields / st.typed_programs < cfg.min_field_access:
        end.add(
            "coverage",
            f"only {st.typed_with_fields}/{st.typed_programs} typed-tool programs read a result field "
            f"(minimum {cfg.min_field_access:.0%}): print(result) teaches nothing",
        )
    for tool in cfg.surface.tools:
        n = st.tool_counts.get(tool, 0)
        if n < cfg.min_tool_examples:
            end.add("coverage", f"{tool} is called in {n} examples (minimum {cfg.min_tool_examples})")


@data_check("system-prompt", "one system prompt, the one the eval suite uses")
def system_prompt(ex: Example) -> None:
    """A system prompt other than the suites' (said once per variant, at its first use)."""
    first = ex.turns[0]
    if first.get("role") != "system":
        return
    st, prompt = ex.file, str(first.get("content") or "")
    if prompt not in st.system_prompts and len(st.system_prompts) < MAX_PROMPT_VARIANTS:
        st.system_prompts[prompt] = ex.line
    wanted = ex.lint.cfg.eval_system_prompts
    if wanted and prompt.strip() not in {w.strip() for w in wanted} and st.system_prompts.get(prompt) == ex.line:
        closest = max(wanted, key=lambda w: difflib.SequenceMatcher(None, prompt, w).ratio())
        ex.add(
            "system-prompt",
            f"system prompt differs from the eval suite's system prompt{'s' if len(wanted) > 1 else ''}: "
            f"{_diff_hint(prompt, closest)}",
        )


@at_file_end("system-prompt")
def system_prompts(end: FileEnd) -> None:
    """Several system prompts in one file, beyond the suites' own variants."""
    st = end.file
    wanted = {w.strip() for w in end.lint.cfg.eval_system_prompts}
    if len(st.system_prompts) > 1 and not {p.strip() for p in st.system_prompts} <= wanted:
        lines = ", ".join(str(v) for v in sorted(st.system_prompts.values()))
        end.add(
            "system-prompt",
            f"{len(st.system_prompts)}{'+' if len(st.system_prompts) >= MAX_PROMPT_VARIANTS else ''} "
            f"different system prompts (first used at lines {lines})",
        )


def _diff_hint(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"first difference at character {i}: {a[max(0, i - 15) : i + 25]!r}"
    return f"lengths differ ({len(a)} vs {len(b)} characters)"


@data_check("duplicates", "no duplicate user queries within a split")
def duplicates(ex: Example) -> None:
    """A query asked twice in one file."""
    if ex.query is None:
        return
    h = ex.query_key
    if h in ex.file.queries:
        ex.add("duplicates", f"duplicate query (first at line {ex.file.queries[h]}): {ex.query[:60]!r}")
    else:
        ex.file.queries[h] = ex.line


@data_check("split-leak", "no validation/test query is also in train")
def split_leak(ex: Example) -> None:
    """A validation or test query that train also has (train is read first)."""
    if ex.query is None:
        return
    h = ex.query_key
    if ex.split == "train":
        ex.lint.train_queries.add(h)
    elif h in ex.lint.train_queries:
        ex.add("split-leak", f"{ex.split} query also in train: {ex.query[:60]!r}")


@data_check("eval-contamination", "no eval query, or near-copy of one, in training data")
def eval_contamination(ex: Example) -> None:
    """An eval query, or a near-copy of one, in the data."""
    query = ex.query
    if query is None:
        return
    if ex.query_key in ex.lint.eval_hashes:
        ex.add("eval-contamination", f"eval query in training data: {query[:60]!r}")
        return
    q, bound = query.strip().lower(), ex.lint.cfg.similarity
    for original, ev in ex.lint.eval:
        sm = difflib.SequenceMatcher(None, q, ev, autojunk=False)
        if sm.real_quick_ratio() >= bound and sm.quick_ratio() >= bound:
            r = sm.ratio()
            if r >= bound:
                ex.add("eval-contamination", f"near-copy ({r:.2f}) of eval query {original!r}: {query[:60]!r}")


@data_check("length", "examples fit the training max sequence length (model tokenizer)")
def length(ex: Example) -> None:
    """An example longer than training keeps (needs the model's tokenizer)."""
    tokenizer, limit = ex.lint.tokenizer, ex.lint.cfg.max_seq_length
    if tokenizer is None:
        return
    n = sum(len(tokenizer.encode(str(m.get("content") or "")).ids) + 4 for m in ex.turns)
    if n > limit:
        ex.add("length", f"{n} tokens, over the training max sequence length {limit} (truncated)")


@data_check("think", "<think> blocks used consistently and closed")
def think(ex: Example) -> None:
    """A ``<think>`` never closed; counts the assistant turns that think."""
    for i, m in enumerate(ex.turns):
        content = m.get("content")
        if m.get("role") != "assistant" or not isinstance(content, str):
            continue
        ex.file.assistant_turns += 1
        if "<think>" in content:
            ex.file.think_assistant += 1
            if "</think>" not in content:
                ex.add("think", f"message {i}: <think> is never closed")


@at_file_end("think")
def think_consistency(end: FileEnd) -> None:
    """``<think>`` in some assistant turns and not in most: inconsistent (a warning)."""
    st = end.file
    if (
        st.think_assistant
        and st.think_assistant != st.assistant_turns
        and st.think_assistant / st.assistant_turns < 0.5
    ):
        end.add(
            "think", f"<think> in {st.think_assistant} of {st.assistant_turns} assistant turns: inconsistent", "warning"
        )
