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
    from pytest_punie.tiny.tokenizer import train_tokenizer

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
    result.assert_outcomes(passed=3)


def test_real_qwen_ids_are_data_and_a_wrong_family_fails_by_line(project, tiny_tokenizer):
    result = project.runpytest("-m", "tokenizer", f"--punie-tokenizer={tiny_tokenizer}")
    result.assert_outcomes(failed=1)
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
    result.assert_outcomes(passed=1, failed=2)  # single-tokens and example-encoding fail; the template is the same
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
