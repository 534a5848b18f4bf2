"""Data lint as pytest items (-m data), through pytester."""

from __future__ import annotations

import json
import shutil

from ..conftest import FIXTURES, ROOT


def test_suite_datasets_are_linted_as_items(eval_project):
    """The embedded data serves both suites: linted against both, it is clean; against
    Phase 33 alone, Phase 26's system prompt in it is a finding at its first line."""
    shutil.copytree(ROOT / "data", eval_project.path / "data")
    alone = eval_project.runpytest("-m", "data", "-q")
    alone.assert_outcomes(passed=12, failed=1, skipped=1)
    alone.stdout.fnmatch_lines(["*data/*.jsonl:*: error: system prompt differs from the eval suite's system prompt*"])
    shutil.copy(ROOT / "evalsuites" / "phase26.yaml", eval_project.path / "evalsuites" / "phase26.yaml")
    result = eval_project.runpytest("-m", "data", "-q", "--punie-json=clean.json", "--punie-md=clean.md")
    result.assert_outcomes(passed=13, skipped=1)  # length needs --punie-tokenizer
    assert result.ret == 0
    # clean data still gets the document asked for: a CI step reading it never fails because the data is good
    doc = json.loads((eval_project.path / "clean.json").read_text())
    assert doc["findings"] == [] and doc["checks"] == {"ran": 13, "failed": 0, "findings": 0}
    assert (eval_project.path / "clean.md").read_text().startswith("# Checks: no findings")


def test_defective_dataset_fails_each_check_at_file_and_line(eval_project):
    shutil.copytree(FIXTURES / "defective", eval_project.path / "bad")
    result = eval_project.runpytest("-m", "data", "--punie-data=bad", "--punie-json=f.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*known-tools: only tools the sandbox has are called*",
            "  bad/train.jsonl:1: error: message 2: calls 'validate_component_direct', not in the sandbox*",
            "  bad/train.jsonl:4: error: message 2: reads HoverResult.type_info, which does not exist",
        ]
    )
    doc = json.loads((eval_project.path / "f.json").read_text())
    keys = {(f["check"], f["path"], f["line"]) for f in doc["findings"]}
    assert ("split-leak", "bad/valid.jsonl", 1) in keys and ("eval-contamination", "bad/train.jsonl", 9) in keys
    assert all(set(f) == {"check", "severity", "path", "line", "message"} for f in doc["findings"])
    assert "Traceback" not in result.stdout.str()


def test_a_dataset_is_held_to_every_suite_it_serves_whatever_is_selected(eval_project):
    """Selecting one suite by its path lints its dataset against every suite that names it: the
    same findings (none, here) as a run of both suites."""
    shutil.copytree(ROOT / "data", eval_project.path / "data")
    shutil.copy(ROOT / "evalsuites" / "phase26.yaml", eval_project.path / "evalsuites" / "phase26.yaml")
    for selection in (["evalsuites/phase33.yaml"], ["evalsuites/phase26.yaml"], []):
        result = eval_project.runpytest("-m", "data", "-q", *selection)
        result.assert_outcomes(passed=13, skipped=1)
        assert "system prompt differs" not in result.stdout.str()
