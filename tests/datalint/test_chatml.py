"""mlx-lm's ``text`` format (rendered ChatML) is read into turns, so every
data check applies to it exactly as to ``messages``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.datalint import LintConfig, lint_dataset
from pytest_punie.datalint.examples import ExampleFormatError, chatml_messages, example_messages

from ..conftest import ROOT


def render(messages: list[dict]) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def as_text_dataset(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for split in ("train", "valid", "test"):
        rows = [json.loads(line) for line in (src / f"{split}.jsonl").read_text().splitlines() if line.strip()]
        (dst / f"{split}.jsonl").write_text("".join(json.dumps({"text": render(r["messages"])}) + "\n" for r in rows))
    return dst


roles = st.sampled_from(["system", "user", "assistant", "tool"])
contents = st.text(alphabet=st.characters(blacklist_characters="<|"), min_size=1, max_size=40)


@given(st.lists(st.fixed_dictionaries({"role": roles, "content": contents}), min_size=1, max_size=6))
def test_rendered_turns_read_back_exactly(messages):
    assert chatml_messages(render(messages)) == (messages, True)
    assert example_messages({"text": render(messages)}) == messages


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("hello <|im_start|>user\nq<|im_end|>", "text outside a turn at character 0"),
        ("<|im_start|>robot\nq<|im_end|>", "turn 0: <|im_start|> is followed by 'robot'"),
        ("<|im_start|>user\nq<|im_start|>assistant\na<|im_end|>", "turn 0 (user) is not closed"),
        ("<|im_start|>user\n<|im_start|>assistant\na<|im_end|>", "turn 0 (user) is not closed"),  # empty, unclosed
        ("<|im_start|>user", "not a role and a newline"),
    ],
)
def test_unreadable_text_says_where(text, why):
    with pytest.raises(ExampleFormatError, match=why.replace("|", r"\|").replace("(", r"\(").replace(")", r"\)")):
        chatml_messages(text)


def test_an_unclosed_last_turn_is_read_and_flagged():
    assert chatml_messages("<|im_start|>user\nq<|im_end|><|im_start|>assistant\na") == (
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        False,
    )


def test_the_text_format_gets_every_check_the_messages_format_gets(tmp_path):
    """The project's own data, rendered to ChatML text: the same findings,
    check for check and line for line (phase22_merged used to get tool-share 0%)."""
    suite_prompts = ("Show me the contents of src/punie/agent/config.py.",)
    config = LintConfig(eval_queries=suite_prompts, min_tool_examples=1)
    text = as_text_dataset(ROOT / "data", tmp_path / "text")
    seen = {(f.check, f.severity, Path(f.path).name, f.line, f.message) for f in lint_dataset(ROOT / "data", config)}
    got = {(f.check, f.severity, Path(f.path).name, f.line, f.message) for f in lint_dataset(text, config)}
    assert got == seen


def test_text_format_defects_are_found_at_their_line(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    call = (
        "<tool_call><function=execute_code>\n<parameter=code>\n"
        "r = hover_direct('a')\n</parameter>\n</function></tool_call>"
    )
    rows = [
        {"text": render([{"role": "user", "content": "q1"}, {"role": "assistant", "content": call}])},
        {"text": "<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\nno end"},
        {"text": "plain words, not ChatML"},
    ]
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "valid.jsonl").write_text(json.dumps(rows[0]) + "\n")
    found = {(f.check, f.line) for f in lint_dataset(data, LintConfig()) if f.path.endswith("train.jsonl")}
    assert ("known-tools", 1) in found  # hover_direct: the sandbox has no _direct names
    assert ("structure", 2) in found  # the last turn is not closed with <|im_end|>
    assert ("format", 3) in found  # cannot be read as ChatML turns
