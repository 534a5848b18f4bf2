"""One pytest run of pytest-punie: its state and lifecycle.

The plugin registers a ``PunieSession`` per process and delegates to it.
Items ask it for the response source, the model under test and the suites
collected; on the controller it gathers every worker's results, writes the
documents, and ``finish()`` returns the exit status (the verdict).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.report.write import OutputPaths
from pytest_punie.results import PromptResult
from pytest_punie.resultsformat import FindingRow, JsonObject, RunDocument
from pytest_punie.sources import ResponseSource
from pytest_punie.sources.options import source_options
from pytest_punie.suite.model import Suite, chat_messages

# the exit status of an INVALID run: the measurement is broken (not a FAIL of the model)
EXIT_INVALID = 6
# the exit status of an INCOMPLETE run: prompts left without a whole response by the harness or
# the transport (a time limit, a dropped connection); rerun to finish (an interruption keeps pytest's 2)
EXIT_INCOMPLETE = 7

_KEY = pytest.StashKey["PunieSession"]()


def punie_session(config: pytest.Config) -> PunieSession:
    """The run's session (registered by the plugin in ``pytest_configure``)."""
    return config.stash[_KEY]


def find_session(config: pytest.Config) -> PunieSession | None:
    """The run's session, if the plugin made one."""
    return config.stash.get(_KEY, None)


