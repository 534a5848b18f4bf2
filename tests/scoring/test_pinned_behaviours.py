"""Behaviours a wrong number could hide behind, each pinned by a plain unit test
(the kinds of mutants that survived: docs/lab/measurements.md, "Mutation score")."""

from __future__ import annotations

import math

import pytest

from pytest_punie.backends import ResponseRecord
from pytest_punie.results import judge_prompt, no_response
from pytest_punie.scoring import score_response
from pytest_punie.scoring.parse import parse_response
from pytest_punie.scoring.program import analyze_program
from pytest_punie.stats import mcnemar_exact, min_flips_for_significance, pass_hat_k, wilson
from pytest_punie.suite.suitetypes import Expectation, Prompt

from ..fixtures.make_responses import code_mode, completion

TYPECHECK = Expectation(tools=("typecheck",), keywords=("typecheck",))


def legacy_and_strict(scores: dict) -> dict:
    """The two text scorers' scores (the outcome scorer, which runs programs, is tested in tests/sandbox)."""
    return {k: scores[k] for k in ("legacy", "strict")}


def prompt(expect: Expectation = TYPECHECK) -> Prompt:
    return Prompt("p", "c", "q", expect, None, False, 1)


# -- a missing response ---------------------------------------------------------------
def test_a_missing_response_scores_zero_on_both_scorers_with_its_reason(surface):
    scored = score_response(None, prompt(), surface)
    assert legacy_and_strict(scored.scores) == {"legacy": 0, "strict": 0}
    assert scored.label == "error" and scored.strict.problems == ["no response"]
    assert scored.parsed is None and scored.legacy.body == "" and not scored.legacy.wrapped


def test_a_transport_error_is_judged_as_no_response_even_with_a_body(phase33):
    p = phase33.prompt("valid-01")
    good = completion(code_mode('r = typecheck("src/")\nprint(r.error_count)'))
    r = judge_prompt(phase33.path, phase33, p, [ResponseRecord(good, error="timeout")])
    assert legacy_and_strict(r.scores) == {"legacy": 0, "strict": 0} and not r.passed and r.error == "timeout"
    missing = no_response(phase33.path, phase33, p, "nothing recorded")
    assert (
        legacy_and_strict(missing.scores) == {"legacy": 0, "strict": 0}
        and missing.label == "error"
        and not missing.passed
    )


# -- statistics away from k = 0 and k = n ----------------------------------------------
def test_wilson_interval_in_the_middle():
    assert tuple(round(x, 6) for x in wilson(5, 10)) == (0.236593, 0.763407)  # the textbook value


@pytest.mark.parametrize(("k", "n"), [(5, 10), (22, 27), (1, 27), (26, 27), (13, 20)])
def test_wilson_bounds_are_the_roots_of_the_score_equation(k, n):
    """Each bound p solves n (k/n - p)^2 = z^2 p (1 - p): the definition, not the formula."""
    z = 1.959963984540054
    for p in wilson(k, n):
        assert n * (k / n - p) ** 2 == pytest.approx(z * z * p * (1 - p), abs=1e-9)
    lo, hi = wilson(k, n)
    assert lo < k / n < hi


def test_wilson_at_the_ends_and_with_no_data():
    assert wilson(0, 27)[0] == 0.0 and wilson(27, 27)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)
    assert 0.0 < wilson(0, 27)[1] < 0.13 and 0.87 < wilson(27, 27)[0] < 1.0


@pytest.mark.parametrize(
    ("worse", "better", "p"),
    [(0, 0, 1.0), (3, 3, 1.0), (1, 0, 1.0), (5, 0, 0.0625), (6, 0, 0.03125), (6, 1, 0.125), (1, 6, 0.125)],
)
def test_mcnemar_exact_values_never_above_one(worse, better, p):
    assert mcnemar_exact(worse, better) == pytest.approx(p)
    assert mcnemar_exact(worse, better) <= 1.0


