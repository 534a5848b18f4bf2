"""The legacy keyword scorer, rule by rule, quirks included."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.scoring.legacy import legacy_extract, score_legacy
from pytest_punie.suite.suitetypes import Expectation

from ..conftest import odd_json
from ..fixtures.make_responses import code_mode, completion

SINGLE = Expectation(tools=("typecheck",), keywords=("typecheck", "type_check"))
ALL4 = Expectation(
    tools=("a", "b", "c", "d"),
    keywords=("goto_definition", "read_file", "validate_component", "pytest_run"),
    match="all",
)


def native(name: str, arguments: str) -> dict:
    return completion(
        None, tool_calls=[{"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}]
    )


@pytest.mark.parametrize(
    ("response", "score", "wrapped"),
    [
        (completion(code_mode('r = typecheck("src/")')), Fraction(1), True),
        (completion(code_mode('r = ruff_check("src/")')), Fraction(1, 10), True),
        (completion("I would call type_check here"), Fraction(1, 2), False),
        (completion("Nothing to do."), Fraction(0), False),
        (completion(None), Fraction(0), False),
        (native("execute_code", json.dumps({"code": "typecheck('src')"})), Fraction(1), True),
        (native("execute_code", json.dumps({"python": "typecheck('src')"})), Fraction(1), True),
        (native("execute_code", json.dumps({"other": "typecheck('src')"})), Fraction(1), True),
        (native("execute_code", "typecheck('src') not json"), Fraction(1), True),  # raw argument string
        (native("execute_code", json.dumps({"code": "git_status('.')"})), Fraction(1, 10), True),
        (native("typecheck", json.dumps({"path": "src/"})), Fraction(1, 2), False),  # name + raw args
        # the regex tolerates a cut-off program: `(?:</parameter>|$)`
        (completion("<tool_call><function=execute_code><parameter=code>typecheck('src')", "length"), Fraction(1), True),
    ],
)
def test_single_tool_scores(response, score, wrapped):
    got, ext = score_legacy(response, SINGLE)
    assert got == score
    assert ext.wrapped is wrapped


def test_only_the_first_named_native_call_is_seen():
    resp = completion(
        None,
        tool_calls=[
            {"id": "0", "type": "function", "function": {"arguments": "{}"}},  # no name: skipped
            {
                "id": "1",
                "type": "function",
                "function": {"name": "execute_code", "arguments": '{"code": "git_log(\'.\')"}'},
            },
            {
                "id": "2",
                "type": "function",
                "function": {"name": "execute_code", "arguments": '{"code": "typecheck(\'.\')"}'},
            },
        ],
    )
    assert score_legacy(resp, SINGLE)[0] == Fraction(1, 10)


def test_substring_quirk_is_kept():
    # `ls` matches "tools" and "else": the legacy yardstick counted that as a mention
    exp = Expectation(tools=("run_command",), keywords=("run_command", "ls"))
    assert score_legacy(completion("Here are the tools, or else nothing."), exp)[0] == Fraction(1, 2)


@pytest.mark.parametrize(
    ("code", "score"),
    [
        ("", Fraction(1, 10)),
        ("goto_definition(x)", Fraction(35, 100)),
        ("goto_definition(x); read_file(y)", Fraction(6, 10)),
        ("goto_definition(x); read_file(y); validate_component(z)", Fraction(85, 100)),
        ("goto_definition(x); read_file(y); validate_component(z); pytest_run(t)", Fraction(1)),
    ],
)
def test_all_of_fraction_plus_wrapper_bonus_capped(code, score):
    assert score_legacy(completion(code_mode(code)), ALL4)[0] == score


def test_all_of_unwrapped_gets_no_bonus():
    assert score_legacy(completion("goto_definition and read_file"), ALL4)[0] == Fraction(1, 2)


def test_transport_error_scores_zero():
    assert score_legacy(None, SINGLE)[0] == 0


@given(st.text(), st.sampled_from(["stop", "length", None]))
def test_single_score_is_one_of_the_four_values(content, finish):
    score, _ = score_legacy(completion(content, finish or "stop"), SINGLE)
    assert score in {Fraction(0), Fraction(1, 10), Fraction(1, 2), Fraction(1)}


@given(st.lists(st.sampled_from(ALL4.keywords), unique=True), st.booleans())
def test_all_of_is_fraction_found_plus_bonus(found, wrapped):
    body = "; ".join(f"{k}(x)" for k in found)
    content = code_mode(body) if wrapped else body
    score, ext = score_legacy(completion(content), ALL4)
    assert ext.wrapped is wrapped
    assert score == min(Fraction(1), Fraction(len(found), 4) + (Fraction(1, 10) if wrapped else 0))


@given(odd_json)
def test_extraction_never_raises_on_odd_json(obj):
    for response in (
        obj,
        {"choices": [{"message": {"content": None, "tool_calls": obj}}]},
        {"choices": [{"message": obj}]},
    ):
        ext = legacy_extract(response)
        assert isinstance(ext.wrapped, bool) and isinstance(ext.body, str)
        score, _ = score_legacy(response if isinstance(response, dict) else {"choices": response}, SINGLE)
        assert score in {Fraction(0), Fraction(1, 10), Fraction(1, 2), Fraction(1)}
