"""Report output, pinned with syrupy: the terminal table and the Markdown document."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pytest_punie.report import build_document, render_markdown, render_terminal
from pytest_punie.verdict import judge_suite

from ..verdict.test_reference_tables import results_of

PROVENANCE = {
    "time": "2026-11-22T00:00:00+00:00",
    "model": {"kind": "replay", "path": "responses.jsonl", "digest": "sha256:" + "0" * 64},
    "sampling": {"default": {"temperature": 0.0, "max_tokens": 512}, "overrides": {"lsp-05": {"max_tokens": 2048}}},
    "versions": {"python": "3.x", "pytest-punie": "0.1.0"},
}


@pytest.fixture(params=["phase33b_responses.jsonl", "phase43a_responses.jsonl"])
def document(request, phase33):
    phase33 = dataclasses.replace(phase33, path="phase33.yaml")  # as results name it: relative, portable
    results = results_of(phase33, request.param)
    return build_document([(judge_suite(phase33, results), results)], PROVENANCE)


def test_terminal_table(document, snapshot):
    assert "\n".join(render_terminal(document)) == snapshot


def test_markdown_document(document, snapshot):
    assert render_markdown(document) == snapshot


def test_document_is_json_and_keeps_both_scores(document):
    round_tripped = json.loads(json.dumps(document))
    assert round_tripped == document
    assert all(set(p["scores"]) == {"legacy", "strict"} for p in document["prompts"])
    assert document["format"] == "pytest-punie/results/1"


def test_sampling_line_shows_the_runs_overrides(phase33):
    """--punie-temperature 0.7 --punie-seed 1 is what the run used: the line says so."""
    from pytest_punie.report.run import _sampling
    from pytest_punie.report.terminal import sampling_text

    samp = _sampling([phase33], {"temperature": 0.7, "seed": 1, "max_tokens": None})
    assert samp["default"]["temperature"] == 0.7 and samp["default"]["seed"] == 1
    assert samp["run_overrides"] == {"temperature": 0.7, "seed": 1}
    assert sampling_text(samp).startswith("temperature=0.7, top_p=1.0, max_tokens=512, timeout_s=120.0, seed=1")
    assert "(run overrides: temperature=0.7, seed=1)" in sampling_text(samp)
    capped = _sampling([phase33], {"max_tokens": 64})
    assert capped["overrides"] == {} and capped["default"]["max_tokens"] == 64  # no per-prompt budget survives
    assert "run_overrides" not in _sampling([phase33], {"temperature": None})
