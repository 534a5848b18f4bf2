"""Data checks by registry: each a name, a description and a documented function, in the order the
data items run them; a new check is one decorated function (and, when it counts over a file, one
more at the file's end), and its findings come out of the same single pass, at file and line."""

from __future__ import annotations

import inspect
import json

import pytest

from pytest_punie.datalint import DATA_CHECKS, LintConfig, at_file_end, data_check, lint_dataset
from pytest_punie.datalint.checkcontext import Example, FileEnd
from pytest_punie.datalint.checkregistry import FILE_ENDS

LOOSE = {"tool_share": (0.0, 1.0), "min_tool_examples": 0}
BUILT_IN = (
    "format",
    "structure",
    "tool-share",
    "tool-responses",
    "code-parses",
    "known-tools",
    "known-fields",
    "coverage",
    "system-prompt",
    "duplicates",
    "split-leak",
    "eval-contamination",
    "length",
    "think",
)


def test_each_check_is_a_name_a_description_and_a_documented_function():
    assert DATA_CHECKS.names() == BUILT_IN
    for entry in DATA_CHECKS.entries():
        assert entry.description and inspect.getdoc(entry.fn), entry.name
        assert list(inspect.signature(entry.fn).parameters) == ["ex"], entry.name
    assert set(FILE_ENDS) == {"format", "tool-share", "coverage", "system-prompt", "think"}
    assert all(inspect.getdoc(fn) for fn in FILE_ENDS.values())


@pytest.fixture
def polite_check(monkeypatch):
    """A new check, registered for one test: 'please' in a query, and a file where most queries say it."""
    monkeypatch.setattr(DATA_CHECKS, "_entries", dict(DATA_CHECKS._entries))
    said: dict[int, int] = {}

    @data_check("polite", "queries do not beg")
    def polite(ex: Example) -> None:
        """A query that says please."""
        if ex.query and "please" in ex.query.lower():
            said[id(ex.file)] = said.get(id(ex.file), 0) + 1
            ex.add("polite", f"says please: {ex.query[:20]!r}", "warning")

    @at_file_end("polite")
    def mostly_polite(end: FileEnd) -> None:
        """Most of a file's queries say please."""
        if said.get(id(end.file), 0) * 2 > end.file.examples:
            end.add("polite", f"{said[id(end.file)]} of {end.file.examples} queries say please")

    assert FILE_ENDS["polite"] is mostly_polite
    yield polite
    del FILE_ENDS["polite"]


def _write(folder, queries):
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "Done."}]} for q in queries]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_new_check_is_one_decorated_function(polite_check, tmp_path):
    _write(tmp_path, ["Please run the tests", "what is hover?", "please show the diff"])
    found = [(f.check, f.severity, f.line, f.message) for f in lint_dataset(tmp_path, LintConfig(**LOOSE))]
    assert found == [
        ("polite", "warning", 1, "says please: 'Please run the tests'"),
        ("polite", "warning", 3, "says please: 'please show the diff'"),
        ("polite", "error", None, "2 of 3 queries say please"),
    ]
    assert DATA_CHECKS.names() == (*BUILT_IN, "polite")


def test_an_unreadable_example_reaches_no_check_and_an_empty_file_no_end(polite_check, tmp_path):
    (tmp_path / "train.jsonl").write_text('{"text": ""}\n[1]\n')
    found = [(f.check, f.line, f.message) for f in lint_dataset(tmp_path, LintConfig(**LOOSE))]
    assert found == [
        ("structure", 1, '"text" is empty'),
        ("format", 2, 'expected an object with "messages" (or "text")'),
    ]  # the text example counted, unreadable: no check, and the file's ends ran (1 example)
    (tmp_path / "train.jsonl").write_text("\n")
    found = [(f.check, f.message) for f in lint_dataset(tmp_path, LintConfig(**LOOSE))]
    assert found == [("format", "no examples")]  # nothing else about an empty file is judged
