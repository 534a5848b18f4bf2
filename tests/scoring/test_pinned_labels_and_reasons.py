"""More behaviours pinned where mutants survived: labels at their edges, the
reasons given for scorer disagreements, sample reduction, direct answers and
the legacy extractions' odd shapes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pytest_punie.scoring import score_response
from pytest_punie.scoring.agreement import SERVING_DROP, disagreement_reason, scorer_agreement
from pytest_punie.scoring.legacy import legacy_extract
from pytest_punie.scoring.legacy26 import score_legacy26, text_of
from pytest_punie.scoring.reduce import combine_samples
from pytest_punie.suite.suitetypes import Expectation, Prompt

from ..fixtures.make_responses import code_mode, completion

TYPECHECK = Expectation(tools=("typecheck",), keywords=("typecheck",))
DIRECT = Expectation(tools=(), keywords=(), direct=True)


def legacy_and_strict(scores: dict) -> dict:
    """The two text scorers' scores (the outcome scorer, which runs programs, is tested in tests/sandbox)."""
    return {k: scores[k] for k in ("legacy", "strict")}


def prompt(expect: Expectation = TYPECHECK) -> Prompt:
    return Prompt("p", "c", "q", expect, None, False, 1)


def label(response: dict, surface, expect: Expectation = TYPECHECK) -> str:
    return score_response(response, prompt(expect), surface).label


# -- labels ----------------------------------------------------------------------------------
def test_unknown_only_without_raw_text_and_with_a_drop_sign(surface):
    assert label(completion(None, "tool_calls"), surface) == "unknown"
    assert label(completion(None, "stop"), surface) == "unknown"  # content null: the server kept nothing
    assert label(completion("", "tool_calls"), surface) == "unknown"
    assert label(completion("", "stop"), surface) == "empty"
    kept = completion(None, "tool_calls")
    kept["punie"] = {"raw_text": ""}
    assert label(kept, surface) == "empty"  # the raw text says the model wrote nothing


@pytest.mark.parametrize(
    ("text", "finish", "expected"),
    [
        (code_mode("import os\nprint(typecheck('a').error_count)"), "stop", "sandbox-violation"),
        (code_mode("print(typecheck('a').nope)"), "stop", "bad-field"),
        ("<tool_call><function=execute_code>\n<parameter=code>\nprint(1)", "length", "truncated"),
        ("<tool_call><function=execute_code>\n<parameter=code>\nprint(1)", "stop", "unclosed-call"),
        ("<think>hmm", "length", "think-unclosed"),
        ("<think>hmm</think>", "stop", "empty"),
        ("Run typecheck on it.", "stop", "prose"),
    ],
)
def test_labels_at_their_edges(text, finish, expected, surface):
    assert label(completion(text, finish), surface) == expected


def test_a_wrapped_call_missing_one_of_all_is_partial_and_one_of_any_is_correct(surface):
    both = Expectation(tools=("typecheck", "read_file"), keywords=("typecheck", "read_file"), match="all")
    either = Expectation(tools=("typecheck", "read_file"), keywords=("typecheck", "read_file"), match="any")
    one = completion(code_mode('print(read_file("a.py"))'))
    assert label(one, surface, both) == "wrapped-partial" and label(one, surface, either) == "wrapped-correct"


# -- direct answers ----------------------------------------------------------------------------
def test_a_direct_answer_counts_every_kind_of_call(surface):
    text = code_mode('print(read_file("a.py"))') + "<tool_call><function=typecheck>\n</function></tool_call>"
    text += "<tool_call>{broken"
    s = score_response(completion(text), prompt(DIRECT), surface).strict
    assert (s.wrapped_calls, s.direct_calls, s.incomplete_calls) == (1, ["typecheck"], 1)
    assert s.tools_called == ["execute_code", "typecheck", "execute_code"] and s.score == 0
    assert s.problems == [
        "a tool was called where a direct answer was expected: execute_code, typecheck, execute_code",
        "no answer in words",
    ]
    fenced = '```json\n{"name": "typecheck", "arguments": {}}\n```\nor so'
    s = score_response(completion(fenced), prompt(DIRECT), surface).strict
    assert s.fenced_calls == ["typecheck"] and s.problems == [
        "wrote a call as a fenced JSON block instead of answering: typecheck"
    ]
    thinking = score_response(completion("<think>a long thought"), prompt(DIRECT), surface).strict
    assert thinking.problems == ["no answer in words (the <think> block never closed)"]


def test_an_argument_is_matched_by_keyword_or_position(surface):
    exp = Expectation(tools=("typecheck",), keywords=("typecheck",), args={"typecheck": {"path": r"src/.*"}})
    for code in ('typecheck("src/a")', 'typecheck(path="src/a")'):
        assert score_response(completion(code_mode(code)), prompt(exp), surface).scores["strict"] == 1
    for code in ('typecheck("lib/a")', "typecheck()", 'typecheck(path="lib/")', 'read_file("src/a")'):
        assert score_response(completion(code_mode(code)), prompt(exp), surface).scores["strict"] == 0


