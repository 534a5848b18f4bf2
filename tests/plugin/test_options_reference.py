"""docs/options.md is the options reference generated from the declarations, and it covers every
--punie-* option and punie_* ini key that pytest itself knows (from `pytest --help`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_punie.optionsref import options_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_the_generated_one():
    committed = (ROOT / "docs" / "options.md").read_text()
    assert committed == options_markdown(), "regenerate: python -m pytest_punie options > docs/options.md"


def test_the_reference_covers_every_option_and_ini_key_pytest_knows(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\n")
    shown = pytester.runpytest("--help").stdout.str()
    options = set(re.findall(r"(--punie-[a-z-]+)", shown))
    inis = set(re.findall(r"^\s+(punie_[a-z_]+)\s", shown, flags=re.M))
    reference = options_markdown()
    documented = set(re.findall(r"`(--punie-[a-z-]+)`", reference))
    documented_inis = set(re.findall(r"^\| `(punie_[a-z_]+)`", reference, flags=re.M))
    assert len(options) >= 40 and len(inis) >= 8
    assert options == documented and inis == documented_inis
    cell = r"(?:[^|\\]|\\.)+"  # a table cell: anything but an unescaped |
    assert all(re.search(rf"`{o}` \| {cell} \| {cell} \| \S", reference) for o in options)  # each has a meaning


def test_the_command_prints_it():
    done = subprocess.run([sys.executable, "-m", "pytest_punie", "options"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == options_markdown()
