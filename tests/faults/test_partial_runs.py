"""Nothing partial or interrupted becomes a number: an interrupted run is
neither judged nor saved; a partial run is never a baseline and is compared
only like with like; a partial baseline is refused."""

from __future__ import annotations

import json

B33 = "--punie-responses=phase33b_responses.jsonl"

INTERRUPT_AFTER_3 = """
import pytest
seen = []
def pytest_runtest_call(item):
    seen.append(item.nodeid)
    if len(seen) == 4:
        raise KeyboardInterrupt
"""


def test_an_interrupted_run_is_not_judged_and_never_a_baseline(eval_project):
    eval_project.makeconftest(INTERRUPT_AFTER_3)
    result = eval_project.runpytest_subprocess("-m", "eval", B33, "--punie-save=partial", "--punie-json=out.json")
    assert result.ret == 2
    result.stdout.fnmatch_lines(
        [
            "VERDICT: INCOMPLETE (the run was interrupted (Ctrl-C or a signal) before every item ran: "
            "nothing is judged, saved or gated)",
            "GATE: REFUSED",
            "not saved as baseline 'partial': the run was interrupted (the run was interrupted (Ctrl-C or a signal)*",
        ]
    )
    assert not (eval_project.path / ".punie" / "baselines" / "partial.json").exists()
    doc = json.loads((eval_project.path / "out.json").read_text())
    assert doc["verdict"] == "INCOMPLETE" and doc["completeness"]["state"] == "interrupted"
    assert len(doc["prompts"]) == 3


def test_a_partial_run_is_refused_as_a_baseline(eval_project):
    result = eval_project.runpytest("-m", "eval", "-k", "domain", B33, "--punie-save=part")
    result.stdout.fnmatch_lines(["not saved as baseline 'part': the run was partial (phase33: 9 of 27 prompts ran)"])
    assert not (eval_project.path / ".punie" / "baselines" / "part.json").exists()


def test_a_partial_run_is_compared_like_with_like_and_cannot_pass(eval_project):
    assert eval_project.runpytest("-m", "eval", B33, "--punie-save=prod").ret == 0
    result = eval_project.runpytest("-m", "eval", "-k", "domain", B33, "--punie-compare=prod", "--punie-json=c.json")
    result.stdout.fnmatch_lines(
        [
            "compared on the 9 prompts both runs have (candidate 9, baseline 27); each side's scores recomputed *",
            "domain * 60.0% * 60.0% * +0.0 *",
            "overall * 60.0% * 60.0% * +0.0 *",  # not 82.4% (27 prompts) against 60.0% (9)
            "GATE: INCONCLUSIVE",
            "  - the candidate run was partial (9 of 27 prompts ran): a PASS needs the whole suite",
        ]
    )
    assert result.ret == 1
    doc = json.loads((eval_project.path / "c.json").read_text())
    assert doc["comparison"]["scope"] == {
        "common_prompts": 9,
        "candidate_prompts": 9,
        "baseline_prompts": 27,
        "restricted": True,
    }


def test_a_partial_baseline_is_refused(eval_project):
    assert eval_project.runpytest("-m", "eval", B33, "--punie-json=whole.json").ret == 0
    doc = json.loads((eval_project.path / "whole.json").read_text())
    doc["completeness"] = {"state": "partial", "reasons": ["phase33: 9 of 27 prompts ran"]}
    (eval_project.path / "old.json").write_text(json.dumps(doc))
    result = eval_project.runpytest("-m", "eval", B33, "--punie-compare=old.json")
    result.stdout.fnmatch_lines(["GATE: REFUSED", "*the baseline was itself partial (phase33: 9 of 27 prompts ran)*"])
    assert result.ret == 1
    del doc["completeness"]  # a document from before completeness was recorded: judged by its suites
    doc["suites"][0]["complete"] = False
    (eval_project.path / "older.json").write_text(json.dumps(doc))
    result = eval_project.runpytest("-m", "eval", B33, "--punie-compare=older.json")
    result.stdout.fnmatch_lines(["GATE: REFUSED", "*the baseline was itself partial*"])
