"""Pre-registered pipeline expectations on real artifacts of the tiny model:
a wrong end-of-sequence token (Phase 25), 4-bit and 8-bit quantizations of
the fused model (Phase 5c), each failing with the expectation, its source
and the evidence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_punie.checks.eos import check_eos
from pytest_punie.checks.expectations import check_bits, expectations
from pytest_punie.models.steps import quantize

pytestmark = pytest.mark.slow


def step(model, name: str) -> Path:
    return Path(next(b for b in model.builds if b["step"] == name)["path"])


@pytest.fixture(scope="module")
def quantized(tiny_model, tmp_path_factory):
    """The tiny fused model quantized to 4 and to 8 bits, as the users' convert does."""
    out = {}
    for bits in (4, 8):
        dst = tmp_path_factory.mktemp(f"q{bits}")
        quantize(step(tiny_model, "fused"), dst, bits, 64, lambda _m: None)
        out[bits] = dst
    return out


@pytest.fixture
def wrong_eos(tiny_model, tmp_path) -> Path:
    """Phase 25: eos set to <|endoftext|> only, in config, generation config and
    tokenizer config (mlx-lm stops on the tokenizer's eos too, so all three matter)."""
    copy = tmp_path / "wrong-eos"
    shutil.copytree(tiny_model.path, copy)
    for name in ("config.json", "generation_config.json"):
        data = json.loads((copy / name).read_text())
        data["eos_token_id"] = 0
        (copy / name).write_text(json.dumps(data))
    tok = json.loads((copy / "tokenizer_config.json").read_text())
    tok["eos_token"] = "<|endoftext|>"
    (copy / "tokenizer_config.json").write_text(json.dumps(tok))
    return copy


def register(project, name: str, path: Path, expect: str = "") -> None:
    pyproject = project.path / "pyproject.toml"
    table = f'\n[tool.punie.models.{name}]\npath = "{path}"\n' + (
        f"\n[tool.punie.models.{name}.expect]\n{expect}\n" if expect else ""
    )
    pyproject.write_text(pyproject.read_text() + table)


def test_a_wrong_eos_is_caught_in_both_configs(tiny_model, wrong_eos):
    assert check_eos(tiny_model.path) == []
    problems = check_eos(wrong_eos)
    assert len(problems) == 2
    assert all(
        "eos_token_id is 0 '<|endoftext|>', not the end-of-turn '<|im_end|>' (2, from the chat template)" in p
        for p in problems
    )


def test_the_eos_item_generates_without_stop_strings(tiny_project, wrong_eos):
    register(tiny_project, "phase25", wrong_eos)
    result = tiny_project.runpytest_subprocess(
        "--punie-model=phase25", "-m", "pipeline", "-k", "eos", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "eos: config and generation config end on the template's end-of-turn token, and generation really does",
            "*config.json: eos_token_id is 0 '<|endoftext|>', not the end-of-turn '<|im_end|>'*",
            "*: a generation with no stop strings ended on token 0, not on the end-of-turn '<|im_end|>' (2)*",
        ]
    )


def test_four_bits_fail_by_default_and_eight_pass(quantized):
    default = expectations()
    assert check_bits(8, default, "q8") == []
    problems = check_bits(4, default, "q4/config.json")
    assert problems and "quantized to 4 bits, expected at least 5 (default: the users' own checks)" in problems[0]
    on_purpose = expectations(({"low_bits_on_purpose": True}, "pyproject.toml [tool.punie.models.x.expect]"))
    assert check_bits(4, on_purpose, "q4") == []
    assert json.loads((quantized[4] / "config.json").read_text())["quantization"]["bits"] == 4


def test_the_quantized_item_holds_a_4_bit_model_to_its_expectation(tiny_project, quantized):
    register(tiny_project, "fused_4bit", quantized[4])
    register(tiny_project, "fused_8bit", quantized[8])
    register(tiny_project, "fused_4bit_on_purpose", quantized[4], "low_bits_on_purpose = true")
    four = tiny_project.runpytest_subprocess(
        "--punie-model=fused_4bit", "-m", "pipeline", "-k", "quantized", "-p", "no:cacheprovider"
    )
    four.assert_outcomes(failed=1)
    four.stdout.fnmatch_lines(["*quantized to 4 bits, expected at least 5 (default: the users' own checks)*"])
    for name in ("fused_8bit", "fused_4bit_on_purpose"):
        ok = tiny_project.runpytest_subprocess(
            f"--punie-model={name}", "-m", "pipeline", "-k", "quantized", "-p", "no:cacheprovider"
        )
        ok.assert_outcomes(passed=1)


def own_tiny_entry(extra_expect: str) -> str:
    """The built-in tiny_5bit entry as a project's own table, with more expectations."""
    from pytest_punie.models.resolve import BUILTIN

    text = BUILTIN.read_text().split("[tiny_moe_5bit]")[0].split("[tiny_5bit]", 1)[1]
    text = text.replace("[tiny_5bit.expect]", "[tool.punie.models.tiny_5bit.expect]")
    text = "\n[tool.punie.models.tiny_5bit]" + text
    return text.rstrip() + "\n" + extra_expect


def test_a_suite_and_a_registry_entry_set_expectations_with_their_source(tiny_project, tiny_model):
    """The registry entry wins over the suite; each message names where its bound came from."""
    suite = tiny_project.path / "evalsuites" / "phase33.yaml"
    suite.write_text(
        suite.read_text().replace("datasets:\n", "pipeline_expect:\n  max_final_val_loss: 0.2\ndatasets:\n")
    )
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "pipeline", "-k", "training-log", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*final validation loss 0.* is above 0.2 (evalsuites/phase33.yaml pipeline_expect)*"])
    pyproject = tiny_project.path / "pyproject.toml"  # the project's own tiny_5bit wins over the built-in one
    pyproject.write_text(pyproject.read_text() + own_tiny_entry("max_final_val_loss = 0.4\n"))
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "pipeline", "-k", "training-log", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    # two suites that pre-register two different bounds for one model: said, never one silently chosen
    other = tiny_project.path / "evalsuites" / "phase26.yaml"
    other.write_text(
        other.read_text().replace("datasets:\n", "pipeline_expect:\n  max_final_val_loss: 0.3\ndatasets:\n")
    )
    clash = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit", "-m", "pipeline", "-k", "training-log", "-p", "no:cacheprovider"
    )
    clash.assert_outcomes(failed=1)
    clash.stdout.fnmatch_lines(
        [
            "*evalsuites/phase26.yaml pipeline_expect and evalsuites/phase33.yaml pipeline_expect "
            "pre-register different max_final_val_loss (0.3, 0.2)*"
        ]
    )


def test_an_unknown_expectation_is_named(tiny_project):
    pyproject = tiny_project.path / "pyproject.toml"
    # the project's own entry of a built-in name wins, its expect table checked as any other
    own = '\n[tool.punie.models.tiny_5bit]\nrecipe = "tiny"\n[tool.punie.models.tiny_5bit.expect]\n'
    own += "min_los_decrease = 0.0\n[tool.punie.models.tiny_5bit.expect.x]\n"
    pyproject.write_text(pyproject.read_text() + own)
    result = tiny_project.runpytest_subprocess("--punie-model=tiny_5bit", "-m", "pipeline", "-p", "no:cacheprovider")
    assert result.ret == 4  # a usage error, before anything runs
    result.stderr.fnmatch_lines(
        ["*[[]tool.punie.models.tiny_5bit.expect[]]: unknown keys [[]'min_los_decrease', 'x'[]]*"]
    )
