"""The data gate's kept lint: an unchanged dataset against unchanged suites and unchanged code is
linted once; any change to the data's bytes, the served system prompts or the code lints again;
a cache that cannot be written or holds a damaged entry never changes the findings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_punie.datalint import LintConfig, lint_dataset
from pytest_punie.models.cache import BuildCache
from pytest_punie.sources import keptlint
from pytest_punie.sources.stagegates import stage_gates
from pytest_punie.suite import load_suite

ROOT = Path(__file__).resolve().parents[2]
PHASE33 = load_suite(ROOT / "evalsuites" / "phase33.yaml")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "data", tmp_path / "data")
    return tmp_path / "data"


def lint(data: Path, cache: BuildCache, prompts: tuple[str, ...] = ()) -> tuple[list, bool]:
    return keptlint.lint_kept(data, LintConfig(eval_system_prompts=prompts), cache.root / "datalint", cache.digest)


def test_the_same_inputs_are_linted_once_and_give_the_same_findings(data, tmp_path):
    cache = BuildCache(tmp_path / "cache")
    first, kept = lint(data, cache, (PHASE33.system_prompt,))
    assert not kept and first  # this data holds Phase 26's prompt too: Phase 33 alone finds errors
    again, kept = lint(data, cache, (PHASE33.system_prompt,))
    assert kept and again == first == lint_dataset(data, LintConfig(eval_system_prompts=(PHASE33.system_prompt,)))


def test_a_changed_byte_a_changed_suite_or_changed_code_lints_again(data, tmp_path, monkeypatch):
    cache = BuildCache(tmp_path / "cache")
    lint(data, cache)
    assert lint(data, cache)[1]
    assert not lint(data, cache, ("another system prompt",))[1]  # what the served suites ask changed
    train = data / "train.jsonl"
    lines = train.read_text().splitlines(keepends=True)
    train.write_text("".join(lines[1:]))  # one example fewer
    found, kept = lint(data, cache)
    assert not kept and found == lint_dataset(data, LintConfig())
    keptlint.code_digest.cache_clear()
    monkeypatch.setattr(keptlint, "code_digest", lambda: "sha256:other-code")
    assert not lint(data, cache)[1]


def test_a_damaged_entry_or_a_read_only_cache_still_gives_the_findings(data, tmp_path):
    cache = BuildCache(tmp_path / "cache")
    expected, _ = lint(data, cache, (PHASE33.system_prompt,))
    for kept_file in (cache.root / "datalint").iterdir():
        kept_file.write_text("{not json")
    found, kept = lint(data, cache, (PHASE33.system_prompt,))
    assert not kept and found == expected
    other = BuildCache(tmp_path / "unwritable")
    other.root.mkdir(parents=True, exist_ok=True)
    (other.root / "datalint").write_text("a file where the folder would be: nothing can be kept there")
    found, kept = lint(data, other, (PHASE33.system_prompt,))
    assert not kept and found == expected
    assert (other.root / "datalint").read_text().startswith("a file where")


def test_the_gate_refuses_from_kept_findings_as_from_fresh_ones(data, tmp_path):
    """A warm cache must not make the data gate more lenient: the entry that holds this data to
    Phase 33 alone is refused on the kept findings exactly as on the first lint."""
    cache = BuildCache(tmp_path / "cache")
    gates = stage_gates({"suites": ["phase33"]}, "x", [PHASE33], ROOT, cache)
    first = gates.data(data)
    second = gates.data(data)
    assert first.problems and second.problems == first.problems and second.inputs == first.inputs
    assert len(list((cache.root / "datalint").iterdir())) == 1
