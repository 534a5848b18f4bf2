"""Collection: a suite YAML file becomes a File node with one Item per prompt.

Like pytest's "non-python tests" example: ``reportinfo`` and ``repr_failure``
point at the YAML line and explain a miss in the user's terms.
"""

from __future__ import annotations

import fnmatch
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.results import PromptResult
from pytest_punie.suite.model import Prompt, Suite
from pytest_punie.toolsurface import ToolSurface, load_surface

EVAL_MARK = "eval"


def combine_samples(scoreds: list[Any], pass_score: Any, scorer: str) -> Any:
    """N samples of one prompt: mean scores, the most common label, and in
    details the pass rate and pass^k (the chance that k samples all pass)."""
    from collections import Counter
    from fractions import Fraction

    from pytest_punie.gate.stats import pass_hat_k
    from pytest_punie.scoring import SampledResponse

    n = len(scoreds)
    means = {k: sum((s.scores[k] for s in scoreds), Fraction(0)) / n for k in scoreds[0].scores}
    passes = sum(1 for s in scoreds if s.scores[scorer] >= pass_score)
    label = Counter(s.label for s in scoreds).most_common(1)[0][0]
    extra = {
        "samples": n,
        "sample_passes": passes,
        "pass_rate": round(passes / n, 6),
        "pass_hat_k": {str(k): round(pass_hat_k(passes, n, k), 6) for k in range(1, n + 1)},
        "sample_scores": [float(s.scores[scorer]) for s in scoreds],
        "sample_labels": [s.label for s in scoreds],
    }
    first = scoreds[0]
    return SampledResponse(means, label, first.legacy, first.strict, first.parsed, served=first.served, extra=extra)


class PromptMissed(Exception):
    """The prompt's score is below the suite's pass score."""

    def __init__(self, result: PromptResult, prompt: Prompt):
        self.result = result
        self.prompt = prompt
        super().__init__(f"{prompt.id} scored {float(result.score):.2f}")


class NoResponse(Exception):
    """The prompt got no response (transport error, timeout, nothing recorded)."""


def suite_globs(config: pytest.Config) -> list[str]:
    return [g for g in config.getini("punie_suites") if g]


def is_suite_file(config: pytest.Config, path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        rel = path.relative_to(config.rootpath).as_posix()
    except ValueError:
        rel = path.as_posix()
    return any(glob_match(rel, g) or glob_match(path.as_posix(), g) for g in suite_globs(config))


def glob_match(path: str, pattern: str) -> bool:
    """Shell-style, part by part: ``*`` never crosses a ``/`` (so
    ``evalsuites/*.yaml`` does not take ``evalsuites/tokenizers/qwen3.yaml``)."""
    parts, pats = path.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats, strict=True))


class SuiteFile(pytest.File):
    def collect(self):  # type: ignore[override]
        from pytest_punie.suite import load_suite

        try:
            suite = load_suite(self.path)
        except PunieError as err:
            # an item, not a collection error: the other suites still collect and run
            err.path = display_path(self.config, self.path)
            yield SuiteErrorItem.from_parent(self, name="<suite>", error=err)
            return
        from pytest_punie.variants import Variant, variants_of

        try:
            variants = variants_of(self.config)
        except PunieError:
            variants = [Variant()]  # the items report the bad option
        for variant in variants:
            for prompt in suite.prompts:
                name = prompt.id if not variant.name else f"{prompt.id}[{variant.name}]"
                yield PromptItem.from_parent(self, name=name, suite=suite, prompt=prompt, variant=variant)
        from pytest_punie.datacollect import DatasetCollector
        from pytest_punie.plugin import punie_run

        run = punie_run(self.config)
        run.suites_seen.append(suite)
        for name, directory in suite.datasets().items():
            yield DatasetCollector.from_parent(self, name=f"data[{name}]", dataset=directory, suites=[suite])
        yield from self._pipeline(run)

    def _pipeline(self, run: Any) -> Any:
        """Pipeline checks of the model under test, under the first suite collected."""
        from pytest_punie.sources.factory import model_name, uses_model

        if run.pipeline_collected or not uses_model(self.config):
            return
        run.pipeline_collected = True
        from pytest_punie.models.resolve import resolve_spec
        from pytest_punie.pipelinecollect import PipelineCollector

        name = model_name(self.config)
        assert name is not None
        try:
            spec = resolve_spec(name, self.config.rootpath)
        except PunieError:
            return  # the eval items report an unknown model
        yield PipelineCollector.from_parent(self, name=f"pipeline[{name}]", model_name=name, entry=spec.entry)


def display_path(config: pytest.Config, path: Path) -> str:
    """A path as reports show it: relative to rootdir when it is under it."""
    try:
        return path.relative_to(config.rootpath).as_posix()
    except ValueError:
        return str(path)


class SuiteErrorItem(pytest.Item):
    def __init__(self, *, error: PunieError, **kwargs: Any):
        super().__init__(**kwargs)
        self.error = error
        self.add_marker(EVAL_MARK)

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        return f"invalid suite: {self.error.describe()}"

    def reportinfo(self):
        return self.path, (self.error.line or 1) - 1, f"{self.path.name}: invalid suite"