def test_the_first_syntax_error_is_the_one_reported(surface):
    text = code_mode("print(1") + code_mode("x = (") + code_mode('print(typecheck("a").error_count)')
    s = score_response(completion(text), prompt(), surface).strict
    assert s.wrapped_calls == 3 and s.syntax_error is not None and "line 1" in s.syntax_error
    assert s.problems[0] == f"program does not parse: {s.syntax_error}" and s.score == 0


# -- disagreement reasons ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label_", "served", "legacy_passed", "start"),
    [
        ("wrapped-correct", "dropped", True, SERVING_DROP),
        ("direct-answer", None, False, "direct answer showing ```json"),
        ("fields-not-read", None, True, "field named outside the program"),
        ("direct-call", None, True, "direct call:"),
        ("prose", None, True, "prose naming a tool"),
        ("bad-field", None, True, "bad-field: the program would not run"),
        ("wrapped-wrong-tool", None, True, "keyword substring"),
        ("wrapped-partial", None, False, "wrapped-partial: strict credits the calls"),
        ("wrapped-correct", None, False, "wrapped-correct: strict credits the calls"),
    ],
)
def test_each_disagreement_reason(label_, served, legacy_passed, start):
    assert disagreement_reason(label_, served, legacy_passed, {"problems": ["p1"]}).startswith(start)


@pytest.mark.parametrize(
    ("label_", "legacy_passed"),
    [("direct-answer", True), ("fields-not-read", False), ("wrapped-wrong-tool", False), ("wrapped-correct", True)],
)
def test_otherwise_the_first_problem_or_the_label_is_the_reason(label_, legacy_passed):
    assert disagreement_reason(label_, "parsed", legacy_passed, {"problems": ["p1", "p2"]}) == f"{label_}: p1"
    assert disagreement_reason(label_, None, legacy_passed, {}) == label_


def test_agreement_at_the_pass_score_and_rounded_scores():
    def p(legacy: str, strict: str, error: str | None = None) -> dict:
        return {
            "id": "x",
            "suite": "s.yaml",
            "scores_exact": {"legacy": legacy, "strict": strict},
            "error": error,
            "label": "prose",
            "details": {},
        }

    got = scorer_agreement([p("1/2", "1/3"), p("1/2", "1/2"), p("1", "1", error="timeout")], {"s.yaml": Fraction(1, 2)})
    assert (got["prompts"], got["agree"], got["disagree"]) == (3, 2, 1)
    (d,) = got["disagreements"]
    assert (d["legacy"], d["strict"], d["legacy_passed"], d["strict_passed"]) == (0.5, 0.333333, True, False)
    assert d["variant"] == ""


# -- samples -----------------------------------------------------------------------------------
def test_samples_reduce_to_exact_means_rates_and_pass_hat_k(surface):
    good = score_response(completion(code_mode('print(typecheck("a").error_count)')), prompt(), surface)
    bad = score_response(completion("no"), prompt(), surface)
    got = combine_samples([good, bad, good], Fraction(1, 2), "strict")
    assert legacy_and_strict(got.scores) == {"legacy": Fraction(2, 3), "strict": Fraction(2, 3)}
    assert got.label == "wrapped-correct"
    extra = got.details()
    assert (extra["samples"], extra["sample_passes"], extra["pass_rate"]) == (3, 2, 0.666667)
    assert extra["pass_hat_k"] == {"1": 0.666667, "2": 0.333333, "3": 0.0}
    assert extra["sample_scores"] == [1.0, 0.0, 1.0] and extra["sample_labels"] == [
        "wrapped-correct",
        "prose",
        "wrapped-correct",
    ]
    only_bad = combine_samples([bad, bad], Fraction(0), "strict")
    assert only_bad.details()["sample_passes"] == 2  # score 0 passes at pass_score 0


# -- legacy extractions of odd shapes -------------------------------------------------------------
def test_legacy_reads_flat_native_calls_and_skips_odd_entries():
    flat = completion(None, "tool_calls", [{"name": "typecheck", "arguments": {"path": "src/"}}])
    assert legacy_extract(flat).body == 'typecheck\n{"path": "src/"}'
    odd = completion(None, "tool_calls", [5, {"function": "x"}, {"function": {"name": ""}}, {"name": "git_log"}])
    assert legacy_extract(odd).body == "git_log\n"
    undecodable = completion(None, "tool_calls", [{"function": {"name": "execute_code", "arguments": "print(1"}}])
    assert legacy_extract(undecodable) == legacy_extract(undecodable).__class__(True, "print(1")


def test_legacy26_writes_back_every_served_call():
    calls = [
        {"function": {"name": "execute_code", "arguments": '{"code": "print(result.errors)"}'}},
        "not a call",
        {"name": "execute_code", "arguments": {"code": "x = 1"}},
        {"function": {"name": "execute_code", "arguments": "{bad"}},
    ]
    text = text_of(completion("see:", "tool_calls", calls))
    assert text == (
        "see:<tool_call>\nprint(result.errors)\n</tool_call>"
        "<tool_call>\nx = 1\n</tool_call><tool_call>\n{bad\n</tool_call>"
    )
    wrapped = score_legacy26(completion("<tool_call>x</tool_call>"), TYPECHECK)[1]
    unwrapped = score_legacy26(completion("words"), TYPECHECK)[1]
    assert wrapped.wrapped and not unwrapped.wrapped