class PunieSession:
    """Per-process state of one pytest run: the response source and, on the
    controller, the results gathered from every worker."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.source_options = source_options(config)  # read once; the sources take it, never the config
        self.scorer: str | None = config.getoption("punie_scorer")
        self.strict_mode: bool = bool(config.getoption("punie_strict"))
        self.results: list[PromptResult] = []
        self.held_back: dict[str, int] = {}  # a bare run's eval / pipeline items left out, by marker
        self.sources: list[JsonObject] = []  # identities of what answered, as the workers saw them
        self.findings: list[FindingRow] = []  # data lint findings from every worker
        self.checks_run = 0  # items other than prompts that ran (data lint, pipeline, tokenizer checks)
        self.checks_failed = 0
        self.run_dir: Path | None = None  # xdist controller: where workers share one server
        self.other_failures: list[str] = []
        self.suites_seen: list[Suite] = []  # suites collected in this process
        self.pipeline_collected = False
        self.datasets_collected: set[Path] = set()  # a dataset several suites name is collected once
        self.document: RunDocument | None = None
        self.outputs = OutputPaths.from_config(config)
        self.written: list[str] = []  # what finish() wrote, as lines for the summary
        self._source: ResponseSource | None = None
        self._source_error: PunieError | None = None
        self._model: Any = None
        self._model_error: PunieError | None = None
        self._variant_sources: dict[str, ResponseSource] = {}
        self._variant_errors: dict[str, PunieError] = {}  # a variant that failed to build fails once, not per item
        self._restore_sigterm = False
        self.interrupted_early: list[str] = []  # said when an interruption came before any prompt was judged
        config.stash[_KEY] = self

    @property
    def is_worker(self) -> bool:
        """Whether this process is an xdist worker (the controller writes the reports)."""
        return hasattr(self.config, "workerinput")

    # -- what items ask for ------------------------------------------------------------
    def source(self) -> ResponseSource:
        """Where responses come from (replay, external server, or the model), made once:
        a failure is remembered, so a failing build fails once, not once per prompt."""
        if self._source_error is not None:
            raise self._source_error
        if self._source is None:
            from pytest_punie.sources.factory import make_source

            try:
                with self.progress() as log:
                    self._source = self._live(make_source(self.source_options, log, self.model, self.suites_seen))
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
            from pytest_punie.sources.factory import variant_source

            with self.progress() as log:
                try:
                    made = variant_source(self.source_options, variant, self.source, self.model, log, self.suites_seen)
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
        import platform

        worker = getattr(self.config, "workerinput", {}).get("workerid", "main")
        # the machine: under xdist's execnet a variant may be built and generated on another host
        return {**src.identity(), "variant": variant_name, "worker": worker, "host": platform.node()}

    def model(self) -> Any:
        """The model under test, resolved and built once per process."""
        if self._model_error is not None:
            raise self._model_error
        if self._model is None:
            from pytest_punie.sources.factory import resolve_model

            name = self.source_options.model
            if not name:
                raise PunieError(None, None, "no model: pass --punie-model NAME|PATH")
            try:
                with self.progress() as log:
                    self._model = resolve_model(self.source_options, name, log, suites=self.suites_seen)
            except PunieError as err:
                self._model_error = err
                raise
        return self._model

    def training_example(self, with_response: bool = True) -> list[JsonObject] | None:
        """The first tool-calling training example of the first suite dataset;
        with ``with_response``, preferably one that carries a tool response."""
        from pytest_punie.datalint.examples import first_tool_example

        return first_tool_example(
            [d for s in self.suites_seen for d in s.datasets().values()], with_response=with_response
        )

    def smoke_prompt(self) -> tuple[str, str]:
        """(system prompt, query): the first tool-calling training example of the
        first suite dataset, else the first suite prompt."""
        if not self.suites_seen:
            raise PunieError(None, None, "no suite collected: the smoke check takes its prompt from a suite")
        suite = self.suites_seen[0]
        example = self.training_example(with_response=False)
        return suite.system_prompt, str(example[1]["content"]) if example else suite.prompts[0].query

    def smoke_messages(self) -> tuple[dict[str, str], ...]:
        """The smoke generation's messages (a suite's system prompt and a first prompt)."""
        return chat_messages(*self.smoke_prompt())

    def generator(self) -> Callable[..., JsonObject]:
        """``generate(query or messages, **sampling)`` with the run's model and
        backend: the ``punie_generate`` fixture."""
        from pytest_punie.backends import ChatRequest
        from pytest_punie.suite.model import DEFAULT_STOP, Sampling

        backend = self.source().backend
        if backend is None:
            raise PunieError(
                None, None, "punie_generate needs a model (--punie-model or --punie-server-url), not replay"
            )

        def generate(prompt: str | list[dict[str, str]], **sampling: Any) -> JsonObject:
            if isinstance(prompt, str):
                system = self.suites_seen[0].system_prompt if self.suites_seen else None
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

    def usage_errors(self, value_options: tuple[str, ...]) -> list[str]:
        """What is wrong with how the run was asked for, before anything runs (``value_options``: the
        options that take a value, as options.py declares them)."""
        from pytest_punie.models.resolve import resolve_spec
        from pytest_punie.models.validate import validate_model_dir
        from pytest_punie.usage import option_errors, space_separated_error

        config = self.config
        errors = option_errors(config)
        spaced = space_separated_error(config.invocation_params.args, value_options, config.rootpath, config.inipath)
        if spaced:
            errors.insert(0, spaced)
        from pytest_punie.suites import packaged_suites

        packaged = packaged_suites()
        for value in config.getoption("punie_suite"):
            if value not in packaged and not Path(value).is_file():
                errors.append(
                    f"--punie-suite {value}: no packaged suite of that name (packaged: {', '.join(packaged)}) "
                    "and no such file"
                )
        errors += marker_typos(config)
        from pytest_punie.sources.variants import registered_seeds

        opts = self.source_options
        try:
            registered_seeds(opts)
        except PunieError as err:
            errors.append(err.describe())
        if opts.uses_model and not spaced:
            name = opts.model
            try:
                spec = resolve_spec(str(name), config.rootpath)
                if "path" in spec.entry:
                    validate_model_dir(Path(spec.entry["path"]))
            except PunieError as err:
                errors.append(f"--punie-model {name}: {err.describe()}")
        return errors

    def collection_report(self) -> list[str]:
        """Said when a run meant to evaluate found nothing to evaluate, or a bare run held items back."""
        config = self.config
        if self.held_back and not self.is_worker:  # a bare run: say what it left out and how to ask
            what = " and ".join(f"{n} {mark}" for mark, n in self.held_back.items())
            asks = ", ".join(f"-m {mark}" for mark in self.held_back)
            return [f"pytest-punie: {what} items not run (they need a model): ask with {asks} or --punie-model=NAME"]
        meant = config.getoption("punie_model") or config.getoption("punie_responses")
        meant = meant or config.getoption("punie_server_url") or "eval" in (config.option.markexpr or "")
        if self.suites_seen or not meant or self.is_worker:
            return []
        globs = ", ".join(config.getini("punie_suites"))
        return [
            f"pytest-punie: no eval suite was collected (punie_suites: {globs}); "
            "pass --punie-suite phase33 for the packaged Phase 33 suite, or a suite file"
        ]

    # -- the lifecycle -------------------------------------------------------------------
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

    def configure_node(self, node: Any) -> None:
        """xdist controller: give workers a place to share one model server, when the run's
        prompts are spread one by one; a run of named variants sends each variant to one
        worker, which generates it in its own process (as a run without xdist does)."""
        from pytest_punie.sources.factory import new_run_dir

        if self.source_options.uses_model and not any(self.expected_variants()):
            if self.run_dir is None:
                self.run_dir = new_run_dir()
            node.workerinput["punie_run_dir"] = str(self.run_dir)

    def attach(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
        """Put an item's result on its report: it travels to the xdist controller."""
        if call.when != "call":
            return
        findings = getattr(item, "punie_findings", None)
        if findings:
            report.punie_findings = findings  # type: ignore[attr-defined]
        result: PromptResult | None = getattr(item, "punie_result", None)
        if result is not None:
            report.punie_result = result.to_wire()  # type: ignore[attr-defined]
            identity = self.source_identity(result.variant)
            if identity is not None:
                report.punie_source = identity  # type: ignore[attr-defined]

    # -- hooks without a config argument: this object is registered as a plugin ----------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """https://docs.pytest.org/en/stable/reference/reference.html#pytest.hookspec.pytest_runtest_logreport"""
        self.collect_report(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist's hook, on the controller, for each worker it starts."""
        self.configure_node(node)

    def collect_report(self, report: pytest.TestReport) -> None:
        """Controller (and single process): gather what the items reported."""
        self.findings.extend(getattr(report, "punie_findings", None) or [])
        source = getattr(report, "punie_source", None)
        if source is not None and source not in self.sources:
            self.sources.append(source)
        wire = getattr(report, "punie_result", None)
        if wire is not None:
            self.results.append(PromptResult.from_wire(wire))
        elif report.failed:
            self.other_failures.append(report.nodeid)
        if wire is None and report.when == "call" and not report.skipped:
            self.checks_run += 1
            self.checks_failed += int(report.failed)

    def finish(self, exitstatus: int) -> int:
        """Judge, gate and write the documents; return the run's exit status."""
        if self.is_worker:
            return exitstatus
        asked = bool(self.outputs.json or self.outputs.md)  # a document asked for is written, clean or not
        if not (self.results or self.findings) and not (asked and self.checks_run):
            if exitstatus == pytest.ExitCode.INTERRUPTED and self._source is not None:
                self.interrupted_early = interrupted_lines(self._source)
            return exitstatus
        from pytest_punie.report.run import RunFacts, build_run_document
        from pytest_punie.report.write import write_documents

        facts = RunFacts(
            root=self.config.rootpath,
            scorer=self.scorer,
            strict_mode=self.strict_mode,
            repeat=self.source_options.repeat,
            invocation=list(self.config.invocation_params.args),
            workers=getattr(self.config.option, "numprocesses", None) or 0,
            interrupted=exitstatus == pytest.ExitCode.INTERRUPTED,
            variants=self.expected_variants(),
        )
        try:
            doc = build_run_document(self.results, self.sources, self.findings, facts)
            if not self.results:  # a data lint (or pipeline) run: what ran, so a clean run says so
                doc["checks"] = {"ran": self.checks_run, "failed": self.checks_failed, "findings": len(self.findings)}
        except PunieError as err:
            self.config.get_terminal_writer().line(f"pytest-punie: {err.describe()}", red=True)
            return int(pytest.ExitCode.TESTS_FAILED)
        if self.results:
            from pytest_punie.gate.run import GateOptions, apply_gate

            apply_gate(doc, GateOptions.from_config(self.config))
        self.document = doc
        self.written = write_documents(doc, self.results, self.outputs)
        return self.exit_status(doc, exitstatus)

    def expected_variants(self) -> tuple[str, ...]:
        """The variants this run asks for, for the xdist scheduler."""
        from pytest_punie.sources.variants import variants_of

        try:
            return tuple(v.name for v in variants_of(self.source_options))
        except PunieError:
            return ("",)

    def exit_status(self, doc: RunDocument, exitstatus: int) -> int:
        """The verdict (and, when comparing, the gate) is the exit status; other
        failing tests still fail the run; pytest's own statuses stand."""
        if not self.results or exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return exitstatus
        if doc["verdict"] == "INVALID":  # a broken measurement is neither PASS nor FAIL
            return EXIT_INVALID
        if doc["verdict"] == "INCOMPLETE":  # an unfinished measurement neither
            return EXIT_INCOMPLETE
        ok = doc["verdict"] == "PASS" and not self.other_failures
        if "gate" in doc:
            ok = ok and doc["gate"]["verdict"] == "PASS"
        return int(pytest.ExitCode.OK if ok else pytest.ExitCode.TESTS_FAILED)

    def summary_sections(self) -> list[tuple[str | None, list[str]]]:
        """(section title or None, lines) for the terminal summary."""
        doc = self.document
        if doc is None and self.interrupted_early:
            return [("pytest-punie eval", self.interrupted_early)]
        if doc is None or not self.results:
            return []
        from pytest_punie.gate.report import render_gate_terminal
        from pytest_punie.report import render_terminal
        from pytest_punie.report.matrix import render_matrix_terminal

        out: list[tuple[str | None, list[str]]] = [("pytest-punie eval", render_terminal(doc))]
        if "matrix" in doc:
            out.append(("pytest-punie variants", render_matrix_terminal(doc)))
        if any(s.get("format_lock") for s in doc.get("suites", [])):
            from pytest_punie.report.formatlock import render_lock_terminal

            out.append(("pytest-punie format lock", render_lock_terminal(doc)))
        if doc.get("seeds"):
            from pytest_punie.report.seeds import render_seeds_terminal

            out.append(("pytest-punie training seeds", render_seeds_terminal(doc.get("seeds") or {})))
        if "comparison" in doc:
            out.append(("pytest-punie regression gate", render_gate_terminal(doc)))
        elif doc.get("gate", {}).get("verdict") == "REFUSED":
            out.append(("pytest-punie regression gate", ["GATE: REFUSED", doc["gate"]["reasons"][0]]))
        tail = [f"saved baseline {doc['saved_as']}"] if doc.get("saved_as") else []
        compare_md = self.config.getoption("punie_compare_md")
        if compare_md and doc.get("comparison"):
            tail.append(f"wrote {compare_md}")
        tail += self.written
        if tail:
            out.append((None, tail))
        return out

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

            from pytest_punie.sources.factory import stop_shared_server

            stop_shared_server(self.run_dir)
            shutil.rmtree(self.run_dir, ignore_errors=True)


def interrupted_lines(source: ResponseSource | None) -> list[str]:
    """What an interruption during generation leaves: no prompt judged, the completed responses kept."""
    kept = source.completed if source is not None else 0
    cache = source.response_cache if source is not None else None
    where = f" in {cache.folder}" if cache is not None else ""
    resume = "rerun to resume from them" if cache is not None else "they are not kept (--punie-no-cache)"
    return [
        f"{kept} responses were completed before the interruption{where}: {resume}",
        "VERDICT: INCOMPLETE (the run was interrupted (Ctrl-C or SIGTERM) before any prompt was judged: "
        "nothing is judged, saved or gated)",
    ]


def marker_typos(config: pytest.Config) -> list[str]:
    """``-m evl``: a name close to one of ours that no plugin registered would
    deselect everything; say so instead of 'no tests ran'."""
    import difflib
    import re

    expr = config.option.markexpr or ""
    registered = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    ours = ["eval", "data", "tokenizer", "pipeline"]
    out = []
    for name in dict.fromkeys(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr)):
        if name in ("and", "or", "not") or name in registered:
            continue
        close = difflib.get_close_matches(name, ours, n=1, cutoff=0.6)
        if close:
            out.append(f"-m {expr!r}: no marker {name!r} is registered; did you mean {close[0]!r}?")
    return out
