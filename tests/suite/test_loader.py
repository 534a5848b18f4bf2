"""Suites: the phase33 data as the reference gives it, and errors that name file and line."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest
import yaml

from pytest_punie.errors import SuiteError
from pytest_punie.suite import load_suite
from pytest_punie.suite.schema import schema_json, suite_schema

from ..conftest import PHASE33, ROOT

REFERENCE_THRESHOLDS = {
    "text_tools": ">= 0.95",
    "validation": ">= 0.95",
    "git": ">= 0.90",
    "cst": ">= 0.90",
    "lsp": ">= 0.80",
    "domain": ">= 0.60",
    "multi_tool": ">= 0.35",
}
REFERENCE_SIZES = {"text_tools": 3, "validation": 3, "lsp": 5, "git": 3, "cst": 3, "domain": 9, "multi_tool": 1}


def test_phase33_has_the_27_reference_prompts_and_thresholds(phase33):
    assert len(phase33.prompts) == 27
    sizes: dict[str, int] = {}
    for p in phase33.prompts:
        sizes[p.category] = sizes.get(p.category, 0) + 1
    assert sizes == REFERENCE_SIZES
    assert {k: c.threshold.text for k, c in phase33.categories.items()} == REFERENCE_THRESHOLDS
    assert phase33.overall.text == ">= 0.80"
    assert phase33.primary_scorer == "legacy"
    assert phase33.pass_score == Fraction(1, 2)
    assert phase33.sampling.temperature == 0.0
    assert phase33.sampling.max_tokens == 512
    assert phase33.sampling.stop == ("<|im_end|>", "<|endoftext|>", "<think>")
    assert phase33.sampling_for(phase33.prompt("lsp-05")).max_tokens == 2048
    assert phase33.sampling_for(phase33.prompt("multi-01")).max_tokens == 1024
    assert phase33.prompt("multi-01").expect.match == "all"
    assert phase33.prompt("text-03").expect.keywords == ("run_command", "ls")
    for p in phase33.prompts:
        if p.category in ("cst", "domain"):
            assert p.expect.keywords == (p.expect.tools[0], p.expect.tools[0] + "_direct")


def test_digest_is_content_not_layout(tmp_path, phase33):
    text = PHASE33.read_text()
    relaid = tmp_path / "phase33.yaml"
    relaid.write_text("# another comment\n" + text.replace("suite: phase33", "suite:   phase33"))
    assert load_suite(relaid).digest == phase33.digest
    changed = tmp_path / "changed.yaml"
    changed.write_text(text.replace('">= 0.80"', '">= 0.81"'))
    assert load_suite(changed).digest != phase33.digest


def test_threshold_operators_are_exact():
    from pytest_punie.suite.loader import _threshold
    from pytest_punie.suite.yamlsource import LocatedYaml

    doc = LocatedYaml({}, {}, Path("x.yaml"))
    ge, gt, pct = _threshold(doc, ">= 0.60", ()), _threshold(doc, "> 0.60", ()), _threshold(doc, ">= 82.4%", ())
    five_four_over_nine = (5 + 4 * Fraction(1, 10)) / 9  # 33b's domain mean
    assert ge.holds(five_four_over_nine) and not gt.holds(five_four_over_nine)
    assert pct.value == Fraction(824, 1000)


def _minimal(**over) -> str:
    doc = {
        "suite": "mini",
        "system_prompt": "You are Punie.",
        "overall_threshold": ">= 0.5",
        "categories": {"git": {"threshold": ">= 0.9"}},
        "prompts": [{"id": "g1", "category": "git", "query": "status?", "expect": {"tools": ["git_status"]}}],
    }
    doc.update(over)
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (_minimal().replace("system_prompt:", "sytem_prompt:"), 2, "did you mean 'system_prompt'"),
        (_minimal().replace("category: git", "category: gti"), 9, "not declared under categories; did you mean 'git'"),
        (_minimal().replace(">= 0.9", ">= 1.5"), 6, "out of range"),
        (_minimal().replace(">= 0.9", "at least 0.9"), 6, "does not match"),
        (_minimal().replace("git_status", "git_stat"), 13, "not a tool of the surface"),
        (_minimal() + "suite: again\n", 14, "duplicate key 'suite'"),
        (_minimal().replace("query: status?", "query: [unclosed"), 11, "flow sequence at line 10"),
        *(
            (_minimal().replace("git:", f"{name}:").replace("category: git", f"category: {name}"), 5, "reserved name")
            for name in ("overall", "critical", "metrics", "format_lock")
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, text, line, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    err = info.value
    assert err.path == str(path)
    assert err.line == line, err.describe()
    assert needle in err.describe()
    assert err.describe().startswith(f"{path}:{line}:")


def test_duplicate_prompt_ids_point_at_the_second(tmp_path):
    text = _minimal()
    data = yaml.safe_load(text)
    data["prompts"].append(dict(data["prompts"][0]))
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(SuiteError, match=r"duplicate prompt id 'g1' \(first at line 8\)") as info:
        load_suite(path)
    assert info.value.line == 14


def test_exported_schema_is_committed_and_accepts_phase33():
    committed = ROOT / "evalsuites" / "suite.schema.json"
    assert committed.read_text() == schema_json(), (
        "regenerate: python -m pytest_punie.suite.schema > evalsuites/suite.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(suite_schema())
    jsonschema.validate(yaml.safe_load(PHASE33.read_text()), json.loads(committed.read_text()))


def test_schema_checker_and_jsonschema_agree_on_a_bad_suite(tmp_path):
    bad = yaml.safe_load(_minimal())
    bad["prompts"][0]["expect"]["match"] = "some"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, suite_schema())
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad, sort_keys=False))
    with pytest.raises(SuiteError, match="'some' is not one of"):
        load_suite(path)


def _line_of(text: str, needle: str) -> int:
    """The last line holding ``needle`` (metrics come after the prompts)."""
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line][-1]


@pytest.mark.parametrize(
    ("expect", "metrics", "at", "needle"),
    [
        ({"direct": True, "tools": ["git_status"]}, None, "tools:", "expects a direct answer (direct: true)"),
        ({"keywords": ["git"]}, None, "expect:", "expect needs 'tools'"),
        ({"tools": ["git_status"], "fields": ["clen"]}, None, "- clen", "'clen' is not a field of the expected"),
        ({"tools": ["git_status"]}, {"rate": {"categories": ["gti"], "threshold": ">= 0.5"}}, "- gti", "'git'?"),
        ({"tools": ["git_status"]}, {"rate": {"prompts": ["g2"], "threshold": ">= 0.5"}}, "- g2", "prompt id"),
        (
            {"tools": ["git_status"]},
            {"git": {"prompts": ["g1"], "threshold": ">= 0.5"}},
            "  git:",
            "name of a category",
        ),
        ({"tools": ["git_status"]}, {"overall": {"prompts": ["g1"], "threshold": ">= 0.5"}}, "  overall:", "reserved"),
        ({"tools": ["git_status"]}, {"rate": {"threshold": ">= 0.5"}}, "  rate:", "names no prompts"),
        ({"tools": ["git_status"]}, {"rate": {"prompts": ["g1"], "threshold": "most"}}, "threshold: most", "match"),
    ],
)
def test_direct_fields_and_metric_errors_name_their_line(tmp_path, expect, metrics, at, needle):
    over: dict = {}
    if metrics:
        over["metrics"] = metrics
    data = yaml.safe_load(_minimal(**over))
    data["prompts"][0]["expect"] = expect
    text = yaml.safe_dump(data, sort_keys=False)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert needle in info.value.describe()
    assert info.value.line == _line_of(text, at), info.value.describe()


@pytest.mark.parametrize("name", ["phase26", "phase33", "tasks"])
def test_each_project_suite_is_valid_against_the_exported_schema_and_packaged_as_it_is(name):
    from pytest_punie.suites import packaged_suites

    ours = ROOT / "evalsuites" / f"{name}.yaml"
    jsonschema.validate(yaml.safe_load(ours.read_text()), suite_schema())
    packaged = packaged_suites()
    assert set(packaged) == {"phase26", "phase33", "tasks"}
    assert load_suite(packaged[name]).digest == load_suite(ours).digest


def test_a_direct_prompt_and_a_metric_load(tmp_path):
    data = yaml.safe_load(_minimal(metrics={"rate": {"categories": ["git"], "prompts": ["g1"], "threshold": ">= 50%"}}))
    data["prompts"].append({"id": "d1", "category": "git", "query": "What is git?", "expect": {"direct": True}})
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    suite = load_suite(path)
    assert suite.prompt("d1").expect.kind == "direct" and suite.prompt("d1").expect.tools == ()
    assert suite.metrics["rate"].prompts == ("g1", "d1") and suite.metrics["rate"].threshold.value == Fraction(1, 2)
    assert suite.legacy_rules == "phase33" and suite.prompt("g1").expect.legacy_rules == "phase33"


def test_a_reproducibility_rule_is_parsed_and_checked_at_its_line(tmp_path):
    path = tmp_path / "rule.yaml"
    path.write_text(_minimal(reproducibility={"seeds_passing": 3, "of": 5, "overall": ">= 80%"}))
    rule = load_suite(path).extra["reproducibility"]
    assert (rule["seeds_passing"], rule["of"], rule["overall"].value) == (3, 5, Fraction(4, 5))
    path.write_text(_minimal(reproducibility={"seeds_passing": 6, "of": 5, "overall": ">= 0.8"}))
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert "seeds_passing 6 is more than the 5 seeds" in info.value.describe()
    assert info.value.line is not None and info.value.line > 1
