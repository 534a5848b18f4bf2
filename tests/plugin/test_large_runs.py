"""Thousands of prompts: pytest's own failure sections cost failures x reports (each failure's
teardown reports found by scanning every report), so above 2,000 prompts, with no --tb given, each
miss is listed on one line, and the run says so once; a --tb given is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scaled(pytester: pytest.Pytester) -> pytest.Pytester:
    """phase33 copied 100 times (2,700 prompts) and the reference answers of every copy."""
    suite = yaml.safe_load((ROOT / "evalsuites" / "phase33.yaml").read_text())
    prompts = suite["prompts"]
    suite["prompts"] = [{**p, "id": f"{p['id']}-{c}"} for c in range(100) for p in prompts]
    (pytester.path / "evalsuites").mkdir()
    text = yaml.safe_dump(json.loads(json.dumps(suite)), sort_keys=False)
    (pytester.path / "evalsuites" / "scaled.yaml").write_text(text)
    rows = [json.loads(x) for x in (ROOT / "tests" / "fixtures" / "phase33b_responses.jsonl").read_text().splitlines()]
    answers = {r["id"]: r["response"] for r in rows[1:]}
    lines = [json.dumps({"id": f"{p['id']}-{c}", "response": answers[p["id"]]}) for c in range(100) for p in prompts]
    (pytester.path / "answers.jsonl").write_text("\n".join(lines) + "\n")
    pytester.makeini("[pytest]\n")
    return pytester


def test_a_run_of_thousands_of_prompts_lists_each_miss_on_one_line_unless_tb_is_given(scaled):
    common = ["-m", "eval", "--punie-responses=answers.jsonl", "-x", "-p", "no:cacheprovider"]
    quiet = scaled.runpytest(*common)
    quiet.stdout.fnmatch_lines(["pytest-punie: 2,700 prompts: each miss is one line (--tb=line)*"])
    out = quiet.stdout.str()
    assert "= FAILURES =" in out and "_ phase33::" not in out  # the miss's line, not its section
    assert quiet.parseoutcomes()["failed"] == 1
    sampling = next(line for line in out.splitlines() if line.startswith("sampling: "))
    assert len(sampling) < 400 and "and 196 more" in sampling  # 200 prompts' own max_tokens, not all listed
    given = scaled.runpytest(*common, "--tb=short")
    assert "each miss is one line" not in given.stdout.str()
    given.stdout.fnmatch_lines(["*_ phase33::dom-02-0 *"])  # the section pytest draws for a failure
