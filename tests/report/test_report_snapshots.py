"""Report output, pinned with syrupy: the terminal table and the Markdown document."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pytest_punie.report import build_document
from pytest_punie.verdict import judge_suite
from pytest_punie.views.markdown import render_markdown
from pytest_punie.views.terminal import render_terminal

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
    assert all(set(p["scores"]) == {"legacy", "strict", "outcome"} for p in document["prompts"])
    assert document["format"] == "pytest-punie/results/1"


def test_sampling_line_shows_the_runs_overrides(phase33):
    """--punie-temperature 0.7 --punie-seed 1 is what the run used: the line says so."""
    from pytest_punie.report.rundocument import _sampling
    from pytest_punie.views.terminal import sampling_text

    samp = _sampling([phase33], {"temperature": 0.7, "seed": 1, "max_tokens": None})
    assert samp["default"]["temperature"] == 0.7 and samp["default"]["seed"] == 1
    assert samp["run_overrides"] == {"temperature": 0.7, "seed": 1}
    assert sampling_text(samp).startswith("temperature=0.7, top_p=1.0, max_tokens=512, timeout_s=120.0, seed=1")
    assert "(run overrides: temperature=0.7, seed=1)" in sampling_text(samp)
    capped = _sampling([phase33], {"max_tokens": 64})
    assert capped["overrides"] == {} and capped["default"]["max_tokens"] == 64  # no per-prompt budget survives
    assert "run_overrides" not in _sampling([phase33], {"temperature": None})


def seed_document() -> dict:
    """Three seeds of one suite with two categories, hand-built: the seeds section's input."""
    from fractions import Fraction

    from pytest_punie.report.seeds import seeds_of
    from pytest_punie.suite.suitetypes import Threshold

    passes = {0: [1, 1, 1, 0, 1, 1], 1: [1, 0, 1, 0, 1, 1], 2: [1, 1, 1, 1, 0, 1]}
    prompts, suites = [], []
    for seed, row in passes.items():
        v = f"seed={seed}"
        for i, ok in enumerate(row):
            cat = "git" if i < 3 else "lsp"
            prompts.append(
                {
                    "id": f"p{i}",
                    "suite": "s.yaml",
                    "category": cat,
                    "variant": v,
                    "passed": bool(ok),
                    "score": float(ok),
                }
            )

        def cat(rows: list[int]) -> dict:
            return {
                "score": sum(rows) / len(rows),
                "passed": sum(rows) / len(rows) >= 0.8,
                "metric": "pass_rate",
                "threshold": ">= 0.80",
            }

        suites.append(
            {
                "suite": "s",
                "path": "s.yaml",
                "variant": v,
                "categories": {"git": cat(row[:3]), "lsp": cat(row[3:])},
                "overall": cat(row),
            }
        )
    rule = {"seeds_passing": 2, "of": 3, "overall": Threshold(">=", Fraction(8, 10), ">= 0.80")}
    return {
        "suites": suites,
        "prompts": prompts,
        "seeds": seeds_of({"suites": suites, "prompts": prompts}, {"s": rule}),
    }


def test_seeds_section(snapshot):
    from pytest_punie.views.seedsview import render_seeds_terminal

    assert "\n".join(render_seeds_terminal(seed_document()["seeds"])) == snapshot


def test_format_lock_section(snapshot):
    from pytest_punie.report.formatlock import add_format_lock
    from pytest_punie.views.lockview import render_lock_terminal

    def prompt(i: int, kind: str, logp_open: float, logp_other: float, opened: bool) -> dict:
        first = {
            "opener_id": 7,
            "logp_opener": logp_open,
            "runner_up_id": 3,
            "runner_up": "x",
            "logp_runner_up": logp_other,
            "p_opener_at": {"0.3": 0.9, "0.7": 0.8, "1": 0.7},
        }
        punie = {"first_position": first, "token_ids": [7 if opened else 3]}
        return {
            "id": f"p{i}",
            "suite": "s.yaml",
            "variant": "t=0.7",
            "category": "git",
            "passed": True,
            "expected": {"kind": kind},
            "response": {"punie": punie},
        }

    doc = {
        "prompts": [
            prompt(0, "call", -0.05, -3.0, True),
            prompt(1, "call", -0.6, -0.9, False),
            prompt(2, "direct", -2.0, -0.2, False),
        ],
        "suites": [{"suite": "s", "path": "s.yaml", "variant": "t=0.7", "categories": {"git": {}}}],
    }
    add_format_lock(doc, {"s": 0.9})
    assert "\n".join(render_lock_terminal(doc)) + "\n" + doc["warnings"][0]["message"] == snapshot
