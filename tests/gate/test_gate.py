"""The regression gate on replayed responses: PASS, FAIL and INCONCLUSIVE,
each from one rule, and a refused comparison when the suite changed."""

from __future__ import annotations

import json

import pytest

from pytest_punie.stats import mcnemar_exact, min_flips_for_significance, pass_hat_k, wilson
from pytest_punie.suite import load_suite

from ..conftest import PHASE33
from ..fixtures.make_responses import call_line, code_mode, completion

RULES = """
overall_max_regression: 0.02
"""


def gate_suite(text: str, lsp_allow: str = "0.10", critical: str | None = None) -> str:
    text = text.replace(
        '  lsp: {threshold: ">= 0.80"}', f'  lsp: {{threshold: ">= 0.80", max_regression: {lsp_allow}}}'
    )
    text = text.replace('overall_threshold: ">= 0.80"', 'overall_threshold: ">= 0.80"\noverall_max_regression: 0.02')
    if critical:
        text = text.replace(f"  - id: {critical}\n", f"  - id: {critical}\n    critical: true\n")
    return text


def responses(flip: set[str] = frozenset()) -> list[dict]:
    """Every prompt answered correctly, except ``flip``: the wrong tool, wrapped (0.1)."""
    suite = load_suite(PHASE33)
    rows = []
    for p in suite.prompts:
        if p.id in flip:
            code = 'x = read_file("a.py")\nprint(x)' if p.expect.match == "any" else call_line(p.expect.tools[0])
        else:
            code = "\n".join(call_line(t) for t in p.expect.tools)
        rows.append({"id": p.id, "response": completion(code_mode(code))})
    return rows


@pytest.fixture
def gate_project(eval_project):
    text = (eval_project.path / "evalsuites" / "phase33.yaml").read_text()
    (eval_project.path / "evalsuites" / "phase33.yaml").write_text(gate_suite(text))

    def run(name: str, flip: set[str] = frozenset(), *args: str):
        path = eval_project.path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in responses(set(flip))))
        return eval_project.runpytest("-m", "eval", f"--punie-responses={path}", f"--punie-json={name}.json", *args)

    eval_project.run_with = run
    return eval_project


def gate_of(project, name: str) -> dict:
    return json.loads((project.path / f"{name}.json").read_text())


def test_same_model_passes(gate_project):
    assert gate_project.run_with("base", set(), "--punie-save=prod").ret == 0
    assert (gate_project.path / ".punie" / "baselines" / "prod.json").is_file()
    result = gate_project.run_with("cand", set(), "--punie-compare=prod", "--punie-compare-md=cmp.md")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*pytest-punie regression gate*", "GATE: PASS"])
    assert gate_of(gate_project, "cand")["gate"]["verdict"] == "PASS"
    assert "# Regression gate: PASS" in (gate_project.path / "cmp.md").read_text()


def test_one_flip_beyond_the_allowance_is_inconclusive(gate_project):
    gate_project.run_with("base", set(), "--punie-save=prod")
    result = gate_project.run_with("cand", {"lsp-03"}, "--punie-compare=prod")
    assert result.ret == 1  # exit 0 only for PASS
    doc = gate_of(gate_project, "cand")
    assert doc["verdict"] == "PASS"  # every threshold still holds ...
    assert doc["gate"]["verdict"] == "INCONCLUSIVE"  # ... but the regression cannot be judged on 1 flip
    assert any(
        r.startswith("lsp: 100.0% -> 82.0% (-18.0%), more than the allowed -10.0%") and "p=1.000" in r
        for r in doc["gate"]["reasons"]
    )
    assert doc["comparison"]["flips"] == [
        {
            "id": "lsp-03",
            "suite": "evalsuites/phase33.yaml",
            "variant": "",
            "category": "lsp",
            "from": True,
            "to": False,
            "score_from": 1.0,
            "score_to": 0.1,
        }
    ]
    assert doc["comparison"]["label_moves"] == {"wrapped-correct -> wrapped-wrong-tool": 1}


def test_a_significant_regression_fails(gate_project):
    gate_project.run_with("base", set(), "--punie-save=prod")
    six = {"lsp-03", "dom-01", "dom-02", "dom-03", "dom-04", "multi-01"}
    result = gate_project.run_with("cand", six, "--punie-compare=prod")
    doc = gate_of(gate_project, "cand")
    assert doc["verdict"] == "PASS"  # thresholds hold (overall 80.9%, domain exactly 60%)
    assert doc["gate"]["verdict"] == "FAIL"
    assert any(
        r.startswith("overall:") and "6 prompts got worse, 0 better (exact McNemar p=0.031)" in r
        for r in doc["gate"]["reasons"]
    )
    assert result.ret == 1


def test_a_critical_prompt_fails_the_gate(eval_project):
    text = (eval_project.path / "evalsuites" / "phase33.yaml").read_text()
    (eval_project.path / "evalsuites" / "phase33.yaml").write_text(gate_suite(text, critical="git-02"))
    for name, flip in (("base", set()), ("cand", {"git-02"})):
        (eval_project.path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in responses(flip)))
    eval_project.runpytest("-m", "eval", "--punie-responses=base.jsonl", "--punie-save=prod")
    eval_project.runpytest("-m", "eval", "--punie-responses=cand.jsonl", "--punie-compare=prod", "--punie-json=c.json")
    reasons = json.loads((eval_project.path / "c.json").read_text())["gate"]["reasons"]
    assert any("critical prompt git-02 failed (wrapped-wrong-tool, score 0.10)" in r for r in reasons)


def test_a_changed_suite_is_refused(gate_project):
    gate_project.run_with("base", set(), "--punie-save=prod")
    suite = gate_project.path / "evalsuites" / "phase33.yaml"
    suite.write_text(suite.read_text().replace('git: {threshold: ">= 0.90"}', 'git: {threshold: ">= 0.60"}'))
    refused = gate_project.run_with("cand", set(), "--punie-compare=prod")
    assert refused.ret == 1
    refused.stdout.fnmatch_lines(["GATE: REFUSED", "*refusing to gate*--punie-allow-suite-change*"])
    allowed = gate_project.run_with("cand2", set(), "--punie-compare=prod", "--punie-allow-suite-change")
    assert gate_of(gate_project, "cand2")["gate"]["verdict"] == "PASS" and allowed.ret == 0


def test_statistics():
    assert wilson(0, 3) == pytest.approx((0.0, 0.5615), abs=1e-4)
    assert wilson(27, 27)[1] == 1.0 and wilson(27, 27)[0] == pytest.approx(0.8754, abs=1e-4)
    assert mcnemar_exact(1, 0) == 1.0
    assert mcnemar_exact(6, 0) == pytest.approx(0.03125)
    assert mcnemar_exact(16, 3) == pytest.approx(0.0044, abs=1e-4)
    assert min_flips_for_significance() == 6
    assert pass_hat_k(3, 3, 3) == 1.0 and pass_hat_k(2, 3, 2) == pytest.approx(1 / 3)


def test_chart_is_a_png_with_the_comparison(gate_project):
    gate_project.run_with("base", set(), "--punie-save=prod")
    result = gate_project.run_with(
        "cand", {"lsp-03"}, "--punie-compare=prod", "--punie-chart=chart.png", "--punie-compare-md=cmp.md"
    )
    result.stdout.fnmatch_lines(["wrote cmp.md", "*wrote chart.png"])  # never written silently
    data = (gate_project.path / "chart.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