def test_six_one_way_flips_are_the_fewest_that_can_be_significant():
    assert min_flips_for_significance(0.05) == 6
    assert min_flips_for_significance(0.01) == 8


def test_pass_hat_k_estimates_without_replacement():
    assert pass_hat_k(3, 5, 2) == pytest.approx(3 / 10)
    assert pass_hat_k(5, 5, 3) == 1.0 and pass_hat_k(0, 5, 1) == 0.0
    assert math.isnan(pass_hat_k(1, 2, 3))


# -- the program analysis ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "imports", "bad", "read"),
    [
        ("from os import path\nprint(path)", ["os"], [], {}),
        ("import os.path as p", ["os.path"], [], {}),
        ('r = typecheck("src/")\nprint(r.errors[0].lineno)', [], ["TypeCheckError.lineno"], {"typecheck": {"errors"}}),
        ('r: object = typecheck("src/")\nprint(r.error_count, r.nope)', [], ["TypeCheckResult.nope"], None),
        (
            '[e.line for e in typecheck("src/").errors if e.severity == "error" and e.nope]',
            [],
            ["TypeCheckError.nope"],
            {"typecheck": {"errors", "line", "severity"}},
        ),
        ('x = {e.file: e for e in typecheck("a").errors}', [], [], {"typecheck": {"errors", "file"}}),
        ('class A:\n    x = typecheck("a").nope\n', [], ["TypeCheckResult.nope"], {}),
        ('r = typecheck("a")\nr = read_file("b")\nprint(r.nope)', [], [], {}),  # re-bound: no longer a result
        ('r = typecheck("a")\nfor e in r.errors:\n    print(e.nope)', [], ["TypeCheckError.nope"], None),
    ],
)
def test_program_analysis_follows_result_types(code, imports, bad, read, surface):
    a = analyze_program(code, surface)
    assert a.imports == imports and a.bad_fields == bad and a.syntax_error is None
    if read is not None:
        assert {k: set(v) for k, v in a.fields_read.items()} == read


def test_names_defined_by_the_program_are_not_hallucinated(surface):
    assert analyze_program("def g():\n    return undefined_fn()\n", surface).unknown_names == ["undefined_fn"]
    assert analyze_program("def g():\n    return 1\nprint(g())", surface).unknown_names == []
    assert analyze_program("f = lambda r: r.error_count\nprint(f(1))", surface).unknown_names == []


# -- the parser ---------------------------------------------------------------------------
def test_a_stray_think_close_means_the_template_opened_thinking():
    parsed = parse_response(completion("weighing options</think>\nUse ruff."))
    assert (parsed.think_opened, parsed.think_closed, parsed.visible_text) == (True, True, "Use ruff.")
    opened = parse_response(completion("<think>still thinking"))
    assert opened.think_unclosed and opened.visible_text == ""


def test_the_raw_text_overrides_the_served_message():
    served = completion("I will check.", "stop")
    served["punie"] = {"raw_text": code_mode('print(typecheck("src/").error_count)')}
    parsed = parse_response(served)
    assert parsed.raw_available and [c.name for c in parsed.calls] == ["execute_code"]
    assert parsed.visible_text == "" and not parsed.content_null


def test_format_a_without_function_close_is_incomplete():
    text = "<tool_call><function=execute_code>\n<parameter=code>\nprint(1)\n</parameter>\n</tool_call>"
    (call,) = parse_response(completion(text)).calls
    assert call.source == "format_a" and not call.complete and call.code == "print(1)"


@pytest.mark.parametrize(
    ("arguments", "parsed_args", "raw", "code"),
    [
        (None, None, "", ""),
        ("print(1)", None, "print(1)", "print(1)"),  # not JSON: the raw text is the program
        ('{"code": "print(2)"}', {"code": "print(2)"}, '{"code": "print(2)"}', "print(2)"),
        ('["a"]', None, '["a"]', '["a"]'),  # JSON, but not an object
        ({"python": "print(3)"}, {"python": "print(3)"}, '{"python": "print(3)"}', "print(3)"),
    ],
)
def test_native_call_arguments_of_every_shape(arguments, parsed_args, raw, code):
    response = completion(None, "tool_calls", [{"function": {"name": "execute_code", "arguments": arguments}}])
    (call,) = parse_response(response).calls
    assert (call.arguments, call.raw_arguments, call.code, call.source) == (parsed_args, raw, code, "native")


