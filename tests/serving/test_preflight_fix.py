"""The tool-parser preflight on a real (tiny, trained here) tokenizer whose chat template names no
tool call: mlx-lm attaches no parser, the run is told so, and the fix offered is one mlx-lm was seen
to load and read every call with, on a copy; a fix that mlx-lm would not load, or that would not
read the calls, is not offered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_punie.serving import toolparser
from pytest_punie.serving.toolparser import preflight

from ..conftest import ROOT

CALL = "<tool_call>\n<function=git_status>\n<parameter=path>\n.\n</parameter>\n</function>\n</tool_call>"
TEXTS = [("data/train.jsonl:3 (message 2)", f"Checking.\n{CALL}")]


@pytest.fixture(scope="module")
def no_tool_template(tmp_path_factory) -> Path:
    """The tiny tokenizer with a chat template that writes the turns and nothing about tools."""
    from pytest_punie.models.tiny.bpetokenizer import train_tokenizer

    tok = train_tokenizer(ROOT / "data", tmp_path_factory.mktemp("tok") / "tokenizer")
    (tok / "chat_template.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    )
    return tok


def test_no_parser_is_said_and_the_fix_is_checked_on_a_copy(no_tool_template):
    before = (no_tool_template / "tokenizer_config.json").read_bytes()
    report = preflight(no_tool_template, TEXTS)
    assert report.choice.name is None and not report.passed
    assert report.to_dict()["calls"] == 0 and report.to_dict()["unparsed"] == 0
    assert report.problems()[0].startswith(f"mlx-lm picks no tool parser for {no_tool_template} (")
    assert report.fix == "qwen3_coder"
    assert report.fix_checked == "checked: mlx-lm loads a copy of the tokenizer with it and reads every call"
    assert (no_tool_template / "tokenizer_config.json").read_bytes() == before  # the user's files untouched


def _copies_learn(monkeypatch, original: Path, change) -> None:
    """mlx-lm, on the fixed copy only, does what ``change`` does to the parser it attaches."""
    real = toolparser.learn_parser

    def learn(directory):
        choice = real(directory)
        return choice if Path(directory) == Path(original) else change(choice)

    monkeypatch.setattr(toolparser, "learn_parser", learn)


def test_a_fix_mlx_lm_does_not_load_from_the_config_is_not_offered(no_tool_template, monkeypatch):
    _copies_learn(monkeypatch, no_tool_template, lambda c: dataclasses.replace(c, name="json_tools"))
    report = preflight(no_tool_template, TEXTS)
    assert report.fix is None and report.fix_checked == ""
    assert report.problems()[-1] == "no mlx-lm tool parser reads every call: change the training format or the template"


def test_a_fix_whose_loaded_parser_does_not_read_the_calls_is_not_offered(no_tool_template, monkeypatch):
    def refuses(text, tools=None):
        raise ValueError("not a call")

    _copies_learn(monkeypatch, no_tool_template, lambda c: dataclasses.replace(c, parse=refuses))
    assert preflight(no_tool_template, TEXTS).fix is None


def test_a_copy_without_markers_is_no_fix(no_tool_template, monkeypatch):
    _copies_learn(monkeypatch, no_tool_template, lambda c: dataclasses.replace(c, end=None))
    assert preflight(no_tool_template, TEXTS).fix is None


def test_a_parser_whose_markers_meet_no_call_has_nothing_to_check_and_no_fix(no_tool_template, tmp_path):
    """The template picks pythonic, the data writes <tool_call>: nothing is checked, and the document
    carries no fix the message does not say."""
    import shutil

    pythonic = tmp_path / "pythonic"
    shutil.copytree(no_tool_template, pythonic)
    (pythonic / "chat_template.jinja").write_text("<|tool_call_start|>{{ messages }}<|tool_call_end|>")
    report = preflight(pythonic, TEXTS)
    assert report.choice.name == "pythonic" and not report.passed
    assert report.problems() == [
        "no tool calls to check: the training data and the suite have none in <|tool_call_start|>...<|tool_call_end|>"
    ]
    assert report.fix is None and report.to_dict()["fix"] is None
