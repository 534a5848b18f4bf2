"""Tokenizer preflight (-m tokenizer) on real tokenizer files: the project's
tiny tokenizer, and damaged copies of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ..conftest import ROOT


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory) -> Path:
    from pytest_punie.models.tiny.bpetokenizer import train_tokenizer

    return train_tokenizer(ROOT / "data", tmp_path_factory.mktemp("tok") / "tokenizer")


@pytest.fixture
def project(eval_project):
    shutil.copytree(ROOT / "data", eval_project.path / "data")
    shutil.copytree(ROOT / "evalsuites" / "tokenizers", eval_project.path / "evalsuites" / "tokenizers")
    return eval_project


def split_marker(src: Path, dst: Path, marker: str) -> Path:
    """A copy of the tokenizer in which ``marker`` is no longer one token."""
    shutil.copytree(src, dst)
    data = json.loads((dst / "tokenizer.json").read_text())
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != marker]
    (dst / "tokenizer.json").write_text(json.dumps(data))
    cfg = json.loads((dst / "tokenizer_config.json").read_text())
    for key in ("added_tokens_decoder",):
        if key in cfg:
            cfg[key] = {k: v for k, v in cfg[key].items() if v.get("content") != marker}
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg))
    return dst


def test_tiny_tokenizer_passes_against_itself(project, tiny_tokenizer):
    result = project.runpytest(
        "-m",
        "tokenizer",
        f"--punie-tokenizer={tiny_tokenizer}",
        f"--punie-reference-tokenizer={tiny_tokenizer}",
        "--punie-tokenizer-family=tiny",
    )
    result.assert_outcomes(passed=4)


def test_real_qwen_ids_are_data_and_a_wrong_family_fails_by_line(project, tiny_tokenizer):
    result = project.runpytest("-m", "tokenizer", f"--punie-tokenizer={tiny_tokenizer}")
    result.assert_outcomes(failed=1, passed=1)  # the ids are wrong for qwen3; the tool parser reads every call
    result.stdout.fnmatch_lines(
        ["*qwen3.yaml:10: '<tool_response>' encodes to id 2017 [[]2017], expected the single id 151665 (qwen3)"]
    )


def test_a_split_tool_response_marker_is_caught(project, tiny_tokenizer, tmp_path):
    broken = split_marker(tiny_tokenizer, tmp_path / "broken", "<tool_response>")
    result = project.runpytest(
        "-m",
        "tokenizer",
        f"--punie-tokenizer={broken}",
        f"--punie-reference-tokenizer={tiny_tokenizer}",
        "--punie-tokenizer-family=tiny",
    )
    result.stdout.fnmatch_lines(
        ["*tiny.yaml:*: '<tool_response>' encodes to * pieces*expected the single id 2017 (tiny)"]
    )
    # single-tokens and example-encoding fail; the template and the tool parser are the same
    result.assert_outcomes(passed=2, failed=2)
    assert (tiny_tokenizer / "tokenizer.json").read_text().count("<tool_response>") >= 1  # the original is untouched


def test_a_changed_chat_template_is_caught(project, tiny_tokenizer, tmp_path):
    changed = tmp_path / "changed"
    shutil.copytree(tiny_tokenizer, changed)
    template = (changed / "chat_template.jinja").read_text()
    (changed / "chat_template.jinja").write_text(
        template.replace("<|im_start|>assistant\\n", "<|im_start|>assistant\\n\\n")
    )
    result = project.runpytest(
        "-m",
        "tokenizer",
        f"--punie-tokenizer={changed}",
        f"--punie-reference-tokenizer={tiny_tokenizer}",
        "--punie-tokenizer-family=tiny",
        "-k",
        "chat-template",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*chat templates render [[]system, user[]] differently*"])


# -- tool-parser preflight: which parser mlx-lm applies, and does it read our calls? ------
def test_real_qwen3_tokenizer_fails_the_tool_parser_item_with_json_tools_and_the_checked_fix(project, qwen3_tokenizer):
    """The stock Qwen3 chat template makes mlx-lm pick json_tools, which drops
    every Code Mode call of the training data; the single-token ids hold."""
    before = (qwen3_tokenizer / "tokenizer_config.json").read_bytes()
    result = project.runpytest("-m", "tokenizer", f"--punie-tokenizer={qwen3_tokenizer}", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*tool-parser: mlx-lm's tool parser for this tokenizer reads every tool call*",
            "*mlx-lm picks the tool parser 'json_tools' for *(no tool_parser_type key in tokenizer_config.json; "
            "mlx-lm inferred it from the chat template, line 57: '{{- tool_call.name }}')",
            "*624 of 624 tool calls fail to parse with it*",
            "    data/train.jsonl:1 (message 2): JSONDecodeError*(the server drops it)",
            '*fix: add "tool_parser_type": "qwen3_coder" in *tokenizer_config.json (checked: mlx-lm loads a copy*',
            "PASSED ::tokenizer[[]*tokenizer-qwen3-3.7.2[]]::single-tokens",
            "FAILED ::tokenizer[[]*tokenizer-qwen3-3.7.2[]]::tool-parser*",
        ]
    )
    assert (qwen3_tokenizer / "tokenizer_config.json").read_bytes() == before  # the fix is checked on a copy


def test_the_checked_fix_makes_the_real_qwen3_tokenizer_pass(project, qwen3_tokenizer, tmp_path):
    fixed = tmp_path / "qwen3-fixed"
    shutil.copytree(qwen3_tokenizer, fixed)
    cfg = json.loads((fixed / "tokenizer_config.json").read_text())
    cfg["tool_parser_type"] = "qwen3_coder"
    (fixed / "tokenizer_config.json").write_text(json.dumps(cfg))
    result = project.runpytest("-m", "tokenizer", f"--punie-tokenizer={fixed}")
    result.assert_outcomes(passed=2)


def test_the_tool_parser_item_reads_the_data_of_punie_data_too(project, tiny_tokenizer, tmp_path):
    """--punie-data adds its calls; a JSON-format call that qwen3_coder cannot read fails, at file:line."""
    data = tmp_path / "jsondata"
    data.mkdir()
    call = '<tool_call>{"name": "execute_code", "arguments": {"code": "print(1)"}}</tool_call>'
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": call}]}
    (data / "train.jsonl").write_text(json.dumps(row) + "\n")
    (data / "valid.jsonl").write_text(json.dumps(row) + "\n")
    result = project.runpytest(
        "-m", "tokenizer", f"--punie-tokenizer={tiny_tokenizer}", f"--punie-data={data}", "-k", "tool-parser"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*2 of 626 tool calls fail to parse*", f"*{data}/train.jsonl:1 (message 1): *"])
