"""Pipeline and tokenizer checks by registry: each a name, a description and a function; the items
are named after them and fail with the registered description above their problems."""

from __future__ import annotations

import inspect

from pytest_punie.items.pipeline import CHECKS, ModelSteps
from pytest_punie.items.tokenizeritems import TOKENIZER_CHECKS


def test_each_check_is_a_name_a_description_and_a_documented_function():
    assert CHECKS.names() == (
        "training-log",
        "adapter",
        "fused",
        "adapter-applied",
        "quantized",
        "parity",
        "eos",
        "smoke",
    )
    assert TOKENIZER_CHECKS.names() == ("single-tokens", "tool-parser", "chat-template", "example-encoding")
    for entry in [*CHECKS.entries(), *TOKENIZER_CHECKS.entries()]:
        assert entry.description and inspect.getdoc(entry.fn), entry.name
    assert list(inspect.signature(CHECKS.get("smoke").fn).parameters) == ["steps"]
    assert ModelSteps.__doc__


def test_a_failing_check_says_its_registered_purpose(eval_project, tmp_path):
    """--punie-adapter on a folder with no adapter: the adapter check fails under its description."""
    (tmp_path / "empty-adapter").mkdir()
    result = eval_project.runpytest("-m", "pipeline", f"--punie-adapter={tmp_path / 'empty-adapter'}")
    result.stdout.fnmatch_lines([f"adapter: {CHECKS.get('adapter').description}", "  *adapter_config.json*"])
    assert result.ret == 1
