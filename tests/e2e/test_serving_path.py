"""The serving path on the embedded model, for real: a copy of the tiny model
whose chat template makes mlx-lm pick json_tools (as the stock Qwen3 8B/14B
template does). Its generations are identical; the preflight catches it
before generation, the verdict is INVALID, and the checked fix restores the
plain model's scores prompt for prompt."""

from __future__ import annotations

import json
import shutil

import pytest

from pytest_punie.models.tiny.json_tools import apply_fix, make_json_tools_variant
from pytest_punie.serving.toolparser import learn_parser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def json_tools_model(tiny_model, tmp_path_factory):
    return make_json_tools_variant(tiny_model.path, tmp_path_factory.mktemp("variant") / "tiny_json_tools")


def _run(project, model, out):
    return project.runpytest_subprocess(
        f"--punie-model={model}", "-m", "eval", f"--punie-json={out}", "-p", "no:cacheprovider"
    )


def _prompts(project, name):
    doc = json.loads((project.path / name).read_text())
    return doc, {p["id"]: p for p in doc["prompts"]}


def serving_warnings(doc: dict) -> list[dict]:
    """The document's warnings about the serving path (the format lock's FRAGILE is another matter)."""
    return [w for w in doc["warnings"] if w["code"] != "fragile-lock"]


def test_the_variant_really_makes_mlx_lm_pick_json_tools(tiny_model, json_tools_model):
    assert learn_parser(tiny_model.path).name == "qwen3_coder"
    choice = learn_parser(json_tools_model)
    assert choice.name == "json_tools"
    assert "inferred it from the chat template" in choice.reason and "tool_call.name" in choice.reason
    assert "tool_parser_type" not in json.loads((json_tools_model / "tokenizer_config.json").read_text())


def test_json_tools_is_caught_before_generation_invalid_and_the_fix_restores_every_score(
    tiny_project, tiny_model, json_tools_model, tmp_path
):
    plain = _run(tiny_project, "tiny_5bit", "plain.json")
    assert plain.ret == 1, plain.stdout.str()[-2000:]  # the tiny model's honest FAIL
    plain.stdout.fnmatch_lines(["*tool-parser preflight: mlx-lm's qwen3_coder parser reads all * tool calls*"])

    bad = _run(tiny_project, json_tools_model, "bad.json")
    out = bad.stdout.str()
    assert bad.ret == 6, out[-3000:]
    warning = "[punie] WARNING tool-parser preflight: mlx-lm picks the tool parser 'json_tools'"
    assert warning in out
    assert out.index(warning) < out.index("evalsuites/phase33.yaml ")  # before the first prompt ran
    bad.stdout.fnmatch_lines(
        [
            '*fix: add "tool_parser_type": "qwen3_coder" in *tokenizer_config.json (checked*',
            "served: calls dropped *",
            "WARNING: INVALID: mlx-lm's tool parser 'json_tools' (*) dropped the tool calls of * prompt(s)*",
            "VERDICT: INVALID*",
        ]
    )
    plain_doc, plain_p = _prompts(tiny_project, "plain.json")
    assert plain_doc["verdict"] == "FAIL" and serving_warnings(plain_doc) == []
    bad_doc, bad_p = _prompts(tiny_project, "bad.json")
    assert bad_doc["verdict"] == "INVALID"
    assert bad_doc["warnings"][0]["parser"] == "json_tools"
    assert bad_doc["provenance"]["model"]["tool_parser"]["passed"] is False
    # the same generations: every difference below is the serving path's
    ids = [p["response"]["punie"]["token_ids"] for p in plain_p.values()]
    assert ids == [bad_p[i]["response"]["punie"]["token_ids"] for i in plain_p]
    assert all(bad_p[i]["scores"]["strict"] == plain_p[i]["scores"]["strict"] for i in plain_p)
    assert any(bad_p[i]["scores"]["legacy"] < plain_p[i]["scores"]["legacy"] for i in plain_p)

    fixed = tmp_path / "fixed"
    shutil.copytree(json_tools_model, fixed)
    apply_fix(fixed, "qwen3_coder")
    good = _run(tiny_project, fixed, "fixed.json")
    assert good.ret == 1, good.stdout.str()[-2000:]
    fixed_doc, fixed_p = _prompts(tiny_project, "fixed.json")
    assert fixed_doc["verdict"] == "FAIL" and serving_warnings(fixed_doc) == []
    assert {i: p["scores_exact"]["legacy"] for i, p in fixed_p.items()} == {
        i: p["scores_exact"]["legacy"] for i, p in plain_p.items()
    }


def test_the_sampling_line_prints_the_runs_overrides(tiny_project, tiny_model):
    result = tiny_project.runpytest_subprocess(
        "--punie-model=tiny_5bit",
        "-m",
        "eval",
        "-k",
        "phase33 and git",  # one suite: its sampling line (the task suite's git tasks have their own)
        "--punie-temperature=0.7",
        "--punie-seed=1",
        "-p",
        "no:cacheprovider",
    )
    result.stdout.fnmatch_lines(["sampling: temperature=0.7, *seed=1 (run overrides: temperature=0.7, seed=1)*"])
