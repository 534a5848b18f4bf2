"""Scorers by registry: the built-in two registered by name; a suite may name only a registered
scorer (the schema's enum is the registry's names, the error lists them); a new scorer is one
decorated function, and then a suite may name it and every response gets its score."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pytest_punie.errors import SuiteError
from pytest_punie.registry import SCORERS, Registry
from pytest_punie.scoring import score_response
from pytest_punie.scoring.scorers import ScorerInput, ScorerOutput, scorer
from pytest_punie.suite import load_suite
from pytest_punie.suite.schema import suite_schema

from ..conftest import PHASE33


def test_the_built_in_scorers_are_registered_and_the_schema_lists_them():
    assert SCORERS.names() == ("legacy", "strict", "outcome")
    assert suite_schema()["properties"]["primary_scorer"]["enum"] == ["legacy", "strict", "outcome"]
    assert "legacy: the historical eval scripts' rule" in suite_schema()["properties"]["primary_scorer"]["description"]


def test_a_suite_naming_an_unregistered_scorer_is_a_located_error(tmp_path):
    text = PHASE33.read_text().replace("primary_scorer: legacy", "primary_scorer: lenient")
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("primary_scorer:"))
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert err.value.line == line and "'lenient' is not one of ['legacy', 'strict', 'outcome']" in str(err.value)


@pytest.fixture
def length_scorer(monkeypatch):
    """A new scorer, registered for one test: one decorated function."""
    monkeypatch.setattr(SCORERS, "_entries", dict(SCORERS._entries))

    @scorer("short", "a response under 100 characters")
    def short(given: ScorerInput) -> ScorerOutput:
        text = ((given.response or {}).get("choices") or [{}])[0].get("message", {}).get("content") or ""
        return ScorerOutput(Fraction(int(len(text) < 100)), len(text))

    return short


def test_a_new_scorer_is_one_decorated_function(length_scorer, tmp_path, phase33, surface):
    path = tmp_path / "suite.yaml"
    path.write_text(PHASE33.read_text().replace("primary_scorer: legacy", "primary_scorer: short"))
    assert load_suite(path).primary_scorer == "short"
    response = {"choices": [{"message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}]}
    scored = score_response(response, phase33.prompts[0], surface)
    assert set(scored.scores) == {"legacy", "strict", "outcome", "short"} and scored.scores["short"] == 1


def test_a_name_is_registered_once():
    registry: Registry = Registry("scorer", ())
    registry.register("a", "one")(len)
    with pytest.raises(ValueError, match=r"a scorer named 'a' is already registered \(builtins\.len\)"):
        registry.register("a", "another")(abs)
    registry.register("a", "one, reloaded")(len)  # a module run again registers its own function again
    assert registry.get("a").description == "one, reloaded"
    with pytest.raises(KeyError, match="no scorer named 'b' \\(registered: a\\)"):
        registry.get("b")
