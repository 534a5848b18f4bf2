"""Items that come from command-line options rather than from files:
``--punie-train-log``, ``--punie-adapter``, ``--punie-tokenizer`` and
``--punie-data`` (datasets linted against the suites collected, or every
suite the ini globs name when none was)."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.items.data import DatasetCollector
from pytest_punie.items.pipeline import command_line_items as artifact_items
from pytest_punie.items.prompts import PromptItem, SuiteFile
from pytest_punie.items.tokenizeritems import tokenizer_items
from pytest_punie.suite import Suite, load_suite
from pytest_punie.suites import packaged_suites


def command_line_items(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> list[pytest.Item]:
    """The items options ask for (artifacts, tokenizers, suites, datasets), added to what was collected."""
    out: list[pytest.Item] = [*artifact_items(session, config), *tokenizer_items(session, config)]
    out += suite_items(session, config, items)
    dirs = config.getoption("punie_data")
    if dirs:
        suites = _suites(config, items)
        for d in dirs:
            collector = DatasetCollector.from_parent(
                session, name=f"data[{d}]", dataset=Path(d).resolve(), suites=suites
            )
            out.extend(collector.collect())
    return out


def suite_items(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> list[pytest.Item]:
    """``--punie-suite NAME|FILE``: a packaged suite by name, or a suite file; a
    project's own suite of the same name wins over a packaged one."""
    own = {i.suite.name for i in items if isinstance(i, PromptItem)}
    collected = {Path(i.suite.path).resolve() for i in items if isinstance(i, PromptItem)}
    packaged = packaged_suites()
    out: list[pytest.Item] = []
    for value in config.getoption("punie_suite"):
        path = packaged.get(value) or Path(value).resolve()
        if (value in packaged and value in own) or path in collected:
            continue  # collected already (the project's own suite, or a file of its testpaths)
        out += _expand(SuiteFile.from_parent(session, path=path))
    return out


def select_by_options(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--punie-suite`` selects as well as adds: the prompts of the suites it does not name (the
    project's testpaths collect every suite) are deselected, so ``--punie-suite=phase33`` runs
    Phase 33 alone in the checkout as from any project. ``--punie-variant=NAME`` keeps only that
    variant's prompts (``seed=1``: a name with ``=``, which ``-k`` cannot hold)."""
    suites = config.getoption("punie_suite")
    variants = config.getoption("punie_variant")
    if variants:
        known = list(dict.fromkeys(i.variant.name for i in items if isinstance(i, PromptItem) and i.variant.name))
        unknown = [v for v in variants if v not in known]
        if unknown:
            sweeps = "none: give --punie-seeds, --punie-bits, --punie-checkpoints or --punie-temperatures"
            raise pytest.UsageError(
                f"--punie-variant {', '.join(unknown)}: no such variant in this run "
                f"(its variants: {', '.join(known) or sweeps})"
            )
    names = set(suites)
    files = {Path(v).resolve() for v in suites}

    def other(item: pytest.Item) -> bool:
        if not isinstance(item, PromptItem):
            return False
        if suites and item.suite.name not in names and Path(item.suite.path).resolve() not in files:
            return True
        return bool(variants) and item.variant.name not in variants

    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (drop if other(item) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _expand(node: pytest.Collector) -> list[pytest.Item]:
    out: list[pytest.Item] = []
    for child in node.collect():
        out += [child] if isinstance(child, pytest.Item) else _expand(child)
    return out


def _suites(config: pytest.Config, items: list[pytest.Item]) -> list[Suite]:
    suites: list[Suite] = []
    for item in items:
        if isinstance(item, PromptItem) and item.suite not in suites:
            suites.append(item.suite)
    if suites:
        return suites
    for pattern in config.getini("punie_suites"):
        for path in sorted(glob.glob(str(config.rootpath / pattern))):
            try:
                suites.append(load_suite(path))
            except PunieError:
                pass  # reported by that suite's own item
    return suites
