"""One pytest run of pytest-punie: its rooms, each with one job, behind one plugin object.

The plugin registers a ``PunieSession`` per process and delegates to it; the session owns the
rooms and says which one does what (pytest-benchmark's plugin/session split):

- ``collected``: what collection found (suites, datasets, held-back items) and how the run was asked for;
- ``responders``: who answers (the response source per variant, the model, the fixtures' generator);
- ``gathered``: the run's state, the results and findings gathered from every worker;
- ``hosts``: on the controller of a run over remote hosts, the hosts lost and what they left unanswered;
- ``finishing``: on the controller, the document, the gate, the written reports, the exit status.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import Any

import pytest

from pytest_punie.resultsformat import JsonObject
from pytest_punie.session.collected import Collected, usage_errors
from pytest_punie.session.finishing import (
    EXIT_INCOMPLETE,
    EXIT_INVALID,
    Finished,
    expected_variants,
    finish,
    summary_sections,
)
from pytest_punie.session.gathered import Gathered
from pytest_punie.session.hosts import HostLedger, prepare_remote, unanswered_results
from pytest_punie.session.responders import Responders
from pytest_punie.sources import ResponseSource
from pytest_punie.sources.sourceoptions import source_options
from pytest_punie.suite.suitetypes import Suite
from pytest_punie.views.write import OutputPaths

__all__ = ["EXIT_INCOMPLETE", "EXIT_INVALID", "PunieSession", "find_session", "punie_session"]

_KEY = pytest.StashKey["PunieSession"]()


def punie_session(config: pytest.Config) -> PunieSession:
    """The run's session (registered by the plugin in ``pytest_configure``)."""
    return config.stash[_KEY]


def find_session(config: pytest.Config) -> PunieSession | None:
    """The run's session, if the plugin made one."""
    return config.stash.get(_KEY, None)


class PunieSession:
    """Per-process state of one pytest run: its rooms, and the one-line entries the items and
    hooks call (each delegates to the room that does it)."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.source_options = source_options(config)  # read once; the sources take it, never the config
        self.scorer: str | None = config.getoption("punie_scorer")
        self.strict_mode: bool = bool(config.getoption("punie_strict"))
        self.collected = Collected()
        self.responders = Responders(config, self.source_options, self.collected.suites_seen, self.is_worker)
        self.gathered = Gathered()
        self.hosts = HostLedger()
        self.outputs = OutputPaths.from_config(config)
        self.finished = Finished()
        config.stash[_KEY] = self

    @property
    def is_worker(self) -> bool:
        """Whether this process is an xdist worker (the controller writes the reports)."""
        return hasattr(self.config, "workerinput")

    # -- collection -------------------------------------------------------------------
    @property
    def suites_seen(self) -> list[Suite]:
        """Suites collected in this process."""
        return self.collected.suites_seen

    def smoke_prompt(self) -> tuple[str, str]:
        """(system prompt, query) for the smoke check."""
        return self.collected.smoke_prompt()

    def smoke_messages(self) -> tuple[dict[str, str], ...]:
        """The smoke generation's messages."""
        return self.collected.smoke_messages()

    def training_example(self, with_response: bool = True) -> list[JsonObject] | None:
        """The first tool-calling training example of the suites' datasets."""
        return self.collected.training_example(with_response)

    def usage_errors(self, value_options: tuple[str, ...]) -> list[str]:
        """What is wrong with how the run was asked for, before anything runs."""
        return usage_errors(self.config, self.source_options, value_options)

    def prepare_remote(self) -> list[str]:
        """A run over remote hosts: replace no lost worker; path arguments xdist cannot send refused."""
        return prepare_remote(self.config)

    def collection_report(self) -> list[str]:
        """Said when a run meant to evaluate found nothing, or a bare run held items back."""
        return self.collected.report(self.config, self.is_worker)

    # -- who answers ------------------------------------------------------------------
    def source(self) -> ResponseSource:
        """Where responses come from, made once."""
        return self.responders.source()

    def source_for(self, variant: Any) -> ResponseSource:
        """The source for one variant (made once per variant)."""
        return self.responders.source_for(variant)

    def model(self) -> Any:
        """The model under test, resolved and built once per process."""
        return self.responders.model()

    def generator(self) -> Callable[..., JsonObject]:
        """The ``punie_generate`` fixture's function."""
        return self.responders.generator()

    def progress(self) -> AbstractContextManager[Callable[[str], None]]:
        """Progress lines shown live, even while pytest captures output."""
        return self.responders.progress()

    def say(self, message: str) -> None:
        """One live progress line."""
        self.responders.say(message)

    def start(self, variants: Collection[Any], asked: list[tuple[Any, Any, str]] | None = None) -> None:
        """With a budget, the plan first (refused when it cannot fit); then the model resolved (and
        built) before the first prompt item. ``asked``: (suite, prompt, variant) of every selected prompt."""
        if self.source_options.budget is not None and variants and not self.config.option.collectonly:
            self.responders.check_plan(asked or [])
        self.responders.start(variants)

    # -- the run's state --------------------------------------------------------------
    def attach(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
        """Put an item's result on its report, for the xdist controller."""
        self.gathered.attach(item, call, report, self.responders.source_identity)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_runtest_logreport"""
        if not self.hosts.saw(report):  # the item a lost host was running is unanswered, not failed
            self.gathered.collect(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """pytest-xdist's hook, on the controller: what the workers will run."""
        self.hosts.node_collected(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """pytest-xdist's hook, on the controller: a worker ended (with an error: its host was lost)."""
        self.hosts.node_down(node, error)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist's hook, on the controller, for each worker it starts."""
        self.responders.configure_node(node, self.expected_variants())

    # -- finishing --------------------------------------------------------------------
    def finish(self, exitstatus: int) -> int:
        """Judge, gate and write the documents; the run's exit status (workers: pytest's own)."""
        if self.is_worker:
            return exitstatus
        self.gathered.results.extend(unanswered_results(self.hosts, self.config.rootpath))
        return finish(
            self.config,
            self.gathered,
            self.source_options,
            self.outputs,
            self.responders.main_source,
            exitstatus,
            self.finished,
        )

    def expected_variants(self) -> tuple[str, ...]:
        """The variants this run asks for, for the xdist scheduler."""
        return expected_variants(self.source_options)

    def summary_sections(self) -> list[tuple[str | None, list[str]]]:
        """(section title or None, lines) for the terminal summary."""
        return summary_sections(self.config, self.finished, bool(self.gathered.results))

    def close(self) -> None:
        """Stops what the run started."""
        self.responders.close()
