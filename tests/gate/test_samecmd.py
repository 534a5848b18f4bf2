"""`python -m pytest_punie same A B`: two documents the same prompt for prompt, or the differences
named; runs that answered nothing are never "the same"."""

from __future__ import annotations

import copy
import json

from pytest_punie.cli.samecmd import compare, main


def doc(*tokens: list[int] | None) -> dict:
    prompts = []
    for i, t in enumerate(tokens):
        response = {"punie": {"token_ids": t}} if t is not None else None
        row = {"suite": "s.yaml", "variant": "seed=1", "id": f"p{i}", "scores": {"strict": 1.0}}
        prompts.append({**row, "label": "wrapped-correct", "response": response, "error": None if t else "timeout"})
    return {"prompts": prompts, "categories": [{"name": "all"}], "verdict": "PASS"}


def test_the_same_answers_are_the_same_and_a_token_apart_is_not():
    a = doc([1, 2], [3])
    assert compare(a, copy.deepcopy(a)) == []
    b = copy.deepcopy(a)
    b["prompts"][1]["response"]["punie"]["token_ids"] = [4]
    assert compare(a, b) == ["s.yaml[seed=1]::p1: token ids differ"]
    b["prompts"][1]["label"] = "prose"
    assert compare(a, b) == ["s.yaml[seed=1]::p1: label, token ids differ"]


def test_two_runs_that_answered_nothing_are_not_the_same():
    a = doc(None, None)
    out = compare(a, copy.deepcopy(a))
    assert "no prompt was answered: nothing was measured to compare" in out
    assert "s.yaml[seed=1]::p0: not answered in both" in out


def test_the_command_says_so_and_its_exit_status_is_the_answer(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(doc([1], [2])))
    (tmp_path / "b.json").write_text(json.dumps(doc([1], [5])))
    assert main([str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 0
    assert "the same: 2 answered prompts" in capsys.readouterr().out
    assert main([str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 1
    assert "p1: token ids differ" in capsys.readouterr().out
    assert main([str(tmp_path / "a.json"), str(tmp_path / "missing.json")]) == 2
    assert "missing.json: no results document here" in capsys.readouterr().err
