"""Tokenizer preflight, on tokenizer files alone.

Expected single-id tokens are data per model family
(``evalsuites/tokenizers/<family>.yaml``): a tokenizer that splits
``<tool_response>`` into pieces cannot learn the format.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pytest_punie.errors import SuiteError
from pytest_punie.suite.suitetypes import chat_messages
from pytest_punie.suite.yamlsource import load_located


def load_spec(path: Path) -> tuple[str, dict[str, int], dict[str, int]]:
    """(family, token -> id, token -> line) from a spec file; errors name the line."""
    doc = load_located(path)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("single_tokens"), dict):
        raise SuiteError(path, doc.line(()), "a tokenizer spec needs family and single_tokens: {token: id}")
    for key in data:
        if key not in ("family", "single_tokens", "description"):
            raise SuiteError(path, doc.line((key,)), f"unknown key {key!r}", key)
    tokens = data["single_tokens"]
    for tok, tid in tokens.items():
        if not isinstance(tid, int) or isinstance(tid, bool) or tid < 0:
            raise SuiteError(path, doc.line(("single_tokens", tok)), f"{tok!r}: the id must be a non-negative integer")
    lines = {tok: doc.line(("single_tokens", tok)) or 0 for tok in tokens}
    return str(data.get("family", path.stem)), dict(tokens), lines


def load_tokenizer(directory: Path) -> Any:
    """A tokenizer directory loaded as transformers does, which is what mlx-lm uses."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(directory))


def check_single_tokens(tok: Any, spec_path: Path) -> list[str]:
    """The family's special tokens each encode to their single expected id (a split token breaks tool calls)."""
    family, tokens, lines = load_spec(spec_path)
    out = []
    for text, expected in tokens.items():
        ids = tok.encode(text, add_special_tokens=False)
        if ids != [expected]:
            pieces = tok.convert_ids_to_tokens(ids)
            how = f"{len(ids)} pieces {pieces}" if len(ids) != 1 else f"id {ids[0]}"
            where = f"{spec_path}:{lines[text]}"
            out.append(f"{where}: {text!r} encodes to {how} {ids}, expected the single id {expected} ({family})")
    return out


def chat_template_text(tok: Any, system: str, user: str) -> str:
    """The chat template rendered for [system, user] with the generation prompt, as text to compare."""
    msgs = list(chat_messages(system, user))
    return str(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))


def check_chat_template(tok: Any, ref: Any, system: str, user: str) -> list[str]:
    """The candidate's chat template renders like the reference's; the difference shown as a diff."""
    a, b = chat_template_text(tok, system, user), chat_template_text(ref, system, user)
    if a == b:
        return []
    diff = "\n".join(difflib.unified_diff(b.splitlines(), a.splitlines(), "reference", "candidate", lineterm="", n=1))
    return [f"chat templates render [system, user] differently:\n{diff}"]


def special_positions(tok: Any, messages: list[dict[str, str]], specials: list[str]) -> list[tuple[int, str]]:
    """Where each single-id special token sits in an encoded conversation."""
    ids = tok.apply_chat_template(messages, tokenize=True, return_dict=False)
    wanted = {}
    for s in specials:
        enc = tok.encode(s, add_special_tokens=False)
        if len(enc) == 1:
            wanted[enc[0]] = s
    return [(i, wanted[t]) for i, t in enumerate(ids) if t in wanted]


def check_example_encoding(tok: Any, ref: Any, messages: list[dict[str, str]], specials: list[str]) -> list[str]:
    """Special tokens land at the same positions under both tokenizers; the first difference named."""
    a = special_positions(tok, messages, specials)
    b = special_positions(ref, messages, specials)
    if a == b:
        return []
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return [f"special token {i}: candidate has {x[1]!r} at position {x[0]}, reference {y[1]!r} at {y[0]}"]
    return [
        f"candidate has {len(a)} special tokens in the example, reference {len(b)}: "
        f"missing {[s for _, s in b[len(a) :]] or [s for _, s in a[len(b) :]]}"
    ]