class PromptItem(pytest.Item):
    def __init__(self, *, suite: Suite, prompt: Prompt, variant: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        from pytest_punie.variants import Variant

        self.suite = suite
        self.prompt = prompt
        self.variant: Variant = variant or Variant()
        self.punie_result: PromptResult | None = None
        self.add_marker(EVAL_MARK)
        self.extra_keyword_matches.update({prompt.category, suite.name})

    # -- running ------------------------------------------------------------------
    def _batch(self) -> list[Prompt]:
        return [
            i.prompt
            for i in self.session.items
            if isinstance(i, PromptItem) and i.suite is self.suite and i.variant == self.variant
        ]

    def runtest(self) -> None:
        from pytest_punie.plugin import punie_run
        from pytest_punie.scoring import score_response
        from pytest_punie.sources import MissingResponse

        run = punie_run(self.config)
        started = time.monotonic()
        repeat = max(1, int(self.config.getoption("punie_repeat") or 1))
        source = run.source_for(self.variant)
        try:
            records = [source.get(self.suite, self.prompt, self._batch(), sample=i) for i in range(repeat)]
        except MissingResponse as exc:
            self.punie_result = self._no_response(str(exc))
            raise NoResponse(str(exc)) from None
        scorer = run.scorer or self.suite.primary_scorer
        surface = self.suite_surface()
        # a transport error is scored as no response
        scoreds = [score_response(r.response if r.error is None else None, self.prompt, surface) for r in records]
        record = next((r for r in records if r.error is not None), records[0])
        scored = scoreds[0] if repeat == 1 else combine_samples(scoreds, self.suite.pass_score, scorer)
        result = PromptResult.from_scored(self.suite_ref, self.suite, self.prompt, scored, scorer, record)
        result.variant = self.variant.name
        if result.seconds is None:
            result.seconds = round(time.monotonic() - started, 3)
        self.punie_result = result
        for name, value in scored.scores.items():
            self.user_properties.append((f"punie_score_{name}", f"{float(value):.4f}"))
        self.user_properties.append(("punie_label", scored.label))
        if record.error is not None:
            raise NoResponse(f"no response: {record.error}")
        if not result.passed:
            raise PromptMissed(result, self.prompt)

    def suite_surface(self) -> ToolSurface:
        return load_surface(self.suite.tool_surface)

    @property
    def suite_ref(self) -> str:
        """The suite path as results name it: relative to rootdir when possible."""
        return display_path(self.config, self.path)

    def _no_response(self, why: str) -> PromptResult:
        from fractions import Fraction

        return PromptResult(
            suite=self.suite_ref,
            suite_digest=self.suite.digest,
            id=self.prompt.id,
            category=self.prompt.category,
            scores={"legacy": Fraction(0), "strict": Fraction(0)},
            primary_scorer=self.suite.primary_scorer,
            passed=False,
            label="error",
            response=None,
            error=why,
            variant=self.variant.name,
        )

    # -- reporting ----------------------------------------------------------------
    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        exc = excinfo.value
        where = f"{self.path.name}:{self.prompt.line}"
        if isinstance(exc, PromptMissed):
            r = exc.result
            d = r.details
            exp = self.prompt.expect
            wanted = (" and " if exp.match == "all" else " or ").join(exp.tools)
            lines = [
                f"{self.prompt.id} ({self.prompt.category}) missed at {where}",
                f"  query:          {self.prompt.query}",
                f"  expected tools: {wanted} (called through {self.suite_surface().wrapper})",
                f"  found tools:    {', '.join(d.get('tools_called') or []) or 'none'}"
                + (f"; direct calls: {', '.join(d['direct_calls'])}" if d.get("direct_calls") else ""),
                f"  label:          {r.label}",
                "  scores:         "
                + ", ".join(f"{k} {float(v):.2f}" for k, v in sorted(r.scores.items()))
                + f" (primary {r.primary_scorer}, pass at {float(self.suite.pass_score):.2f})",
            ]
            for problem in d.get("problems") or []:
                lines.append(f"  problem:        {problem}")
            lines.append(f"  response:       {_snippet(r.response)}")
            return "\n".join(lines)
        if isinstance(exc, (NoResponse, PunieError)):
            msg = exc.describe() if isinstance(exc, PunieError) else str(exc)
            return f"{self.prompt.id} ({self.prompt.category}) at {where}: {msg}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, self.prompt.line - 1, f"{self.suite.name}::{self.prompt.id} [{self.prompt.category}]"


def _snippet(response: dict[str, Any] | None, width: int = 300) -> str:
    if not response:
        return "(none)"
    from pytest_punie.scoring.parse import message_of

    msg = message_of(response)
    text = msg.get("content") or ""
    if msg.get("tool_calls"):
        text = f"tool_calls={msg['tool_calls']!r} " + text
    text = text.replace("\n", "\\n")
    return repr(text[:width]) + (" ..." if len(text) > width else "")
