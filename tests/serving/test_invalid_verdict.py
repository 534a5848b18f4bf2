"""A run whose primary scores depend on calls the serving path dropped is
INVALID: not PASS, not FAIL, its own exit status, never a baseline. Scorer
agreement is in every report. Through pytester, as users run it."""

from __future__ import annotations

import json

import pytest

from pytest_punie.scoring.agreement import SERVING_DROP

from ..conftest import read_jsonl

INVALID_EXIT = 6


def dropped(row: dict) -> dict:
    """The recorded answer as mlx_lm server returns it when its parser
    cannot read the call: content null, no tool_calls; the raw text kept."""
    raw = row["response"]["choices"][0]["message"]["content"]
    response = {
        **row["response"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "tool_calls"}],
        "punie": {"raw_text": raw, "token_ids": []},
    }
    return {"id": row["id"], "response": response}


@pytest.fixture
def dropped_project(eval_project):
    """Phase 33b's answers (21 perfect Code Mode calls), every call dropped by the server."""
    rows = [r for r in read_jsonl(eval_project.path / "phase33b_responses.jsonl") if "id" in r]
    out = [dropped(r) if "<tool_call>" in r["response"]["choices"][0]["message"]["content"] else r for r in rows]
    (eval_project.path / "dropped.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))
    return eval_project


def test_dropped_calls_make_the_run_invalid_not_failed(dropped_project):
    result = dropped_project.runpytest("-m", "eval", "--punie-responses=dropped.jsonl", "--punie-json=out.json")
    assert result.ret == INVALID_EXIT
    result.stdout.fnmatch_lines(
        [
            "served: calls dropped 26, raw text unavailable 1*",
            "scorer agreement: legacy and strict agree on * of 27 prompts*",
            "  text-01: legacy fail (0.00), strict pass (1.00): dropped call: the serving path dropped*",
            "WARNING: INVALID: the serving path dropped the tool calls of 26 prompt(s) (text-01, *), and the legacy "
            "score of each depends on them*",
            "VERDICT: INVALID (the measurement is broken, not the model judged*exit status 6)",
        ]
    )
    doc = json.loads((dropped_project.path / "out.json").read_text())
    assert doc["verdict"] == "INVALID" and doc["overall"]["passed"] is False
    assert [w["code"] for w in doc["warnings"]] == ["dropped-calls"]
    assert len(doc["warnings"][0]["prompts"]) == 26
    text01 = next(p for p in doc["prompts"] if p["id"] == "text-01")
    assert text01["served"] == "dropped" and text01["scores"] == {"legacy": 0.0, "strict": 1.0, "outcome": 1.0}
    assert text01["details"]["served"]["scores_as_written"] == {"legacy": "1", "strict": "1", "outcome": "1"}
    agreement = doc["scorer_agreement"]
    assert agreement["prompts"] == 27 and agreement["agree"] + agreement["disagree"] == 27
    assert {d["reason"] for d in agreement["disagreements"]} >= {SERVING_DROP}


def test_the_strict_scorer_reads_the_raw_text_so_its_run_is_valid(dropped_project):
    """Judged with strict, nothing depends on the drop: a real verdict (FAIL), exit 1."""
    result = dropped_project.runpytest(
        "-m", "eval", "--punie-responses=dropped.jsonl", "--punie-scorer=strict", "--punie-json=out.json"
    )
    assert result.ret == 1
    doc = json.loads((dropped_project.path / "out.json").read_text())
    assert doc["verdict"] == "FAIL" and doc["warnings"] == []


def test_an_invalid_run_is_never_saved_or_gated(dropped_project):
    result = dropped_project.runpytest("-m", "eval", "--punie-responses=dropped.jsonl", "--punie-save=cand")
    assert result.ret == INVALID_EXIT
    result.stdout.fnmatch_lines(["GATE: REFUSED", "an INVALID run is neither saved as a baseline nor gated: INVALID*"])
    assert not (dropped_project.path / ".punie" / "baselines" / "cand.json").exists()
    ok = dropped_project.runpytest("-m", "eval", "--punie-responses=phase33b_responses.jsonl", "--punie-save=prod")
    assert ok.ret == 0
    gated = dropped_project.runpytest("-m", "eval", "--punie-responses=dropped.jsonl", "--punie-compare=prod")
    assert gated.ret == INVALID_EXIT
    gated.stdout.fnmatch_lines(["GATE: REFUSED"])


def test_markdown_shows_the_warning_and_the_disagreements(dropped_project):
    dropped_project.runpytest("-m", "eval", "--punie-responses=dropped.jsonl", "--punie-md=out.md")
    md = (dropped_project.path / "out.md").read_text()
    assert "> **WARNING** INVALID: the serving path dropped the tool calls of 26 prompt(s)" in md
    assert "**Verdict: INVALID**" in md
    assert "| text-01 | fail 0.00 | pass 1.00 | dropped call: the serving path dropped" in md
    assert "| text-01 | text_tools | 0.00 | 1.00 | no | wrapped-correct | dropped |" in md
