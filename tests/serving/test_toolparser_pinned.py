"""The tool-parser preflight's judgement and words, pinned without a model: what counts as a call read
wrongly, how each failure is said (the first five, then a count), the fix and where to write it, and
why mlx-lm picked its parser (the template lines that decide it). Real tokenizers run in
tests/items/test_tokenizer_items.py; these pin what the mutation run found unguarded."""

from __future__ import annotations

import json

from pytest_punie.serving import toolparser
from pytest_punie.serving.toolparser import (
    CallSample,
    ParseOutcome,
    ParserChoice,
    ToolParserReport,
    _configured,
    _normal,
    _parser_name,
    _why_inferred,
    call_samples,
    misread,
    try_parse,
)

CALL = "<function=git_status>\n<parameter=path>\n.\n</parameter>\n</function>"


def report(name="json_tools", total=3, failures=(), fix=None, registry=None) -> ToolParserReport:
    choice = ParserChoice(name, "inferred by mlx-lm from the vocabulary", "<tool_call>", "</tool_call>")
    out = ToolParserReport("tok", choice, ParseOutcome(total, list(failures)), fix=fix, fix_registry=registry)
    out.fix_checked = "checked: a copy reads every call" if fix else ""
    return out


def failure(i: int) -> tuple[CallSample, str]:
    return CallSample(f"data/train.jsonl:{i} (message 2)", "x"), f"why {i}"


def test_a_preflight_passes_only_with_a_parser_that_read_some_calls_and_dropped_none():
    assert report().passed and report().problems() == []
    assert report(total=1).passed  # one call, read: enough
    assert not report(total=0).passed and not report(name=None).passed
    assert not report(failures=[failure(1)]).passed


def test_the_failures_are_listed_five_then_counted():
    five = report(total=9, failures=[failure(i) for i in range(5)]).problems()
    assert five[0] == "mlx-lm picks the tool parser 'json_tools' for tok (inferred by mlx-lm from the vocabulary)"
    assert five[1].startswith("5 of 9 tool calls fail to parse with it (or parse wrong); mlx_lm server drops each")
    assert five[2:7] == [f"  data/train.jsonl:{i} (message 2): why {i}" for i in range(5)]
    assert five[7:] == ["no mlx-lm tool parser reads every call: change the training format or the template"]
    seven = report(total=9, failures=[failure(i) for i in range(7)]).problems()
    assert seven[7] == "  ... and 2 more" and len(seven) == 9
    six = report(total=9, failures=[failure(i) for i in range(6)]).problems()
    assert six[7] == "  ... and 1 more" and len(six) == 9


def test_no_parser_and_no_calls_are_said_in_their_own_words():
    (none, advice) = report(name=None).problems()
    assert none == (
        "mlx-lm picks no tool parser for tok (inferred by mlx-lm from the vocabulary): "
        "the server returns every tool call as plain content, never as tool_calls"
    )
    assert advice.startswith("no mlx-lm tool parser reads every call")
    assert report(total=0).problems() == [
        "no tool calls to check: the training data and the suite have none in <tool_call>...</tool_call>"
    ]


def test_the_fix_names_where_to_write_it():
    in_files = report(name=None, fix="qwen3_coder")
    assert in_files.fix_text() == '"tool_parser_type": "qwen3_coder" in tok/tokenizer_config.json'
    assert in_files.problems()[-1] == (
        'fix: add "tool_parser_type": "qwen3_coder" in tok/tokenizer_config.json (checked: a copy reads every call)'
    )
    built = report(name=None, fix="qwen3_coder", registry="pyproject.toml [tool.punie.models.real]")
    assert built.fix_text().startswith('tool_parser_type = "qwen3_coder" to pyproject.toml [tool.punie.models.real] ')
    assert report().fix_text() is None


def test_the_document_keeps_the_first_five_failures_and_the_verdict():
    doc = report(total=9, failures=[failure(i) for i in range(7)], fix="qwen3_coder").to_dict()
    assert doc["parser"] == "json_tools" and doc["calls"] == 9 and doc["unparsed"] == 7 and doc["passed"] is False
    assert doc["first_unparsed"] == [f"data/train.jsonl:{i} (message 2): why {i}" for i in range(5)]
    assert doc["fix"] == '"tool_parser_type": "qwen3_coder" in tok/tokenizer_config.json'
    assert doc["problems"][0].startswith("mlx-lm picks the tool parser 'json_tools'")


def test_a_call_read_as_something_else_is_named():
    assert misread({"name": "git_status", "arguments": {"path": "."}}, CALL) is None
    assert misread([{"name": "git_status", "arguments": json.dumps({"path": " . "})}], CALL) is None
    assert misread("just text", CALL) == "parses to 'just text', not a named call (the client gets no usable call)"
    assert misread([], CALL).startswith("parses to '[]', not a named call")
    assert misread({"arguments": {}}, CALL).startswith("parses to ")
    assert misread({"name": "git_diff", "arguments": {"path": "."}}, CALL) == (
        "parses as a call of 'git_diff', but the model wrote 'git_status'"
    )
    assert misread({"name": "git_status", "arguments": {"path": "src"}}, CALL) == (
        "parses git_status with other arguments: \"{'path': 'src'}\""
    )


def test_what_a_call_was_read_as_is_shown_cut_at_60_characters():
    long = "y" * 100
    assert misread(long, CALL) == f"parses to {long[:60]!r}, not a named call (the client gets no usable call)"
    other = {"path": long}
    assert misread({"name": "git_status", "arguments": other}, CALL) == (
        f"parses git_status with other arguments: {str(other)[:60]!r}"
    )


