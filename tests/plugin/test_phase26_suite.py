"""The Phase 26 suite runs like Phase 33: items, -k, xdist, every report,
baselines and the gate, its field access rate judged and gated."""

from __future__ import annotations

import json
import shutil

import pytest

from pytest_punie.suite import load_suite

from ..conftest import ROOT
from ..fixtures.make_responses import ARGS, code_mode, completion

PHASE26 = ROOT / "evalsuites" / "phase26.yaml"
PATH = '"src/x.py"'


def answer(prompt, reads_fields: bool = True) -> str:
    """A correct answer (or, with ``reads_fields=False``, the Phase 23 failure: print(result))."""
    e = prompt.expect
    if e.direct:
        return "It is a way to structure code; no tool is needed to answer."
    tools = list(e.tools) if e.match == "all" else [next((t for t in e.tools if t in ARGS), e.tools[0])]
    first, *rest = tools
    lines = [f"result = {first}({ARGS.get(first, PATH)})"]
    fields = list(e.fields) if e.fields_match == "all" else list(e.fields[:1])
    lines += [f"print(result.{f})" for f in fields] if (fields and reads_fields) else ["print(result)"]
    lines += [f"print({t}({ARGS.get(t, PATH)}))" for t in rest]
    return code_mode("\n".join(lines))


def responses(no_fields: set[str] = frozenset()) -> str:
    suite = load_suite(PHASE26)
    rows = []
    for p in suite.prompts:
        text = answer(p, reads_fields=p.id not in no_fields)
        response = completion(text)
        response["punie"] = {"raw_text": text}
        rows.append(json.dumps({"id": p.id, "response": response}))
    return "\n".join(rows) + "\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "evalsuites").mkdir()
    shutil.copy(PHASE26, pytester.path / "evalsuites" / "phase26.yaml")
    shutil.copytree(ROOT / "data", pytester.path / "data")
    pytester.makeini("[pytest]\n")
    (pytester.path / "good.jsonl").write_text(responses())
    # five field-access queries answered by printing the whole result: 15 / 20 = 75% < 80%
    five = {"cond-01", "field-02", "iter-03", "step-04", "step-05"}
    (pytester.path / "weak.jsonl").write_text(responses(five))
    return pytester


def doc_of(project: pytest.Pytester, name: str) -> dict:
    return json.loads((project.path / name).read_text())


def test_correct_answers_pass_every_threshold_and_the_metric(project):
    result = project.runpytest("-m", "eval", "--punie-responses=good.jsonl", "--punie-json=good.json")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=25)
    result.stdout.fnmatch_lines(
        [
            "suite phase26 *thresholds on pass rate",
            "discrimination * 5/5 * 5 *100.0%*>= 1.00 * PASS",
            "overall * 25/25 * 25 *100.0%*",
            "suite metrics *",
            "field_access_rate * 20/20 * 20 *100.0%*100.0%*>= 0.80 * PASS",
            "VERDICT: PASS*",
        ]
    )
    doc = doc_of(project, "good.json")
    assert doc["suites"][0]["metrics"]["field_access_rate"]["passed"] is True
    assert {p["label"] for p in doc["prompts"]} == {"direct-answer", "wrapped-correct"}
    assert doc["provenance"]["sampling"]["default"]["max_tokens"] == 500


def test_the_field_access_rate_fails_the_run_and_the_gate(project):
    project.runpytest("-m", "eval", "--punie-responses=good.jsonl", "--punie-save=prod")
    result = project.runpytest(
        "-m", "eval", "--punie-responses=weak.jsonl", "--punie-compare=prod", "--punie-json=w.json"
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["field_access_rate * 20/20 * 15 *75.0%*>= 0.80 * FAIL", "VERDICT: FAIL*"])
    doc = doc_of(project, "w.json")
    assert doc["gate"]["verdict"] == "FAIL"
    assert "field_access_rate: 75.0% misses its pre-registered threshold >= 0.80" in doc["gate"]["reasons"]
    row = doc["comparison"]["metrics"]["field_access_rate"]
    assert (row["baseline"], row["candidate"], row["worse"], row["better"]) == (1.0, 0.75, 5, 0)
    # each weak answer: legacy and strict agree it misses (print(result) reads no field)
    labels = {p["id"]: p["label"] for p in doc["prompts"] if not p["passed"]}
    assert labels == dict.fromkeys(["cond-01", "field-02", "iter-03", "step-04", "step-05"], "fields-not-read")
    assert doc["scorer_agreement"]["disagree"] == 0


def test_keyword_xdist_and_reports_give_the_same_numbers(project):
    serial = project.runpytest("-m", "eval", "--punie-responses=weak.jsonl", "--punie-json=s.json")
    spread = project.runpytest(
        "-m", "eval", "--punie-responses=weak.jsonl", "--punie-json=x.json", "--punie-html=r.html", "-n", "2"
    )
    assert serial.ret == spread.ret == 1
    a, b = doc_of(project, "s.json"), doc_of(project, "x.json")
    assert a["suites"][0]["metrics"] == b["suites"][0]["metrics"]
    assert [(p["id"], p["scores"], p["label"]) for p in a["prompts"]] == [
        (p["id"], p["scores"], p["label"]) for p in b["prompts"]
    ]
    assert "metric: field_access_rate" in (project.path / "r.html").read_text()
    only = project.runpytest("-m", "eval", "-k", "iteration", "--punie-responses=weak.jsonl", "--punie-json=k.json")
    k = doc_of(project, "k.json")
    assert len(k["prompts"]) == 5 and k["suites"][0]["metrics"]["field_access_rate"]["passed"] is None
    assert only.ret == 0  # iteration 4/5 = 80% holds; overall and the metric are not judged on a partial run
    only.stdout.fnmatch_lines(["field_access_rate * 5/20 * 4 *80.0%*not judged"])
