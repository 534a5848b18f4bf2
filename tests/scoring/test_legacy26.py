"""The Phase 26 validation suite's scorers: the legacy one is the script's
substring rules on the raw text, rule for rule; the strict one judges the intent.

The oracle below is the reference's rules restated independently
(../shared/reference/phase26-validation.md, "Scoring rules")."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.results import judge_prompt
from pytest_punie.scoring import score_response
from pytest_punie.scoring.legacy26 import FIELD_PATTERNS, score_legacy26, text_of
from pytest_punie.suite import load_suite
from pytest_punie.verdict import judge_suite

from ..conftest import ROOT
from ..fixtures.make_responses import code_mode, completion

PHASE26 = ROOT / "evalsuites" / "phase26.yaml"
REFERENCE_PATTERNS = [
    "result.error_count",
    "result.warning_count",
    "result.success",
    "result.errors",
    "result.violation_count",
    "result.fixable_count",
    "result.violations",
    "result.passed",
    "result.failed",
    "result.tests",
    ".errors[",
    ".violations[",
    ".tests[",
    "for error in result.errors",
    "for v in result.violations",
    "for test in result.tests",
]


def legacy_and_strict(scores: dict) -> dict:
    """The two text scorers' scores (the outcome scorer, which runs programs, is tested in tests/sandbox)."""
    return {k: scores[k] for k in ("legacy", "strict")}


def oracle(kind: str, text: str) -> int:
    tool = "<tool_call>" in text or "```json" in text
    if kind == "direct":
        return int(not tool)
    if kind == "tool":
        return int(tool)
    return int(tool and any(p in text for p in REFERENCE_PATTERNS))


def raw(text: str) -> dict:
    """A response as the in-process backend records it: the raw text kept."""
    r = completion(text)
    r["punie"] = {"raw_text": text}
    return r


@pytest.fixture(scope="module")
def phase26():
    return load_suite(PHASE26)


@pytest.fixture(scope="module")
def by_kind(phase26):
    return {
        kind: next(p for p in phase26.prompts if p.expect.kind == kind) for kind in ("direct", "tool", "field_access")
    }


def legacy(prompt, response) -> Fraction:
    return score_response(response, prompt, load_surface_default()).scores["legacy"]


def load_surface_default():
    from pytest_punie.toolsurface import load_surface

    return load_surface()


def test_the_suite_is_the_reference_25_queries(phase26):
    sizes: dict[str, int] = {}
    for p in phase26.prompts:
        sizes[p.category] = sizes.get(p.category, 0) + 1
    assert sizes == {"discrimination": 5, "conditional": 5, "field_access": 5, "iteration": 5, "multi_step": 5}
    kinds = [p.expect.kind for p in phase26.prompts]
    assert kinds.count("direct") == 3 and kinds.count("tool") == 2 and kinds.count("field_access") == 20
    assert {k: c.threshold.text for k, c in phase26.categories.items()} == {
        "discrimination": ">= 1.00",
        "conditional": ">= 0.80",
        "field_access": ">= 0.80",
        "iteration": ">= 0.80",
        "multi_step": ">= 0.60",
    }
    assert phase26.overall.text == ">= 0.80"
    rate = phase26.metrics["field_access_rate"]
    assert rate.threshold.text == ">= 0.80"
    assert set(rate.prompts) == {p.id for p in phase26.prompts if p.expect.kind == "field_access"}
    assert phase26.system_prompt == (
        "You are Punie, an AI coding assistant that helps with Python development via PyCharm."
    )
    assert phase26.sampling.max_tokens == 500 and phase26.sampling.stop == () and phase26.sampling.temperature == 0
    assert phase26.primary_scorer == "legacy" and phase26.legacy_rules == "phase26"
    assert list(FIELD_PATTERNS) == REFERENCE_PATTERNS


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("direct", "Dependency injection passes collaborators in from outside.", 1),
        ("direct", 'Use TypedDict for dict-shaped data, e.g.\n```json\n{"a": 1}\n```', 0),  # the fence quirk
        ("direct", "<tool_call>\nprint(1)\n</tool_call>", 0),
        ("tool", "<tool_call>\nr = typecheck('src/')\n</tool_call>", 1),
        ("tool", '```json\n{"name": "typecheck"}\n```', 1),
        ("tool", "Run typecheck on src/.", 0),
        ("field_access", code_mode('result = typecheck("src/")\nprint(result.error_count)'), 1),
        ("field_access", code_mode('result = typecheck("src/")\nfor error in result.errors:\n    print(error)'), 1),
        ("field_access", code_mode('r = typecheck("src/")\nprint(r.errors[0])'), 1),  # ".errors[" matches
        ("field_access", code_mode('r = typecheck("src/")\nprint(r.error_count)'), 0),  # not "result."
        ("field_access", code_mode('result = typecheck("src/")\nprint(result)'), 0),  # the Phase 23 failure
        ("field_access", "Look at result.error_count to see it.", 0),  # a pattern but no call
        ("field_access", code_mode('print(typecheck("src/"))') + "\nThen check result.errors.", 1),  # outside the call
    ],
)
def test_each_rule_and_its_edges(by_kind, kind, text, expected):
    assert oracle(kind, text) == expected  # the oracle says what the reference says
    assert score_legacy26(raw(text), by_kind[kind].expect)[0] == expected


