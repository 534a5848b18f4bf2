"""The pytest plugin: glue between pytest and pytest-punie.

Inert unless used: importing it imports no mlx, starts no server and reads
no model. Options are ``--punie-*`` (``options.py``); markers are registered
here; each hook delegates to the run's ``PunieSession`` or to the items.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.items.commandline import command_line_items, select_by_options
from pytest_punie.items.largeruns import one_line_misses
from pytest_punie.items.paths import is_suite_file
from pytest_punie.items.prompts import PromptItem, SuiteErrorItem, SuiteFile
from pytest_punie.items.scheduling import variant_scheduler
from pytest_punie.items.selection import hold_back
from pytest_punie.options import add_options, value_options
from pytest_punie.session import PunieSession, find_session, punie_session
from pytest_punie.session.hosts import unreachable

MARKERS = {
    "eval": "an eval prompt of a pytest-punie suite (scored against a model's response)",
    "data": "a pytest-punie training-data lint check",
    "tokenizer": "a pytest-punie tokenizer preflight check",
    "pipeline": "a pytest-punie training / fuse / quantize artifact check",
    "slow": "slow end-to-end test (builds or runs a real model); still runs in CI",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_addoption"""
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers and the run's session; bad options are usage errors before anything runs."""
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")  # "PyTorch was not found": not the user's business
    session = PunieSession(config)
    config.pluginmanager.register(session, "punie-session")
    errors = [] if session.is_worker else session.usage_errors(value_options()) + session.prepare_remote()
    if errors:
        raise pytest.UsageError("\n".join(f"pytest-punie: {e}" for e in errors))
    if config.getoption("punie_responses"):
        try:  # a bad responses file names its file and line
            session.source()
        except PunieError as err:
            raise pytest.UsageError(err.describe()) from None
    if config.getoption("punie_server_url") and not config.getoption("punie_server_model"):
        raise pytest.UsageError(
            "--punie-server-url needs --punie-server-model NAME: the model the server must answer for"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_unconfigure"""
    session = find_session(config)
    if session is not None:
        session.close()
        config.pluginmanager.unregister(session)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A suite YAML file becomes a SuiteFile (one item per prompt)."""
    return SuiteFile.from_parent(parent, path=file_path) if is_suite_file(parent.config, file_path) else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Items from options (--punie-data, --punie-train-log, ...), added before -m/-k select;
    ``--punie-suite`` and ``--punie-variant`` keep what they name; a bare run holds back the
    items that need a model."""
    items.extend(command_line_items(session, config, items))
    select_by_options(config, items)
    punie_session(config).collected.held_back = hold_back(config, items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Resolve (and build) the model before the first prompt item, not inside it."""
    prompts = [i for i in session.items if isinstance(i, PromptItem)]
    punie_session(session.config).start(
        {i.variant for i in prompts}, [(i.suite, i.prompt, i.variant.name) for i in prompts]
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """An item's result rides on its report to the xdist controller."""
    outcome = yield
    punie_session(item.config).attach(item, call, outcome.get_result())


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n``, a run with several variants sends each variant to one worker."""
    return variant_scheduler(config, log, punie_session(config).expected_variants())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionstart(session: pytest.Session):
    """A remote host xdist cannot open at the start is a usage error naming it, not an INTERNALERROR."""
    try:
        return (yield)
    except Exception as exc:
        said = unreachable(exc)
        if said is None:
            raise
        raise pytest.UsageError(said) from None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The verdict is the exit status."""
    status = punie_session(session.config).finish(exitstatus)
    if status != exitstatus:
        session.exitstatus = status


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    """A run meant to evaluate that found no suite says so; a run of thousands of prompts lists misses one line each."""
    return punie_session(config).collection_report() + one_line_misses(config, items)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_terminal_summary"""
    for title, lines in punie_session(terminalreporter.config).summary_sections():
        if title:
            terminalreporter.section(title, sep="=")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def punie_model(pytestconfig: pytest.Config) -> Any:
    """The model under test (``--punie-model``), resolved and built if needed:
    ``.path``, ``.digest``, ``.builds``, ``.identity()``."""
    return punie_session(pytestconfig).model()


@pytest.fixture(scope="session")
def punie_generate(pytestconfig: pytest.Config) -> Any:
    """Generate with the run's model and backend from your own tests::

        def test_answers_with_a_tool_call(punie_generate):
            response = punie_generate("Show the git status.", max_tokens=128)
            assert "<tool_call>" in response["punie"]["raw_text"]

    Takes a query (with the first suite's system prompt) or a list of chat
    messages, and sampling keywords; returns the chat.completion dict."""
    return punie_session(pytestconfig).generator()


__all__ = ["PromptItem", "SuiteErrorItem", "SuiteFile"]
