"""A suite YAML file becomes a File node with one item per prompt.

Like pytest's "non-python tests" example: ``reportinfo`` and ``repr_failure``
point at the YAML line and explain a miss in the user's terms. The work of
an item is one call: ``judge_prompt(prompt, its response records)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.items.data import DatasetCollector
from pytest_punie.items.paths import display_path
from pytest_punie.items.pipeline import PipelineCollector
from pytest_punie.results import PromptResult, judge_prompt, no_response
from pytest_punie.scoring.parse import written_text
from pytest_punie.session import punie_session
from pytest_punie.sources import MissingResponse
from pytest_punie.sources.sourceoptions import source_options
from pytest_punie.sources.variants import Variant, variants_of
from pytest_punie.suite import load_suite
from pytest_punie.suite.suitetypes import Prompt, Suite
from pytest_punie.suites import is_packaged
from pytest_punie.toolsurface import load_surface
from pytest_punie.views.execution import execution_lines, transcript_lines

EVAL_MARK = "eval"


class PromptMissed(Exception):
    """The prompt's score is below the suite's pass score."""

    def __init__(self, result: PromptResult, prompt: Prompt):
        self.result = result
        self.prompt = prompt
        super().__init__(f"{prompt.id} scored {float(result.score):.2f}")


class NoResponse(Exception):
    """The prompt got no response (transport error, timeout, nothing recorded)."""


class SuiteFile(pytest.File):
    """A suite YAML file collected as one item per prompt (non-python tests, as pytest's example)."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        """An item per prompt (per variant), or one item naming the suite's error at its line."""
        try:
            suite = load_suite(self.path)
        except PunieError as err:
            # an item, not a collection error: the other suites still collect and run
            err.path = display_path(self.config, self.path)
            yield SuiteErrorItem.from_parent(self, name="<suite>", error=err)
            return
        try:
            variants = variants_of(source_options(self.config))
        except PunieError:
            variants = [Variant()]  # the items report the bad option
        for variant in variants:
            for prompt in suite.prompts:
                name = prompt.id if not variant.name else f"{prompt.id}[{variant.name}]"
                yield PromptItem.from_parent(self, name=name, suite=suite, prompt=prompt, variant=variant)
        session = punie_session(self.config)
        session.suites_seen.append(suite)
        datasets = {} if is_packaged(self.path) else suite.datasets()  # a packaged suite's data is not shipped
        for name, directory in datasets.items():
            if directory.resolve() in session.collected.datasets_collected:
                continue  # linted under the first suite that names it, against every suite that does
            session.collected.datasets_collected.add(directory.resolve())
            yield DatasetCollector.from_parent(self, name=f"data[{name}]", dataset=directory, suites=[suite])
        if not session.collected.pipeline_collected:
            collector = PipelineCollector.for_model_under_test(self)
            if collector is not None:
                session.collected.pipeline_collected = True
                yield collector


class SuiteErrorItem(pytest.Item):
    """An invalid suite as an item: the other suites still collect and run."""

    def __init__(self, *, error: PunieError, **kwargs: Any):
        super().__init__(**kwargs)
        self.error = error
        self.add_marker(EVAL_MARK)

    def runtest(self) -> None:
        """Fails with the suite's located error."""
        raise self.error

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        """The suite's error at its file and line."""
        return f"invalid suite: {self.error.describe()}"

    def reportinfo(self):
        """Where pytest says the error is: the suite file, at the line."""
        return self.path, (self.error.line or 1) - 1, f"{self.path.name}: invalid suite"


class PromptItem(pytest.Item):
    """One prompt of a suite (at one variant): asked, scored by both scorers, passed or missed."""

    def __init__(self, *, suite: Suite, prompt: Prompt, variant: Variant | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.suite = suite
        self.prompt = prompt
        self.variant = variant or Variant()
        self.punie_result: PromptResult | None = None
        self.add_marker(EVAL_MARK)
        self.extra_keyword_matches.update({prompt.category, suite.name})

    # -- running ------------------------------------------------------------------
    def _batch(self) -> list[Prompt]:
        """The prompts of this suite and variant this process will ask for: generated together (the
        session's items grouped once, on the first item run: each item looks its batch up)."""
        batches = getattr(self.session, "_punie_batches", None)
        if batches is None or batches[0] is not self.session.items:
            grouped: dict[tuple[int, str], list[Prompt]] = {}
            for i in self.session.items:
                if isinstance(i, PromptItem):
                    grouped.setdefault((id(i.suite), i.variant.name), []).append(i.prompt)
            batches = (self.session.items, grouped)
            self.session._punie_batches = batches  # type: ignore[attr-defined]
        return batches[1].get((id(self.suite), self.variant.name), [])

    def runtest(self) -> None:
        """Gets the response, scores it, records it; a miss when the primary score is under the pass score."""
        session = punie_session(self.config)
        started = time.monotonic()
        repeat = max(1, session.source_options.repeat)
        try:
            source = session.source_for(self.variant)
        except PunieError as err:
            from pytest_punie.budget import BUDGET_STOP

            budget_stop = BUDGET_STOP.search(err.describe()) is not None
            if not self.variant.name and not budget_stop:
                raise  # the model under test itself: every item names the problem
            # one variant (a seed, a checkpoint) that could not be built, or work the run's budget did not
            # start: its prompts are unanswered, the run INCOMPLETE with the reason, never a FAIL
            from pytest_punie.provenance import host_name, reached_over_ssh

            on = f" on {host_name()}" if reached_over_ssh() and session.is_worker else ""  # a remote host, named
            why = f"{self.variant.name or 'the model'} not built{on}: {err.describe()}"
            self.punie_result = no_response(self.suite_ref, self.suite, self.prompt, why, self.variant.name)
            raise NoResponse(why) from None
        try:
            records = [source.get(self.suite, self.prompt, self._batch(), sample=i) for i in range(repeat)]
        except MissingResponse as exc:
            self.punie_result = no_response(self.suite_ref, self.suite, self.prompt, str(exc), self.variant.name)
            raise NoResponse(str(exc)) from None
        result = judge_prompt(self.suite_ref, self.suite, self.prompt, records, session.scorer, self.variant.name)
        if result.seconds is None:
            result.seconds = round(time.monotonic() - started, 3)
        self.punie_result = result
        for name, value in result.scores.items():
            self.user_properties.append((f"punie_score_{name}", f"{float(value):.4f}"))
        self.user_properties.append(("punie_label", result.label))
        if result.error is not None:
            raise NoResponse(f"no response: {result.error}")
        if not result.passed:
            raise PromptMissed(result, self.prompt)

    @property
    def suite_ref(self) -> str:
        """The suite path as results name it: relative to rootdir when possible."""
        return display_path(self.config, self.path)

    # -- reporting ----------------------------------------------------------------
    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        """A miss in the user's terms: the prompt at its line, its label, both scores and what the model wrote."""
        exc = excinfo.value
        where = f"{self.path.name}:{self.prompt.line}"
        if isinstance(exc, PromptMissed):
            r = exc.result
            d = r.details
            wrapper = load_surface(self.suite.tool_surface).wrapper
            lines = [
                f"{self.prompt.id} ({self.prompt.category}) missed at {where}",
                f"  query:          {self.prompt.query}",
                f"  expected:       {self.prompt.expect.describe(wrapper)}",
                f"  found tools:    {', '.join(d.get('tools_called') or []) or 'none'}"
                + (f"; direct calls: {', '.join(d['direct_calls'])}" if d.get("direct_calls") else ""),
                f"  label:          {r.label}",
                "  scores:         "
                + ", ".join(f"{k} {float(v):.2f}" for k, v in sorted(r.scores.items()))
                + f" (primary {r.primary_scorer}, pass at {float(self.suite.pass_score):.2f})",
            ]
            for problem in d.get("problems") or []:
                lines.append(f"  problem:        {problem}")
            lines.append(f"  served:         {(d.get('served') or {}).get('status', '-')}")
            lines.append(f"  the model wrote:{_snippet(r.response)}")
            lines += [f"  {line}" for line in execution_lines(d)]
            lines += [f"  {line}" for line in transcript_lines(r.response)]
            return "\n".join(lines)
        if isinstance(exc, (NoResponse, PunieError)):
            msg = exc.describe() if isinstance(exc, PunieError) else str(exc)
            return f"{self.prompt.id} ({self.prompt.category}) at {where}: {msg}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        """Where pytest says the prompt is: the suite file, at the prompt's line."""
        return self.path, self.prompt.line - 1, f"{self.suite.name}::{self.prompt.id} [{self.prompt.category}]"


def _snippet(response: dict[str, Any] | None, lines: int = 12, width: int = 600) -> str:
    """What the model wrote, readable: the raw text when kept (what a server may
    have dropped is in it), indented, trimmed to a few lines."""
    if not response:
        return "(none)"
    raw = written_text(response)
    if not raw.strip():
        return "(empty)"
    shown = raw[:width].splitlines()[:lines]
    more = len(raw) > width or len(raw.splitlines()) > lines
    return "\n" + "\n".join(f"    | {line}" for line in shown) + ("\n    | ..." if more else "")