# -- the messages people read in failures -------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expect", "problems"),
    [
        ("I would run typecheck.", TYPECHECK, ["no complete execute_code call"]),
        (
            "<tool_call><function=typecheck>\n<parameter=path>\nsrc/\n</parameter>\n</function></tool_call>",
            TYPECHECK,
            ["called without the execute_code wrapper: typecheck", "no complete execute_code call"],
        ),
        (
            code_mode("import os\nprint(typecheck('a').error_count)"),
            TYPECHECK,
            ["imports are not allowed in the sandbox: os"],
        ),
        (code_mode("print(typecheck('a').nope)"), TYPECHECK, ["reads fields that do not exist: TypeCheckResult.nope"]),
        (
            code_mode("print(typecheck_direct('a'))"),
            TYPECHECK,
            ["calls names the sandbox does not have: typecheck_direct"],
        ),
        (code_mode("print(typecheck('a')"), TYPECHECK, None),  # syntax error: its message starts as below
        (code_mode('print(read_file("a.py"))'), TYPECHECK, ["expected one of typecheck"]),
        (
            code_mode('print(read_file("a.py"))'),
            Expectation(tools=("typecheck", "read_file"), keywords=("typecheck", "read_file"), match="all"),
            ["expected all of typecheck, read_file; missing typecheck"],
        ),
        (
            "<tool_call><function=execute_code>\n<parameter=code>\nprint(1)",
            TYPECHECK,
            ["1 tool call(s) ended before </tool_call>", "no complete execute_code call"],
        ),
    ],
)
def test_problem_messages(text, expect, problems, surface):
    got = score_response(completion(text), prompt(expect), surface).strict.problems
    if problems is None:
        assert got[0].startswith("program does not parse: ")
    else:
        assert got == problems


@pytest.mark.parametrize(
    "code",
    [
        "def g(fn, *, then):\n    return then(fn())\n",  # parameters, keyword-only too
        "class Helper:\n    pass\nHelper()\n",
        "f = lambda cb: cb()\n",
        "a, b = read_file, 1\na('x')\n",  # names bound by unpacking
        "[first] = [read_file]\nfirst('x')\n",
    ],
)
def test_what_the_program_defines_it_may_call(code, surface):
    assert analyze_program(code, surface).unknown_names == []


def test_every_form_of_binding_and_iterating_is_followed(surface):
    annotated = analyze_program('r: object = typecheck("a")\nprint(r.nope, r.errors)', surface)
    assert annotated.tools_called == ["typecheck"] and annotated.bad_fields == ["TypeCheckResult.nope"]
    assert analyze_program("r: int\nprint(r)", surface).unknown_names == []  # a bare annotation
    sets = analyze_program('s = {e.file for e in typecheck("a").errors}', surface)
    gens = analyze_program('g = list(e.line for e in typecheck("a").errors)', surface)
    assert sets.fields_read == {"typecheck": {"errors", "file"}} and gens.fields_read == {
        "typecheck": {"errors", "line"}
    }
    written = analyze_program('r = typecheck("a")\nr.nope = 1\nd = {}\nd[read_file("k")] = 2', surface)
    assert written.bad_fields == ["TypeCheckResult.nope"] and written.tools_called == ["typecheck", "read_file"]
    plain = analyze_program("for i in range(2):\n    print(i)\nx = [1, 2][0]\ny = {1: 2}[1]\n", surface)
    assert plain.syntax_error is None and plain.bad_fields == [] and plain.unknown_names == []
