"""The pytest plugin: a thin layer over suites, scoring, sources and reports.

Inert unless used: importing it imports no mlx, starts no server and reads
no model. Options are ``--punie-*``; markers are registered here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_punie.collect import PromptItem, SuiteErrorItem, SuiteFile, is_suite_file
from pytest_punie.errors import PunieError
from pytest_punie.results import PromptResult

MARKERS = {
    "eval": "an eval prompt of a pytest-punie suite (scored against a model's response)",
    "data": "a pytest-punie training-data lint check",
    "tokenizer": "a pytest-punie tokenizer preflight check",
    "pipeline": "a pytest-punie training / fuse / quantize artifact check",
    "slow": "slow end-to-end test (builds or runs a real model); still runs in CI",
}

_RUN_KEY = pytest.StashKey["PunieRun"]()
# the exit status of an INVALID run: the measurement is broken (not a FAIL of the model)
EXIT_INVALID = 6


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("punie", "pytest-punie: evaluate and validate fine-tuned MLX models")
    group.addoption(
        "--punie-model",
        metavar="NAME|PATH",
        help="model to evaluate: a name from [tool.punie.models] or a model directory",
    )
    group.addoption(
        "--punie-responses", metavar="FILE", help="score recorded responses (JSONL) instead of running a model"
    )
    group.addoption("--punie-server-url", metavar="URL", help="an external OpenAI-compatible server to evaluate")
    group.addoption("--punie-server-model", metavar="NAME", help="the model name requests to --punie-server-url carry")
    group.addoption(
        "--punie-backend",
        choices=("auto", "inprocess", "server"),
        default="auto",
        help="how a local model generates: in-process batched mlx-lm, or a managed mlx_lm server "
        "(auto: in-process, one shared server under xdist)",
    )
    group.addoption("--punie-temperature", type=float, metavar="T", help="override the suite's sampling temperature")
    group.addoption("--punie-max-tokens", type=int, metavar="N", help="override every prompt's max_tokens")
    group.addoption("--punie-seed", type=int, metavar="N", help="sampling seed (temperature > 0)")
    group.addoption("--punie-json", metavar="PATH", help="write the results document (JSON) here")
    group.addoption("--punie-md", metavar="PATH", help="write a Markdown results document here")
    group.addoption("--punie-record", metavar="PATH", help="write the responses of this run as replayable JSONL")
    group.addoption(
        "--punie-scorer", choices=("legacy", "strict"), help="judge with this scorer instead of the suite's primary one"
    )
    group.addoption(
        "--punie-strict",
        action="store_true",
        default=False,
        help="any missed prompt fails the run, not only the thresholds",
    )
    parser.addini(
        "punie_suites",
        type="linelist",
        default=["evalsuites/*.yaml", "evalsuites/*.yml"],
        help="glob patterns (relative to rootdir) of pytest-punie suite files",
    )
    parser.addini("punie_model", default="", help="default for --punie-model")
    group.addoption("--punie-temperatures", metavar="T,T", help="run the suite at each of these temperatures")
    group.addoption(
        "--punie-repeat",
        type=int,
        default=1,
        metavar="N",
        help="sample each prompt N times (seeded; pass rate, pass^k and intervals per prompt and category)",
    )
    group.addoption(
        "--punie-checkpoints",
        metavar="ADAPTER_DIR",
        help="evaluate every saved checkpoint of this adapter (fused and quantized, cached)",
    )
    group.addoption(
        "--punie-base",
        metavar="PATH",
        help="the base model the checkpoints were trained on (default: the --punie-model recipe's base)",
    )
    group.addoption("--punie-save", metavar="NAME", help="save this run's results as baseline NAME")
    group.addoption("--punie-compare", metavar="NAME|PATH", help="gate this run against a saved baseline")
    group.addoption("--punie-compare-md", metavar="PATH", help="write the comparison as Markdown here")
    group.addoption("--punie-chart", metavar="PATH", help="write a PNG chart of the categories (needs matplotlib)")
    group.addoption(
        "--punie-allow-suite-change",
        action="store_true",
        default=False,
        help="compare even when the suite, scorer or sampling differ from the baseline's",
    )
    parser.addini("punie_baseline_dir", default=".punie/baselines", help="where --punie-save stores baselines")
    group.addoption(
        "--punie-data",
        action="append",
        default=[],
        metavar="DIR",
        help="lint this training dataset (train/valid/test.jsonl); repeatable",
    )
    group.addoption(
        "--punie-train-log",
        action="append",
        default=[],
        metavar="FILE",
        help="check an mlx-lm training log (either format); repeatable",
    )
    group.addoption(
        "--punie-adapter",
        action="append",
        default=[],
        metavar="DIR",
        help="check an mlx-lm adapter directory; repeatable",
    )
    group.addoption(
        "--punie-tokenizer",
        metavar="DIR",
        help="a tokenizer directory: preflight checks (-m tokenizer) and the data lint's length check",
    )
    group.addoption(
        "--punie-reference-tokenizer",
        metavar="DIR",
        help="the tokenizer the candidate must match (chat template, special-token positions)",
    )
    group.addoption(
        "--punie-tokenizer-family",
        default="qwen3",
        metavar="NAME",
        help="expected single-id tokens: evalsuites/tokenizers/NAME.yaml (default qwen3)",
    )
    group.addoption("--punie-tokenizer-spec", metavar="FILE", help="expected single-id tokens from this YAML instead")
    parser.addini(
        "punie_lint_tool_share", default="0.10 0.80", help="data lint: allowed share of tool-calling examples"
    )
    parser.addini("punie_lint_min_tool_examples", default="5", help="data lint: fewest examples per tool")
    parser.addini("punie_lint_similarity", default="0.85", help="data lint: eval near-copy similarity threshold")
    parser.addini("punie_lint_max_seq_length", default="2048", help="data lint: training max sequence length")


class PunieRun:
    """Per-process state of one pytest run: the response source and, on the
    controller, the results gathered from every worker."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.scorer: str | None = config.getoption("punie_scorer")
        self.strict_mode: bool = bool(config.getoption("punie_strict"))
        self.results: list[PromptResult] = []
        self.sources: list[dict[str, Any]] = []  # identities of what answered, as the workers saw them
        self.findings: list[dict[str, Any]] = []  # data lint findings from every worker
        self.run_dir: Path | None = None  # xdist controller: where workers share one server
        self.other_failures: list[str] = []
        self._source: Any = None
        self._model: Any = None
        self._variant_sources: dict[str, Any] = {}
        self.suites_seen: list[Any] = []  # suites collected in this process
        self.pipeline_collected = False
        self.document: dict[str, Any] | None = None

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def source(self) -> Any:
        if self._source is None:
            from pytest_punie.sources.factory import make_source

            with self._visible() as log:
                self._source = make_source(self.config, log, self.model, self.suites_seen)
        return self._source

    def source_for(self, variant: Any) -> Any:
        """The source for one variant: another temperature shares the model's
        backend; a checkpoint is fused and quantized (cached) into its own model."""
        if not variant.name:
            return self.source()
        if variant.name not in self._variant_sources:
            self._variant_sources[variant.name] = self._make_variant_source(variant)
        return self._variant_sources[variant.name]

    def _make_variant_source(self, variant: Any) -> Any:
        from pytest_punie.sources.model import ModelSource

        if variant.checkpoint is not None:
            from pytest_punie.backends.inprocess import InProcessBackend
            from pytest_punie.sources.factory import checkpoint_model

            with self._visible() as log:
                resolved = checkpoint_model(self.config, self.model, variant.checkpoint, log)
            backend: Any = InProcessBackend(resolved.path)
            identity = {**resolved.identity(), "checkpoint": str(variant.checkpoint), "iteration": variant.iteration}
        else:
            base = self.source()
            if not isinstance(base, ModelSource):
                raise PunieError(
                    None, None, "--punie-temperatures needs a model (recorded responses have one temperature)"
                )
            backend, identity = base.backend, base._identity
        overrides = dict(getattr(self.source(), "overrides", {}) or {}) if not variant.checkpoint else {}
        if variant.temperature is not None:
            overrides["temperature"] = variant.temperature
            if variant.temperature > 0 and overrides.get("seed") is None:
                overrides["seed"] = 0  # sampled, but reproducibly
        return ModelSource(backend, {**identity, "variant": variant.name}, overrides)

    def model(self) -> Any:
        """The model under test, resolved and built once per process."""
        if self._model is None:
            from pytest_punie.sources.factory import model_name, resolve_model

            name = model_name(self.config)
            if not name:
                raise PunieError(None, None, "no model: pass --punie-model NAME|PATH")
            with self._visible() as log:
                self._model = resolve_model(self.config, name, log)
        return self._model

    def training_example(self, with_response: bool = True) -> list[dict[str, str]] | None:
        """The first tool-calling training example of the first suite dataset;
        with ``with_response``, preferably one that carries a tool response."""
        import json

        first = None
        for suite in self.suites_seen:
            for directory in suite.datasets().values():
                train = directory / "train.jsonl"
                if train.is_file():
                    with open(train, encoding="utf-8") as fh:
                        for line in fh:
                            msgs = json.loads(line).get("messages") or []
                            if len(msgs) >= 3 and "<tool_call>" in str(msgs[2].get("content")):
                                if not with_response or "<tool_response>" in line:
                                    return list(msgs)
                                first = first or list(msgs)
        return first

    def smoke_prompt(self) -> tuple[str, str]:
        """(system prompt, query): the first tool-calling training example of the
        first suite dataset, else the first suite prompt."""
        example = self.training_example(with_response=False)
        for suite in self.suites_seen:
            if example:
                return suite.system_prompt, str(example[1]["content"])
            return suite.system_prompt, suite.prompts[0].query
        raise PunieError(None, None, "no suite collected: the smoke check takes its prompt from a suite")

    def _visible(self) -> Any:
        """Build progress shown live, even while pytest captures output."""
        import contextlib

        config = self.config

        @contextlib.contextmanager
        def ctx() -> Any:
            capman = config.pluginmanager.getplugin("capturemanager")

            def log(msg: str) -> None:
                reporter = config.pluginmanager.get_plugin("terminalreporter")
                if reporter is None:
                    sys.stderr.write(f"[punie] {msg}\n")
                    return
                reporter.write_line(f"[punie] {msg}")
                reporter.flush()

            if capman is not None:
                with capman.global_and_fixture_disabled():
                    yield log
            else:
                yield log

        return ctx()

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        for src in self._variant_sources.values():
            if src is not self._source and getattr(src, "backend", None) is not getattr(self._source, "backend", None):
                src.close()
        if self.run_dir is not None:
            import shutil

            from pytest_punie.sources.factory import stop_shared_server

            stop_shared_server(self.run_dir)
            shutil.rmtree(self.run_dir, ignore_errors=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: give workers a place to share one model server."""
        from pytest_punie.sources.factory import new_run_dir, uses_model

        if uses_model(self.config):
            if self.run_dir is None:
                self.run_dir = new_run_dir()
            node.workerinput["punie_run_dir"] = str(self.run_dir)

    # -- hooks (this object is registered as a plugin) -------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Resolve (and build) the model before the first item, not inside it."""
        if any(isinstance(i, PromptItem) for i in session.items) and not session.config.option.collectonly:
            try:
                self.source()
            except PunieError:
                pass  # reported by every eval item, naming the problem

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        findings = getattr(report, "punie_findings", None)
        if findings:
            self.findings.extend(findings)
        wire = getattr(report, "punie_result", None)
        source = getattr(report, "punie_source", None)
        if source is not None and source not in self.sources:
            self.sources.append(source)
        if wire is not None:
            self.results.append(PromptResult.from_wire(wire))
        elif report.failed:
            self.other_failures.append(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker or not (self.results or self.findings):
            return
        from pytest_punie.aggregate import build_run_document

        try:
            doc = build_run_document(self.config, self)
        except PunieError as err:
            self.config.get_terminal_writer().line(f"pytest-punie: {err.describe()}", red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        if self.results:
            try:
                self._gate(doc)
            except PunieError as err:
                doc["gate"] = {"verdict": "REFUSED", "reasons": [err.message]}
        self.document = doc
        json_path = self.config.getoption("punie_json")
        if json_path:
            _write(json_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        chart = self.config.getoption("punie_chart")
        if chart and self.results:
            from pytest_punie.report.chart import render_chart

            try:
                render_chart(doc, Path(chart))
            except ImportError:
                self.config.get_terminal_writer().line("pytest-punie: --punie-chart needs matplotlib", red=True)
        record_path = self.config.getoption("punie_record")
        if record_path:
            from pytest_punie.sources.record import write_record

            write_record(Path(record_path), self.results, doc["provenance"])
        md_path = self.config.getoption("punie_md")
        if md_path:
            from pytest_punie.report import render_markdown

            _write(md_path, render_markdown(doc))
        if self.results and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            if doc["verdict"] == "INVALID":  # a broken measurement is neither PASS nor FAIL
                session.exitstatus = EXIT_INVALID
                return
            # the verdict is the thresholds (and, when comparing, the gate); other failing tests still fail the run
            ok = doc["verdict"] == "PASS" and not self.other_failures
            if "gate" in doc:
                ok = ok and doc["gate"]["verdict"] == "PASS"
            session.exitstatus = pytest.ExitCode.OK if ok else pytest.ExitCode.TESTS_FAILED

    def _gate(self, doc: dict[str, Any]) -> None:
        """--punie-save / --punie-compare: baselines and the regression gate."""
        from pytest_punie.gate import baselines
        from pytest_punie.gate.compare import SuiteChanged, compare

        root = self.config.rootpath
        directory = root / self.config.getini("punie_baseline_dir")
        target = self.config.getoption("punie_compare")
        if doc["verdict"] == "INVALID" and (target or self.config.getoption("punie_save")):
            raise PunieError(
                None, None, "an INVALID run is neither saved as a baseline nor gated: " + _first_warning(doc)
            )
        if target:
            baseline, where = baselines.load(directory, target)
            try:
                gate = compare(
                    doc, baseline, baselines.rules_of(doc), self.config.getoption("punie_allow_suite_change")
                )
            except SuiteChanged as exc:
                raise PunieError(where, None, str(exc)) from None
            doc["gate"] = gate.to_dict()
            doc["comparison"] = {**gate.comparison, "baseline_name": target, "baseline_path": str(where)}
            md = self.config.getoption("punie_compare_md")
            from pytest_punie.gate.report import render_gate_markdown

            text = render_gate_markdown(doc)
            if md:
                _write(md, text)
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                with open(summary, "a", encoding="utf-8") as fh:
                    fh.write(text + "\n")
        name = self.config.getoption("punie_save")
        if name:
            doc["saved_as"] = str(baselines.save(directory, name, doc))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.document is None or not self.results:
            return
        from pytest_punie.report import render_terminal

        terminalreporter.section("pytest-punie eval", sep="=")
        for line in render_terminal(self.document):
            terminalreporter.write_line(line)
        if "matrix" in self.document:
            from pytest_punie.report.matrix import render_matrix_terminal

            terminalreporter.section("pytest-punie variants", sep="=")
            for line in render_matrix_terminal(self.document):
                terminalreporter.write_line(line)
        if "comparison" in self.document:
            from pytest_punie.gate.report import render_gate_terminal

            terminalreporter.section("pytest-punie regression gate", sep="=")
            for line in render_gate_terminal(self.document):
                terminalreporter.write_line(line)
        elif self.document.get("gate", {}).get("verdict") == "REFUSED":
            terminalreporter.section("pytest-punie regression gate", sep="=")
            terminalreporter.write_line("GATE: REFUSED")
            terminalreporter.write_line(self.document["gate"]["reasons"][0])
        if self.document.get("saved_as"):
            terminalreporter.write_line(f"saved baseline {self.document['saved_as']}")
        for name in ("punie_json", "punie_md"):
            path = self.config.getoption(name)
            if path:
                terminalreporter.write_line(f"wrote {path}")


def _first_warning(doc: dict[str, Any]) -> str:
    return str(doc["warnings"][0]["message"]) if doc.get("warnings") else "see the warnings"


def _write(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def punie_run(config: pytest.Config) -> PunieRun:
    return config.stash[_RUN_KEY]


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    run = PunieRun(config)
    config.stash[_RUN_KEY] = run
    config.pluginmanager.register(run, "punie-run")
    if config.getoption("punie_responses"):
        # a bad responses file is a usage error naming file and line, before anything runs
        try:
            run.source()
        except PunieError as err:
            raise pytest.UsageError(err.describe()) from None
    if config.getoption("punie_server_url") and not config.getoption("punie_server_model"):
        raise pytest.UsageError(
            "--punie-server-url needs --punie-server-model NAME: the model the server must answer for"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(_RUN_KEY, None)
    if run is not None:
        run.close()
        config.pluginmanager.unregister(run)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """--punie-data DIR: lint datasets given on the command line (before -m/-k select)."""
    from pytest_punie.pipelinecollect import PipelineItem

    for log_file in config.getoption("punie_train_log"):
        items.append(
            PipelineItem.from_parent(
                session,
                name=f"pipeline[{log_file}]::training-log",
                check="training-log",
                artifact=Path(log_file).resolve(),
            )
        )
    for adapter in config.getoption("punie_adapter"):
        items.append(
            PipelineItem.from_parent(
                session, name=f"pipeline[{adapter}]::adapter", check="adapter", artifact=Path(adapter).resolve()
            )
        )
    from pytest_punie.pipelinecollect import tokenizer_items

    items.extend(tokenizer_items(session, config))
    dirs = config.getoption("punie_data")
    if not dirs:
        return
    from pytest_punie.datacollect import DatasetCollector
    from pytest_punie.suite import load_suite

    suites = []
    for item in items:
        if isinstance(item, PromptItem) and item.suite not in suites:
            suites.append(item.suite)
    if not suites:
        import glob

        for pattern in config.getini("punie_suites"):
            for path in sorted(glob.glob(str(config.rootpath / pattern))):
                try:
                    suites.append(load_suite(path))
                except PunieError:
                    pass  # reported by that suite's own item
    for d in dirs:
        directory = Path(d).resolve()
        collector = DatasetCollector.from_parent(session, name=f"data[{d}]", dataset=directory, suites=suites)
        items.extend(collector.collect())


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_suite_file(parent.config, file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    result = getattr(item, "punie_result", None)
    findings = getattr(item, "punie_findings", None)
    if findings and call.when == "call":
        report.punie_findings = findings
    if isinstance(item, PromptItem) and result is not None and call.when == "call":
        # travels to the xdist controller with the report (plain JSON data)
        report.punie_result = result.to_wire()
        run = punie_run(item.config)
        variant = item.variant.name
        src = run._variant_sources.get(variant) if variant else run._source
        if src is not None:
            report.punie_source = {**src.identity(), "variant": variant}


__all__ = ["PromptItem", "SuiteErrorItem", "SuiteFile"]


@pytest.fixture(scope="session")
def punie_model(pytestconfig: pytest.Config) -> Any:
    """The model under test (``--punie-model``), resolved and built if needed:
    ``.path``, ``.digest``, ``.builds``, ``.identity()``."""
    return punie_run(pytestconfig).model()


@pytest.fixture(scope="session")
def punie_generate(pytestconfig: pytest.Config) -> Any:
    """Generate with the run's model and backend from your own tests::

        def test_answers_with_a_tool_call(punie_generate):
            response = punie_generate("Show the git status.", max_tokens=128)
            assert "<tool_call>" in response["punie"]["raw_text"]

    Takes a query (with the first suite's system prompt) or a list of chat
    messages, and sampling keywords; returns the chat.completion dict."""
    from pytest_punie.backends import ChatRequest
    from pytest_punie.errors import PunieError as _PunieError
    from pytest_punie.suite.model import Sampling

    run = punie_run(pytestconfig)
    source = run.source()
    backend = getattr(source, "backend", None)
    if backend is None:
        raise _PunieError(None, None, "punie_generate needs a model (--punie-model or --punie-server-url), not replay")

    def generate(prompt: str | list[dict[str, str]], **sampling: Any) -> dict[str, Any]:
        if isinstance(prompt, str):
            system = run.suites_seen[0].system_prompt if run.suites_seen else None
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt}
            ]
        else:
            messages = list(prompt)
        defaults = {"stop": ("<|im_end|>", "<|endoftext|>")}
        params = {**defaults, **sampling}
        params["stop"] = tuple(params["stop"])
        record = backend.complete([ChatRequest("fixture", tuple(messages), Sampling(**params))])[0]
        if record.error:
            raise _PunieError(None, None, f"generation failed: {record.error}")
        return dict(record.response)

    return generate
