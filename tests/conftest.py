"""Shared fixtures: the project's own suite and constructed response files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PHASE33 = ROOT / "evalsuites" / "phase33.yaml"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def phase33():
    from pytest_punie.suite import load_suite

    return load_suite(PHASE33)


@pytest.fixture(scope="session")
def surface():
    from pytest_punie.toolsurface import load_surface

    return load_surface()


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def eval_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory laid out like a user's project: evalsuites/ and
    recorded responses, with the plugin loaded from its entry point."""
    (pytester.path / "evalsuites").mkdir()
    shutil.copy(PHASE33, pytester.path / "evalsuites" / "phase33.yaml")
    for name in ("phase33b_responses.jsonl", "phase43a_responses.jsonl"):
        shutil.copy(FIXTURES / name, pytester.path / name)
    pytester.makeini("[pytest]\n")
    return pytester
