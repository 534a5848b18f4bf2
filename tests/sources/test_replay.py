"""Recorded-responses files: bad lines are named by file and line."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.errors import ResponsesError
from pytest_punie.sources.replay import read_responses

from ..fixtures.make_responses import completion

GOOD = json.dumps({"id": "text-01", "response": completion("hi")})


@pytest.mark.parametrize(
    ("lines", "line", "needle"),
    [
        ([GOOD, "{not json"], 2, "not valid JSON"),
        ([GOOD, "[1, 2]"], 2, "expected a JSON object"),
        ([GOOD, json.dumps({"response": completion("x")})], 2, 'missing "id"'),
        ([GOOD, GOOD], 2, "duplicate id 'text-01' (first at line 1)"),
        ([json.dumps({"id": "a", "response": {"no": "choices"}})], 1, "chat.completion"),
        ([json.dumps({"id": "a"})], 1, 'exactly one of "response" or "error"'),
        ([json.dumps({"id": "a", "error": "timeout", "retries": -1})], 1, "retries"),
        (["", GOOD, "", json.dumps({"id": "b", "error": 5})], 4, '"error" must be a string'),
    ],
)
def test_bad_lines_are_named(tmp_path, lines, line, needle):
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ResponsesError) as info:
        read_responses(path)
    assert info.value.line == line
    assert needle in info.value.describe()
    assert info.value.describe().startswith(f"{path}:{line}:")


def test_not_utf8_is_named(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(GOOD.encode() + b"\n\xff\xfe\n")
    with pytest.raises(ResponsesError, match="not UTF-8") as info:
        read_responses(path)
    assert info.value.line == 2


def test_missing_file(tmp_path):
    with pytest.raises(ResponsesError, match="does not exist"):
        read_responses(tmp_path / "nope.jsonl")


@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,6}-[0-9]{2}", fullmatch=True),
        st.one_of(st.text().map(lambda t: {"response": completion(t)}), st.text().map(lambda t: {"error": t})),
        max_size=8,
    )
)
def test_round_trip(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("rt") / "r.jsonl"
    with open(path, "w") as fh:
        fh.write(json.dumps({"provenance": {"model": "x"}}) + "\n")
        for pid, body in rows.items():
            fh.write(json.dumps({"id": pid, **body}) + "\n")
    records, prov = read_responses(path)
    assert prov == {"model": "x"}
    assert set(records) == set(rows)
    for pid, body in rows.items():
        assert records[pid].response == body.get("response")
        assert records[pid].error == body.get("error")
