"""Bad model names and directories: clear errors naming the file, no traceback,
nothing changed on disk."""

from __future__ import annotations

import json

import pytest

from pytest_punie.errors import ModelError
from pytest_punie.models.resolve import resolve_spec
from pytest_punie.models.steps import check_free_space
from pytest_punie.models.validate import validate_model_dir


def test_unknown_name_lists_the_registry(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.punie.models.prod]\npath = "m"\n')
    with pytest.raises(ModelError, match=r"unknown model 'nope': .*known: prod.*no directory at"):
        resolve_spec("nope", tmp_path)


def test_broken_config_is_named_with_its_line(tmp_path):
    (tmp_path / "config.json").write_text('{\n  "model_type": qwen3\n}\n')
    with pytest.raises(ModelError) as info:
        validate_model_dir(tmp_path)
    assert info.value.describe().startswith(f"{tmp_path / 'config.json'}:2: invalid JSON")
    assert (tmp_path / "config.json").read_text() == '{\n  "model_type": qwen3\n}\n'


def test_missing_pieces(tmp_path):
    with pytest.raises(ModelError, match=r"no config\.json"):
        validate_model_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen3"}))
    with pytest.raises(ModelError, match=r"no tokenizer\.json"):
        validate_model_dir(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelError, match=r"no \*\.safetensors weights"):
        validate_model_dir(tmp_path)


def test_free_space_is_checked_before_a_fuse(tmp_path):
    with pytest.raises(
        ModelError,
        match=r"not enough free disk for this build \(fuse --dequantize, then quantize\): needs 1000000000\.\d\d GB",
    ):
        check_free_space(tmp_path, 10**18)
    check_free_space(tmp_path, 1)


def test_a_bad_model_is_a_usage_error_not_a_failed_model(eval_project, tmp_path):
    (tmp_path / "config.json").write_text("{")
    result = eval_project.runpytest_subprocess("-m", "eval", "-k", "text-01", f"--punie-model={tmp_path}")
    assert result.ret == 4  # pytest's usage error: not the exit status of a FAIL verdict
    result.stderr.fnmatch_lines([f"*--punie-model {tmp_path}: {tmp_path}/config.json:1: invalid JSON*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_the_gate_a_stop_names_is_read_back_from_its_message():
    """The reports name the gate that stopped a seed from its error text: one format, written and read."""
    from pathlib import Path

    from pytest_punie.models.gates import GateStopped, gate_that_stopped

    for gate in ("data lint (before training)", "training log (before fusing)"):
        stopped = GateStopped(gate, Path("data"), ["data/train.jsonl:4: system-prompt: ..."], "Fix it.")
        assert gate_that_stopped(stopped.describe()) == gate
    assert gate_that_stopped("timeout after 120 s") is None and gate_that_stopped(None) is None