def test_arguments_compare_as_values_not_as_text():
    assert _normal('{"a": " x "}') == {"a": "x"} and _normal(" not json ") == "not json"
    assert _normal({"a": " x ", "b": 2}) == {"a": "x", "b": 2} and _normal([1]) == [1] and _normal(None) is None


def test_each_failure_says_what_the_server_does_with_it():
    def drops(text, tools):
        raise json.JSONDecodeError("Expecting value" + "!" * 200, text, 0)

    def crashes(text, tools):
        raise KeyError("name")

    samples = [CallSample("a:1", CALL)]
    (dropped,) = try_parse(drops, samples).failures
    assert dropped[1].startswith("JSONDecodeError: Expecting value") and dropped[1].endswith(" (the server drops it)")
    assert len(dropped[1]) == len("JSONDecodeError: ") + 100 + len(" (the server drops it)")
    (failed,) = try_parse(crashes, samples).failures
    assert failed[1] == "KeyError: 'name' (the server request fails)"

    def crashes_at_length(text, tools):
        raise RuntimeError("z" * 150)

    (long,) = try_parse(crashes_at_length, samples).failures
    assert long[1] == "RuntimeError: " + "z" * 100 + " (the server request fails)"
    wrong = try_parse(lambda text, tools: {"name": "hover", "arguments": {}}, samples)
    assert wrong.total == 1 and wrong.failures[0][1] == "parses as a call of 'hover', but the model wrote 'git_status'"
    assert try_parse(lambda text, tools: {"name": "git_status", "arguments": {"path": "."}}, samples).ok


def test_only_closed_calls_are_handed_to_the_parser():
    texts = [("a:1", f"<tool_call>{CALL}</tool_call> then <tool_call>cut"), ("a:2", "no call")]
    assert call_samples(texts, "<tool_call>", "</tool_call>") == [CallSample("a:1", CALL)]


def test_the_parser_is_named_by_its_module_and_a_configured_one_is_read(tmp_path):
    class Wrapper:
        pass

    assert _parser_name(Wrapper()) is None
    wrapper = Wrapper()
    wrapper.tool_parser = json.loads  # a function of module "json"
    assert _parser_name(wrapper) == "json"
    assert _configured(tmp_path) is None
    (tmp_path / "tokenizer_config.json").write_text('{"tool_parser_type": "qwen3_coder"}')
    assert _configured(tmp_path) == "qwen3_coder"
    (tmp_path / "tokenizer_config.json").write_text('{"tool_parser_type": 3}')
    assert _configured(tmp_path) is None
    (tmp_path / "tokenizer_config.json").write_text("[1]")
    assert _configured(tmp_path) is None
    (tmp_path / "tokenizer_config.json").write_text("{broken")
    assert _configured(tmp_path) is None


class _Hf:
    """A tokenizer as _why_inferred reads it: a chat template and a vocabulary."""

    def __init__(self, template, vocab=None):
        self.chat_template = template
        self._vocab = vocab or {}

    def get_vocab(self):
        return self._vocab


def test_why_mlx_lm_picked_its_parser_names_the_deciding_template_lines():
    template = "{% for m in messages %}\n{{ m.content }}\n{% endfor %}\n<tool_call>\n{{ tool_call.name }}\n"
    why = _why_inferred(_Hf(template), "json_tools")
    assert why.startswith(
        "no tool_parser_type key in tokenizer_config.json; mlx-lm inferred it from the chat template, "
    )
    assert "line 4: '<tool_call>'" in why and "'{{ tool_call.name }}'" in why
    plain = _why_inferred(_Hf("{{ messages }}"), None)
    assert plain == "no tool_parser_type key in tokenizer_config.json; mlx-lm inferred it from the chat template"
    vocab = {"<|tool_call_start|>": 1, "<|tool_call_end|>": 2}
    assert _why_inferred(_Hf("{{ messages }}", vocab), "pythonic") == "inferred by mlx-lm from the vocabulary"
    assert _why_inferred(_Hf(None, vocab), "pythonic") == (
        "inferred by mlx-lm from the vocabulary (the tokenizer has no chat template)"
    )


def test_at_most_three_deciding_lines_are_shown_each_cut_at_100_characters():
    long = "<tool_call>" + "x" * 150
    template = "\n".join([long, "{{ tool_call.name }}", "{{ tool_call.name }}", "{{ tool_call.name }}"])
    why = _why_inferred(_Hf(template), "json_tools")
    assert why.count("line ") == 1  # removing any one name line still leaves another: only the marker decides
    assert repr(long[:100]) in why


def test_no_more_than_three_deciding_lines_are_named():
    # [TOOL_CALLS] makes it mistral; taking out any one {{ }} block would join a qwen3_coder marker
    template = "[TOOL_CALLS]\n" + "".join(f"<tool_call>\n{{{{ {v} }}}}<function={v}>\n" for v in "abc")
    why = _why_inferred(_Hf(template), "mistral")
    assert why.endswith(
        "from the chat template, line 1: '[TOOL_CALLS] <tool_call>'; line 3: '{{ a }}'; line 5: '{{ b }}'"
    )


def test_a_later_mlx_lm_without_the_private_function_is_said_not_guessed(monkeypatch):
    from pytest_punie.errors import ModelError
    from pytest_punie.models import mlxlm_private

    def moved(name):
        raise ModelError(None, None, "moved")

    monkeypatch.setattr(mlxlm_private, "private", moved)
    assert _why_inferred(_Hf("{{ x }}"), "json_tools") == "inferred by mlx-lm from the chat template or the vocabulary"


def test_the_installed_parsers_are_listed_from_mlx_lm_itself():
    names = toolparser.parser_modules()
    assert ("json_tools" in names) and ("qwen3_coder" in names) and names == sorted(names)
