"""The documentation is checked like code: the site builds with warnings as errors, its references
are generated from the declarations (options, suite keys), and its examples are real: every YAML
example loads as a suite (a fragment, on top of a minimal suite), every TOML example is a registry
the loader accepts, every ``--punie-*`` option and ``python -m pytest_punie`` command it names
exists. The README's shell lines (the docs build among them) and the docs' that run a model are run by
tests/e2e/test_readme.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_punie.optionsref import options_markdown
from pytest_punie.suite.keysref import schema_keys, suite_keys_markdown
from pytest_punie.suite.schema import suite_schema

from ..conftest import ROOT
from ..suite.test_loader import _minimal

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PAGES = [p for p in PAGES if "_build" not in p.parts]


def code_blocks(language: str) -> list[tuple[str, str]]:
    """(``page:line``, body) of every fenced block of ``language`` in the README and the docs."""
    found = []
    for page in PAGES:
        lines = page.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() == f"```{language}":
                end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
                found.append((f"{page.relative_to(ROOT)}:{i + 1}", "\n".join(lines[i + 1 : end])))
    return found


def test_the_committed_suite_keys_reference_is_the_generated_one():
    committed = (ROOT / "docs" / "suite-keys.md").read_text()
    assert committed == suite_keys_markdown(), "regenerate: python -m pytest_punie suite-keys > docs/suite-keys.md"


def test_every_suite_key_has_a_meaning():
    keys = list(schema_keys(suite_schema()))
    assert len(keys) >= 75
    assert [path for path, node in keys if not node.get("description")] == []


def test_every_option_the_docs_name_exists():
    declared = set(re.findall(r"`(--punie-[a-z-]+)`", options_markdown()))
    named = {}
    for page in PAGES:
        for option in re.findall(r"(--punie-[a-z][a-z-]*[a-z])", page.read_text()):
            named.setdefault(option, page.relative_to(ROOT))
    assert len(named) >= 30
    assert {o: str(p) for o, p in named.items() if o not in declared} == {}


def test_every_command_the_docs_name_exists():
    usage = subprocess.run([sys.executable, "-m", "pytest_punie"], capture_output=True, text=True).stderr
    named = {m for page in PAGES for m in re.findall(r"python -m pytest_punie ([a-z-]+)", page.read_text())}
    assert named >= {"cache", "report", "same", "options", "suite-keys"}
    assert {c for c in named if f"python -m pytest_punie {c}" not in usage} == set()


MINIMAL_SUITE = yaml.safe_load(_minimal())  # the loader tests' minimal suite


@pytest.mark.parametrize(("where", "body"), code_blocks("yaml"), ids=[w for w, _ in code_blocks("yaml")])
def test_every_yaml_example_loads_as_a_suite(where: str, body: str, tmp_path: Path):
    """A whole suite loads as written; a fragment loads on top of a minimal suite (its prompts'
    categories added), so every key it shows is one the loader accepts."""
    from pytest_punie.suite import load_suite

    data = yaml.safe_load(body)
    if "suite" not in data:
        categories = {p["category"]: {"threshold": ">= 0.5"} for p in data.get("prompts", [])}
        data = {**MINIMAL_SUITE, **data, "categories": categories or MINIMAL_SUITE["categories"]}
        body = yaml.safe_dump(data)
    path = tmp_path / "example.yaml"
    path.write_text(body)
    suite = load_suite(path)
    assert suite.prompts, where


@pytest.mark.parametrize(("where", "body"), code_blocks("toml"), ids=[w for w, _ in code_blocks("toml")])
def test_every_toml_example_is_a_registry_the_loader_accepts(where: str, body: str, tmp_path: Path):
    from pytest_punie.models.resolve import project_registry

    (tmp_path / "pyproject.toml").write_text(body)
    names = re.findall(r"^\[tool\.punie\.models\.([A-Za-z0-9_]+)\]", body, flags=re.M)  # not its sub-tables
    assert names and sorted(project_registry(tmp_path)) == sorted(names), where
