"""What the serving path did, read from a response alone; and what a drop
costs each scorer. Plain functions: no pytest plugin, no mlx."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.scoring import score_response
from pytest_punie.scoring.labels import LABELS
from pytest_punie.serving.served import STATUSES, depends_on_drop, served_status, serving_record
from pytest_punie.suite import load_suite
from pytest_punie.toolsurface import load_surface

from ..conftest import PHASE33, odd_json

CALL = (
    "<tool_call><function=execute_code>\n<parameter=code>\n"
    'result = git_status(".")\nprint(result.files)\n</parameter>\n</function></tool_call>'
)
SERVED_CALL = {"type": "function", "function": {"name": "execute_code", "arguments": '{"code": "x"}'}}


def legacy_and_strict(scores: dict) -> dict:
    """The two text scorers' scores (the outcome scorer, which runs programs, is tested in tests/sandbox)."""
    return {k: scores[k] for k in ("legacy", "strict")}


def completion(content, raw=None, tool_calls=None, finish="stop"):
    message = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    out = {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if raw is not None:
        out["punie"] = {"raw_text": raw, "token_ids": []}
    return out


def scored_and_served(response, prompt, surface):
    scored = score_response(response, prompt, surface)
    return scored, serving_record(response, prompt, surface)


def test_a_call_the_server_parsed():
    assert served_status(completion(None, CALL, [SERVED_CALL], "tool_calls")) == {
        "status": "parsed",
        "written": 1,
        "served": 1,
    }


def test_a_call_the_server_dropped():
    assert served_status(completion(None, CALL, None, "tool_calls")) == {"status": "dropped", "written": 1, "served": 0}


def test_one_of_two_calls_dropped_is_a_drop():
    assert served_status(completion(None, CALL + CALL, [SERVED_CALL], "tool_calls"))["status"] == "dropped"


def test_no_call_written():
    assert served_status(completion("I cannot.", "I cannot."))["status"] == "no-call"


def test_an_unclosed_call_is_the_models_doing_not_a_drop():
    raw = CALL.replace("</tool_call>", "")
    assert served_status(completion(None, raw, None, "tool_calls")) == {"status": "unclosed", "written": 0, "served": 0}


def test_no_tool_parser_serves_the_calls_as_content():
    assert served_status(completion(CALL, CALL))["status"] == "parsed"


def test_without_raw_text_only_an_evident_drop_is_seen():
    assert served_status(completion(None, None, None, "tool_calls")) == {
        "status": "dropped",
        "written": None,
        "served": 0,
    }
    assert served_status(completion(CALL))["status"] == "raw-unavailable"
    assert served_status(None) is None


def test_a_dropped_call_changes_the_legacy_score_only(phase33, surface):
    prompt = phase33.prompt("git-01")
    scored, served = scored_and_served(completion(None, CALL, None, "tool_calls"), prompt, surface)
    assert legacy_and_strict(scored.scores) == {"legacy": Fraction(0), "strict": Fraction(1)}
    assert legacy_and_strict(served["scores_as_written"]) == {"legacy": "1", "strict": "1"}
    assert depends_on_drop(served, scored.scores, "legacy")
    assert not depends_on_drop(served, scored.scores, "strict")
    assert scored.label == "wrapped-correct"


def test_a_parsed_call_depends_on_nothing(phase33, surface):
    scored, served = scored_and_served(
        completion(None, CALL, [SERVED_CALL], "tool_calls"), phase33.prompt("git-01"), surface
    )
    assert not depends_on_drop(served, scored.scores, "legacy")
    assert "scores_as_written" not in served


def test_an_unknown_drop_always_matters(phase33, surface):
    scored, served = scored_and_served(completion(None, None, None, "tool_calls"), phase33.prompt("git-01"), surface)
    assert depends_on_drop(served, scored.scores, "legacy")
    assert depends_on_drop(served, scored.scores, "strict")
    assert scored.label == "unknown"  # nothing served, no raw text: never guessed as empty


def test_the_same_generation_is_not_guessed_empty_through_a_server(phase33, surface):
    """An unclosed call: in process (raw text kept) it is unclosed-call;
    through an external server (no raw text) it is unknown, never empty."""
    raw = CALL.replace("</function></tool_call>", "")
    prompt = phase33.prompt("git-01")
    assert score_response(completion(None, raw, None, "tool_calls"), prompt, surface).label == "unclosed-call"
    assert score_response(completion(None, None, None, "tool_calls"), prompt, surface).label == "unknown"
    assert score_response(completion("", None, None, "stop"), prompt, surface).label == "empty"


@given(odd_json)
def test_served_status_never_raises_and_is_one_of_the_statuses(value):
    out = served_status(value if isinstance(value, dict) else {"choices": [{"message": value}]})
    assert out is None or out["status"] in STATUSES


@given(st.text(alphabet="<>/tool_cal x", max_size=60), st.integers(0, 3))
def test_written_never_exceeds_the_opened_calls(raw, served):
    out = served_status(completion(None, raw, [SERVED_CALL] * served, "stop"))
    assert out is not None
    assert out["written"] <= raw.count("<tool_call>")
    assert out["status"] in STATUSES


PROMPT = load_suite(PHASE33).prompt("git-01")


@given(odd_json)
def test_scoring_any_served_shape_gives_a_known_label(value):
    scored = score_response({"choices": [{"message": value, "finish_reason": "tool_calls"}]}, PROMPT, load_surface())
    assert scored.label in LABELS
    assert all(0 <= v <= 1 for v in scored.scores.values())


def test_as_written_replaces_only_the_first_message_and_keeps_the_rest():
    from pytest_punie.serving.served import as_written

    response = {
        "id": "r1",
        "choices": [
            {"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None}},
            {"index": 1, "finish_reason": "stop", "message": {"role": "assistant", "content": "two"}},
        ],
        "punie": {"raw_text": "<tool_call>x</tool_call>"},
    }
    out = as_written(response)
    assert out["id"] == "r1" and out["punie"] == response["punie"]
    assert out["choices"][0] == {
        "index": 0,
        "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": "<tool_call>x</tool_call>"},
    }
    assert out["choices"][1] == response["choices"][1]
    assert response["choices"][0]["message"]["content"] is None  # the response itself is left as it was
