"""Who answers the run's prompts: the response source (replay, a server, the model) made once per
process and per variant, the model resolved (built if missing) once, the ``punie_generate``
fixture, the live progress lines, and stopping what was started."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Collection, Iterator
from typing import Any

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.resultsformat import JsonObject
from pytest_punie.sources import ResponseSource
from pytest_punie.sources.sourceoptions import SourceOptions
from pytest_punie.suite.suitetypes import Suite, chat_messages


class Responders:
    """The run's response sources and model, each made once (a failure remembered, so a failing
    build fails once, not once per prompt)."""

    def __init__(self, config: pytest.Config, opts: SourceOptions, suites: list[Suite], is_worker: bool):
        self.config = config
        self.opts = opts
        self.suites = suites  # the collected suites (the list collection fills)
        self.is_worker = is_worker
        self.run_dir: Any = None  # xdist controller: where workers share one server
        self._source: ResponseSource | None = None
        self._source_error: PunieError | None = None
        self._model: Any = None
        self._model_error: PunieError | None = None
        self._variant_sources: dict[str, ResponseSource] = {}
        self._variant_errors: dict[str, PunieError] = {}  # a variant that failed to build fails once, not per item
        self._restore_sigterm = False

    @property
    def main_source(self) -> ResponseSource | None:
        """The run's own source, if one was made (what an interruption reports on)."""
        return self._source

    def source(self) -> ResponseSource:
        """Where responses come from (replay, external server, or the model), made once."""
        if self._source_error is not None:
            raise self._source_error
        if self._source is None:
            from pytest_punie.sources.factory import make_source

            try:
                with self.progress() as log:
                    self._source = self._live(make_source(self.opts, log, self.model, self.suites))
            except PunieError as err:
                self._source_error = err
                raise
        return self._source

    def _live(self, source: ResponseSource) -> ResponseSource:
        """Responses are reported one line each as they complete (not on xdist workers:
        their lines would interleave with the controller's)."""
        if source.backend is not None and not self.is_worker:
            source.progress = self.say
        return source

    def say(self, message: str) -> None:
        """A progress line, shown live even while pytest captures output."""
        with self.progress() as log:
            log(message)

    def source_for(self, variant: Any) -> ResponseSource:
        """The source for one variant: another temperature shares the model's
        backend; a checkpoint is fused and quantized (cached) into its own model."""
        if not variant.name:
            return self.source()
        if variant.name in self._variant_errors:
            raise self._variant_errors[variant.name]
        if variant.name not in self._variant_sources:
            from pytest_punie.sources.variantsource import variant_source

            with self.progress() as log:
                try:
                    made = variant_source(self.opts, variant, self.source, self.model, log, self.suites)
                except PunieError as err:
                    self._variant_errors[variant.name] = err
                    raise
                self._variant_sources[variant.name] = self._live(made)
        return self._variant_sources[variant.name]

    def source_identity(self, variant_name: str) -> JsonObject | None:
        """What answered a variant, with the host and worker it ran on."""
        src = self._variant_sources.get(variant_name) if variant_name else self._source
        if src is None:
            return None
        from pytest_punie.provenance import host_name

        worker = getattr(self.config, "workerinput", {}).get("workerid", "main")
        # the machine: under xdist's execnet a variant may be built and generated on another host
        return {**src.identity(), "variant": variant_name, "worker": worker, "host": host_name()}

    def model(self) -> Any:
        """The model under test, resolved and built once per process."""
        if self._model_error is not None:
            raise self._model_error
        if self._model is None:
            from pytest_punie.sources.factory import resolve_model

            name = self.opts.model
            if not name:
                raise PunieError(None, None, "no model: pass --punie-model NAME|PATH")
            try:
                with self.progress() as log:
                    self._model = resolve_model(self.opts, name, log, suites=self.suites)
            except PunieError as err:
                self._model_error = err
                raise
        return self._model

    def generator(self) -> Callable[..., JsonObject]:
        """``generate(query or messages, **sampling)`` with the run's model and
        backend: the ``punie_generate`` fixture."""
        from pytest_punie.backends import ChatRequest
        from pytest_punie.suite.suitetypes import DEFAULT_STOP, Sampling

        backend = self.source().backend
        if backend is None:
            raise PunieError(
                None, None, "punie_generate needs a model (--punie-model or --punie-server-url), not replay"
            )

        def generate(prompt: str | list[dict[str, str]], **sampling: Any) -> JsonObject:
            if isinstance(prompt, str):
                system = self.suites[0].system_prompt if self.suites else None
                messages = chat_messages(system, prompt)
            else:
                messages = tuple(prompt)
            params = {"stop": DEFAULT_STOP, **sampling}
            params["stop"] = tuple(params["stop"])
            record = backend.complete([ChatRequest("fixture", messages, Sampling(**params))])[0]
            if record.error:
                raise PunieError(None, None, f"generation failed: {record.error}")
            return dict(record.response or {})

        return generate

    @contextlib.contextmanager
    def progress(self) -> Iterator[Callable[[str], None]]:
        """Build progress shown live, even while pytest captures output."""
        config = self.config
        capman = config.pluginmanager.getplugin("capturemanager")

        def log(msg: str) -> None:
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is None:
                sys.stderr.write(f"[punie] {msg}\n")
                return
            reporter.write_line(f"[punie] {msg}")
            reporter.flush()

        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            yield log

    def check_plan(self, asked: list[tuple[Any, Any, str]]) -> None:
        """--punie-budget: the plan said before the first step; one that cannot fit is refused (exit 4),
        naming what does not fit, before anything is built or generated."""
        from pytest_punie.budget import duration
        from pytest_punie.sources.plan import cannot_fit, make_plan, plan_lines

        budget = self.opts.budget
        try:
            plan = make_plan(self.opts, asked)
        except PunieError as err:  # the model cannot be planned: its items say why
            self.say(f"plan: {err.describe()}")
            return
        for line in plan_lines(plan, budget):
            self.say(line)
        for w in plan:
            if not w.cached:
                budget.plan(w.kind, w.units, w.estimate_s)
        over = cannot_fit(plan, budget)
        if over:
            known = sum(w.estimate_s or 0.0 for w in plan if not w.cached)
            names = "; ".join(
                f"{'[' + w.variant + '] ' if w.variant else ''}{w.what} (~{duration(w.estimate_s or 0)})" for w in over
            )
            pytest.exit(
                f"pytest-punie: the plan needs ~{duration(known)} and --punie-budget={budget.text} gives "
                f"{duration(budget.limit_s)}: not started. What does not fit: {names}. Give a larger budget, "
                "select less (-k, --punie-suite, --punie-variant), or run without --punie-budget",
                returncode=int(pytest.ExitCode.USAGE_ERROR),
            )

    def start(self, variants: Collection[Any]) -> None:
        """Resolve (and build) the model before the first prompt item, not inside it. A sweep of
        checkpoints only needs the model's recipe, never a backend (or server) for the model itself."""
        if variants and not self.config.option.collectonly:
            self._sigterm_as_interrupt()
            with contextlib.suppress(PunieError):  # reported by every eval item, naming the problem
                if all(getattr(v, "seed", None) is not None for v in variants):
                    pass  # each seed trains its own model, in its own unit of work
                elif all(getattr(v, "checkpoint", None) is not None for v in variants):
                    self.model()
                else:
                    self.source()

    def _sigterm_as_interrupt(self) -> None:
        """SIGTERM (what CI sends on cancel) ends an eval like Ctrl-C: INCOMPLETE, the completed
        responses kept, children stopped; never exit 143 and not a word. Only while an eval runs,
        only where nobody else handles SIGTERM, restored at the end."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return

        def interrupt(signum: int, frame: Any) -> None:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
            raise KeyboardInterrupt("SIGTERM")

        signal.signal(signal.SIGTERM, interrupt)
        self._restore_sigterm = True

    def configure_node(self, node: Any, variants: tuple[str, ...]) -> None:
        """xdist controller: give workers a place to share one model server, when the run's
        prompts are spread one by one; a run of named variants sends each variant to one
        worker, which generates it in its own process (as a run without xdist does)."""
        from pytest_punie.sources.factory import new_run_dir

        if self.opts.uses_model and not any(variants):
            if self.run_dir is None:
                self.run_dir = new_run_dir()
            node.workerinput["punie_run_dir"] = str(self.run_dir)

    def close(self) -> None:
        """Stops what the run started and restores the SIGTERM handler it replaced."""
        if self._restore_sigterm:
            import signal

            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            self._restore_sigterm = False
        sources = [self._source, *self._variant_sources.values()]
        closed: list[Any] = []
        for src in sources:
            backend = src.backend if src is not None and src.backend is not None else src
            if src is not None and backend not in closed:
                closed.append(backend)
                src.close()
        if self.run_dir is not None:
            import shutil

            from pytest_punie.sources.serversource import stop_shared_server

            stop_shared_server(self.run_dir)
            shutil.rmtree(self.run_dir, ignore_errors=True)
