"""The response parser and the strict scorer: every wire format, and no credit
for anything the sandbox would not run."""

from __future__ import annotations

import json
import keyword
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_punie.scoring import score_response
from pytest_punie.scoring.labels import LABELS
from pytest_punie.scoring.parse import parse_response
from pytest_punie.scoring.strict import score_strict
from pytest_punie.suite.suitetypes import Expectation, Prompt
from pytest_punie.toolsurface import load_surface

from ..conftest import odd_json
from ..fixtures.make_responses import code_mode, completion

TYPECHECK = Expectation(tools=("typecheck",), keywords=("typecheck",))
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True)
programs = st.sampled_from(
    [
        'r = typecheck("src/")\nprint(r.error_count)',
        'print(read_file("a.py"))',
        "x = 1\nprint(x)",
        "git_log('.', count=5)",
    ]
)


def prompt(expect: Expectation = TYPECHECK) -> Prompt:
    return Prompt("p", "c", "q", expect, None, False, 1)


def native(calls: list[tuple[str, str]]) -> dict:
    return completion(
        None,
        tool_calls=[
            {"id": str(i), "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(calls)
        ],
    )


# -- wire formats -----------------------------------------------------------------
@given(programs)
def test_every_wire_format_yields_the_same_program(code):
    forms = {
        "format_a": completion(code_mode(code)),
        "format_b": completion(f"<tool_call>\n{code}\n</tool_call>"),
        "json": completion(
            "<tool_call>" + json.dumps({"name": "execute_code", "arguments": {"code": code}}) + "</tool_call>"
        ),
        "native": native([("execute_code", json.dumps({"code": code}))]),
    }
    for source, resp in forms.items():
        parsed = parse_response(resp)
        assert len(parsed.calls) == 1, source
        call = parsed.calls[0]
        assert (call.source, call.wrapped, call.complete) == (source, True, True)
        assert call.code.strip() == code.strip()


def test_all_native_calls_are_seen_not_just_the_first(surface):
    resp = native([("execute_code", '{"code": "git_log(\'.\')"}'), ("execute_code", '{"code": "typecheck(\'src\')"}')])
    assert [c.code for c in parse_response(resp).calls] == ["git_log('.')", "typecheck('src')"]
    assert score_strict(parse_response(resp), TYPECHECK, surface).score == 1


def test_think_blocks_closed_and_unclosed():
    closed = parse_response(completion("<think>\nuse typecheck\n</think>\n" + code_mode('typecheck("src")')))
    assert closed.think_opened and closed.think_closed and len(closed.calls) == 1
    unclosed = parse_response(completion("<think>\nI will " + code_mode('typecheck("src")'), "length"))
    assert unclosed.think_unclosed and unclosed.calls == ()  # calls inside thinking are not calls


@given(st.integers(min_value=1, max_value=200))
def test_output_cut_off_mid_call_is_an_incomplete_call(cut):
    full = code_mode('r = typecheck("src/")\nprint(r.error_count)')
    assume(cut < len(full) - len("</tool_call>") + 1)
    text = full[: max(len("<tool_call>"), min(cut, len(full) - 1))]
    parsed = parse_response(completion(text, "length"))
    assert parsed.truncated
    assert all(not c.complete for c in parsed.calls)


@given(odd_json)
def test_parser_and_scorers_never_raise_on_odd_json(obj):
    for resp in (
        obj,
        {"choices": [{"message": obj}]},
        {"choices": [{"message": {"content": None, "tool_calls": obj}}]},
    ):
        scored = score_response(resp if isinstance(resp, dict) else {"choices": resp}, prompt(), load_surface())
        assert scored.label in LABELS
        assert set(scored.scores) == {"legacy", "strict", "outcome"}
        assert all(0 <= v <= 1 for v in scored.scores.values())


@given(st.text())
def test_parser_never_raises_on_any_text(text):
    parsed = parse_response(completion(text))
    assert parsed.content == text
    assert len(parsed.calls) <= text.count("<tool_call>")  # a call is only ever read from a marker
    assert parsed.think_closed <= parsed.think_opened
    assert parsed.visible_text == parsed.visible_text.strip()


# -- strict scoring -----------------------------------------------------------------
@given(
    text=st.text().filter(lambda t: "<tool_call>" not in t),
    mention=st.sampled_from(["typecheck", "execute_code(typecheck)", "```python\ntypecheck('src')\n```"]),
)
def test_prose_or_markdown_naming_a_tool_earns_nothing(text, mention, surface):
    resp = completion(text + mention)
    assert score_strict(parse_response(resp), TYPECHECK, surface).score == 0


@pytest.mark.parametrize(
    ("code", "score", "label", "problem"),
    [
        ('r = typecheck("src/")\nprint(r.error_count)', 1, "wrapped-correct", None),
        ('for e in typecheck("src/").errors:\n    print(e.line, e.message)', 1, "wrapped-correct", None),
        ('print([e.line for e in typecheck("src/").errors])', 1, "wrapped-correct", None),
        ('s = "typecheck"\nprint(s)', 0, "wrapped-wrong-tool", "expected one of typecheck"),
        ('r = typecheck("src/")\nprint(r.count)', 0, "bad-field", "TypeCheckResult.count"),
        ('for e in typecheck("src/").errors:\n    print(e.lineno)', 0, "bad-field", "TypeCheckError.lineno"),
        ('r = typecheck_direct("src/")', 0, "hallucinated-tool", "typecheck_direct"),
        ('import os\ntypecheck("src/")', 0, "sandbox-violation", "imports are not allowed"),
        ('print(open("x").read())\ntypecheck("src/")', 0, "hallucinated-tool", "open"),
        ('typecheck("src/"', 0, "syntax-error", "does not parse"),
        ('def check(p):\n    return typecheck(p)\nprint(check("src").success)', 1, "wrapped-correct", None),
    ],
)
def test_strict_scores_what_the_sandbox_would_run(code, score, label, problem, surface):
    scored = score_response(completion(code_mode(code)), prompt(), surface)
    assert scored.scores["strict"] == score
    assert scored.label == label
    if problem:
        assert any(problem in p for p in scored.strict.problems), scored.strict.problems


def test_direct_call_without_wrapper_earns_nothing_strict(surface):
    resp = completion("<tool_call><function=typecheck>\n<parameter=path>\nsrc/\n</parameter>\n</function></tool_call>")
    scored = score_response(resp, prompt(), surface)
    assert (scored.scores["legacy"], scored.scores["strict"], scored.label) == (Fraction(1, 2), 0, "direct-call")


def test_argument_and_field_expectations(surface):
    exp = Expectation(tools=("git_log",), keywords=("git_log",), args={"git_log": {"count": "5"}}, fields=("commits",))
    good = 'log = git_log(".", count=5)\nfor c in log.commits:\n    print(c.hash, c.message)'
    assert score_response(completion(code_mode(good)), prompt(exp), surface).scores["strict"] == 1
    positional = 'log = git_log(".", 5)\nprint(log.commits)'
    assert score_response(completion(code_mode(positional)), prompt(exp), surface).scores["strict"] == 1
    wrong_count = score_response(completion(code_mode('print(git_log(".", count=10).commits)')), prompt(exp), surface)
    assert wrong_count.scores["strict"] == 0 and "argument count" in " ".join(wrong_count.strict.problems)
    no_field = score_response(completion(code_mode('print(git_log(".", count=5))')), prompt(exp), surface)
    assert no_field.scores["strict"] == 0 and "fields not read by the program: commits" in " ".join(
        no_field.strict.problems
    )


def test_all_of_strict_is_the_fraction_called(surface):
    exp = Expectation(
        tools=("goto_definition", "read_file", "validate_component", "pytest_run"), keywords=("x",), match="all"
    )
    code = 'd = goto_definition("a.py", 1, 1, "H")\nprint(read_file(d.locations[0].file))'
    scored = score_response(completion(code_mode(code)), prompt(exp), surface)
    assert scored.scores["strict"] == Fraction(1, 2) and scored.label == "wrapped-partial"


@pytest.mark.parametrize(
    ("response", "label"),
    [
        (None, "error"),
        (completion(""), "empty"),
        (completion("<think>\nhmm", "length"), "think-unclosed"),
        (completion("Sure, the answer is 4."), "prose"),
        (completion("<tool_call><function=execute_code>\n<parameter=code>\nprint(typecheck(", "length"), "truncated"),
        (completion("<tool_call><function=execute_code>\n<parameter=code>\nr = typecheck(", "stop"), "unclosed-call"),
    ],
)
def test_failure_mode_labels(response, label, surface):
    assert score_response(response, prompt(), surface).label == label


@given(name=identifiers)
def test_unknown_names_are_hallucinated_unless_defined(name, surface):
    assume(not surface.is_known_callable(name) and not keyword.iskeyword(name) and not keyword.issoftkeyword(name))
    called = score_response(completion(code_mode(f"typecheck('src')\n{name}()")), prompt(), surface)
    assert called.scores["strict"] == 0 and called.label == "hallucinated-tool"
    defined = score_response(
        completion(code_mode(f"def {name}():\n    return 1\ntypecheck('src')\n{name}()")), prompt(), surface
    )
    assert defined.scores["strict"] == 1


@pytest.mark.parametrize("leak", ["<|im_end|>", "<|im_start|>", "<|endoftext|>"])
def test_a_control_token_inside_a_generation_is_its_own_label(surface, leak):
    text = code_mode('result = git_status(".")\nprint(result.files)') + f"{leak}user\nthanks"
    scored = score_response(completion(text), prompt(), surface)
    assert scored.label == "control-token-leak"
    assert score_response(completion(text.replace(leak, "")), prompt(), surface).label != "control-token-leak"