@given(
    kind=st.sampled_from(["direct", "tool", "field_access"]),
    parts=st.lists(
        st.sampled_from(["<tool_call>", "</tool_call>", "```json", "```", "result.", "errors[", "x", " ", "\n"])
        | st.sampled_from(REFERENCE_PATTERNS)
        | st.text(max_size=8),
        max_size=12,
    ),
)
def test_legacy26_equals_the_reference_rules_on_any_text(by_kind, kind, parts):
    text = "".join(parts)
    assert score_legacy26(raw(text), by_kind[kind].expect)[0] == oracle(kind, text)


def test_the_raw_text_is_read_not_the_served_message(by_kind):
    """In process the script read the raw text: a call a server would parse out still counts."""
    text = code_mode('result = ruff_check("src/")\nprint(result.violation_count)')
    served = completion(None, "tool_calls", [{"function": {"name": "execute_code", "arguments": "{}"}}])
    served["punie"] = {"raw_text": text}
    assert score_legacy26(served, by_kind["field_access"].expect)[0] == 1


def test_without_raw_text_served_calls_are_written_back(by_kind):
    args = '{"code": "result = typecheck(\\"src/\\")\\nprint(result.error_count)"}'
    served = completion("", "tool_calls", [{"function": {"name": "execute_code", "arguments": args}}])
    assert "<tool_call>" in text_of(served) and "result.error_count" in text_of(served)
    assert score_legacy26(served, by_kind["field_access"].expect)[0] == 1
    assert score_legacy26(None, by_kind["direct"].expect)[0] == 0  # no response scores 0, even for direct


def test_strict_judges_the_intent(phase26):
    surface = load_surface_default()
    disc = phase26.prompt("disc-03")
    fenced = score_response(raw('Use TypedDict for JSON-like dicts:\n```json\n{"id": 1}\n```'), disc, surface)
    assert legacy_and_strict(fenced.scores) == {"legacy": 0, "strict": 1} and fenced.label == "direct-answer"
    pseudo = score_response(raw('```json\n{"name": "typecheck", "arguments": {"path": "src/"}}\n```'), disc, surface)
    assert pseudo.scores["strict"] == 0 and pseudo.label == "needless-call"
    called = score_response(raw(code_mode('print(read_file("a.py"))')), disc, surface)
    assert legacy_and_strict(called.scores) == {"legacy": 0, "strict": 0} and called.label == "needless-call"
    empty = score_response(raw(""), disc, surface)
    assert empty.scores["strict"] == 0 and "no answer in words" in empty.strict.problems[0]

    field = phase26.prompt("field-01")
    prose = code_mode('result = typecheck("src/")\nprint(result)') + "\nThe count is in result.error_count."
    in_prose = score_response(raw(prose), field, surface)
    assert legacy_and_strict(in_prose.scores) == {"legacy": 1, "strict": 0} and in_prose.label == "fields-not-read"
    assert "result fields not read by the program: error_count or errors" in in_prose.strict.problems[0]
    loop = code_mode('result = typecheck("src/")\nfor error in result.errors:\n    print(error.line)')
    assert legacy_and_strict(score_response(raw(loop), phase26.prompt("iter-01"), surface).scores) == {
        "legacy": 1,
        "strict": 1,
    }
    renamed = code_mode('r = typecheck("src/")\nprint(r.error_count)')
    assert legacy_and_strict(score_response(raw(renamed), field, surface).scores) == {"legacy": 0, "strict": 1}
    bad = code_mode('result = typecheck("src/")\nprint(result.error_count, result.type_errors)')
    bad_scored = score_response(raw(bad), field, surface)
    assert bad_scored.scores["strict"] == 0 and bad_scored.label == "bad-field"

    both = phase26.prompt("step-05")  # all of violation_count and fixable_count
    one = code_mode('result = ruff_check("src/")\nprint(result.violation_count)')
    assert score_response(raw(one), both, surface).scores["strict"] == 0
    two = code_mode('result = ruff_check("src/")\nprint(result.violation_count, result.fixable_count)')
    assert score_response(raw(two), both, surface).scores["strict"] == 1


def test_field_access_rate_is_correct_over_the_twenty(phase26):
    """Twenty field-access queries; 13 answered with a read field: 65%, below the 80% target."""
    responses = {}
    for i, p in enumerate(phase26.prompts):
        if p.expect.kind == "direct":
            responses[p.id] = raw("It is a design choice.")
        elif p.expect.kind == "tool":
            responses[p.id] = raw(code_mode('print(typecheck("src/").error_count)'))
        else:
            reads = i % 3 != 0  # 13 of the 20 read a field
            code = 'result = typecheck("src/")\n' + ("print(result.errors)" if reads else "print(result)")
            responses[p.id] = raw(code_mode(code))
    from pytest_punie.backends import ResponseRecord

    results = [judge_prompt(str(PHASE26), phase26, p, [ResponseRecord(responses[p.id])]) for p in phase26.prompts]
    field = [r for r in results if phase26.prompt(r.id).expect.kind == "field_access"]
    expected = Fraction(sum(oracle("field_access", responses[r.id]["punie"]["raw_text"]) for r in field), 20)
    assert expected == Fraction(13, 20)
    verdict = judge_suite(phase26, results)
    rate = verdict.metrics["field_access_rate"]
    assert (rate.pass_rate, rate.prompts_run, rate.prompts_total, rate.passed) == (Fraction(13, 20), 20, 20, False)
    assert verdict.categories["discrimination"].passed is True
    assert not verdict.passed  # the metric's miss alone would fail the suite
    # a run without some of the metric's prompts does not judge it
    partial = judge_suite(phase26, [r for r in results if r.id != "cond-01"])
    assert partial.metrics["field_access_rate"].passed is None
