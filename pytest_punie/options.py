"""The ``--punie-*`` options and ini keys, one function per feature."""

from __future__ import annotations

import pytest

from pytest_punie.registry import SCORERS
from pytest_punie.sources.sourceoptions import (
    bits_list,
    positive_float,
    positive_int,
    seed_list,
    temperature,
    temperature_list,
)


def add_options(parser: pytest.Parser) -> None:
    """Every --punie-* option and punie_* ini value, in groups."""
    group = parser.getgroup("punie", "pytest-punie: evaluate and validate fine-tuned MLX models")
    add_model_options(group, parser)
    add_sampling_options(group)
    add_scoring_options(group)
    add_output_options(group, parser)
    add_variant_options(group)
    add_gate_options(group, parser)
    add_data_options(group, parser)
    add_pipeline_options(group)
    add_tokenizer_options(group)
    add_overnight_options(group)


def add_model_options(group: pytest.OptionGroup, parser: pytest.Parser) -> None:
    """What answers: a model, recorded responses, or an external server."""
    group.addoption(
        "--punie-model",
        metavar="NAME|PATH",
        help="model to evaluate: a name from [tool.punie.models] or a model directory",
    )
    group.addoption(
        "--punie-responses", metavar="FILE", help="score recorded responses (JSONL) instead of running a model"
    )
    group.addoption(
        "--punie-server-url",
        metavar="URL",
        action="append",
        help="an external OpenAI-compatible server to evaluate; repeat it for several endpoints serving "
        "one model (requests are spread over them)",
    )
    group.addoption(
        "--punie-server-model",
        metavar="NAME",
        action="append",
        help="the model name requests to --punie-server-url carry (one for every endpoint, or one per endpoint)",
    )
    group.addoption(
        "--punie-server-concurrency",
        type=positive_int,
        default=None,
        metavar="N",
        help="requests in flight at once per --punie-server-url endpoint (default 8)",
    )
    group.addoption(
        "--punie-backend",
        choices=("auto", "inprocess", "server"),
        default="auto",
        help="how a local model generates: in-process batched mlx-lm, or a managed mlx_lm server "
        "(auto: in-process, one shared server under xdist)",
    )
    group.addoption(
        "--punie-prompt-sensitivity",
        action="store_true",
        default=False,
        help="also measure each prompt's format lock under the suite's system_prompt_variants "
        "(one greedy token each) and report the range",
    )
    group.addoption(
        "--punie-no-cache",
        action="store_true",
        default=False,
        help="generate every response: do not use (or keep) the responses kept for this exact model and sampling",
    )
    parser.addini("punie_model", default="", help="default for --punie-model")
    parser.addini(
        "punie_suites",
        type="linelist",
        default=["evalsuites/*.yaml", "evalsuites/*.yml"],
        help="glob patterns (relative to rootdir) of pytest-punie suite files",
    )


def add_overnight_options(group: pytest.OptionGroup) -> None:
    """A long unattended run: its time budget, and whether interrupted training resumes."""
    group.addoption(
        "--punie-budget",
        type=budget_value,
        default=None,
        metavar="DURATION",
        help="the whole run's time limit (3h, 45m, 90s, 1h30m): the plan is printed first, with each step's "
        "estimate from this machine's measured rates; a plan that cannot fit is refused before any step, "
        "and work that no longer fits is not started (the run ends INCOMPLETE with the command that finishes it)",
    )
    group.addoption(
        "--punie-no-resume",
        action="store_true",
        default=False,
        help="train every adapter from iteration 1: do not resume from the checkpoints an interrupted build "
        "kept (the registry key resume = false does the same for one entry)",
    )


def add_sampling_options(group: pytest.OptionGroup) -> None:
    """The options that override a suite's sampling for this run."""
    group.addoption(
        "--punie-temperature", type=temperature, metavar="T", help="override the suite's sampling temperature"
    )
    group.addoption("--punie-max-tokens", type=positive_int, metavar="N", help="override every prompt's max_tokens")
    group.addoption(
        "--punie-timeout-scale",
        type=positive_float,
        default=1.0,
        metavar="X",
        help="multiply every prompt's own timeout_s (a slow machine); how long we wait, never what is generated",
    )
    group.addoption("--punie-seed", type=int, metavar="N", help="sampling seed (temperature > 0)")


def add_scoring_options(group: pytest.OptionGroup) -> None:
    """The options that choose the scorer and strict judging."""
    group.addoption(
        "--punie-scorer",
        type=registered_scorer,
        metavar="NAME",
        help="judge with this registered scorer instead of the suite's primary one",
    )
    group.addoption(
        "--punie-strict",
        action="store_true",
        default=False,
        help="any missed prompt fails the run, not only the thresholds",
    )


def add_output_options(group: pytest.OptionGroup, parser: pytest.Parser) -> None:
    """Where the results document, reports and recorded responses are written."""
    group.addoption("--punie-json", metavar="PATH", help="write the results document (JSON) here")
    group.addoption("--punie-md", metavar="PATH", help="write a Markdown results document here")
    group.addoption("--punie-record", metavar="PATH", help="write the responses of this run as replayable JSONL")
    parser.addini(
        "punie_runs_dir",
        default=".punie/runs",
        help="every run's results (JSON, Markdown, HTML) are written under <dir>/<time>-<model>/",
    )
    group.addoption("--punie-chart", metavar="PATH", help="write a PNG chart of the categories (needs matplotlib)")
    group.addoption("--punie-html", metavar="PATH", help="write the single-file HTML report here")
    group.addoption(
        "--punie-suite",
        action="append",
        default=[],
        metavar="NAME|FILE",
        help="evaluate this suite too: a packaged one by name (phase33) or a YAML file; repeatable",
    )


def add_variant_options(group: pytest.OptionGroup) -> None:
    """Several measurements of one suite in one run."""
    group.addoption(
        "--punie-temperatures",
        type=temperature_list,
        metavar="T,T",
        help="run the suite at each of these temperatures",
    )
    group.addoption(
        "--punie-repeat",
        type=positive_int,
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
        "--punie-seeds",
        type=seed_list,
        metavar="S,S",
        help="train, fuse, quantize and evaluate the model's recipe once per training seed "
        "(mlx_lm lora --seed): is the score reproducible across trainings?",
    )
    group.addoption(
        "--punie-bits",
        type=bits_list,
        metavar="B,B",
        help="quantize the model's one fuse at each of these widths and evaluate each: parity with the "
        "adapter as trained, size on disk, decode speed and the eval; the report names the smallest that holds",
    )
    group.addoption(
        "--punie-variant",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this variant's items (seed=1, ckpt=40, t=0.7: a name -k cannot hold); repeatable",
    )
    group.addoption(
        "--punie-base",
        metavar="PATH",
        help="the base model the checkpoints were trained on (default: the --punie-model recipe's base)",
    )


def add_gate_options(group: pytest.OptionGroup, parser: pytest.Parser) -> None:
    """Baselines and the regression gate."""
    group.addoption("--punie-save", metavar="NAME", help="save this run's results as baseline NAME")
    group.addoption("--punie-compare", metavar="NAME|PATH", help="gate this run against a saved baseline")
    group.addoption("--punie-compare-md", metavar="PATH", help="write the comparison as Markdown here")
    group.addoption(
        "--punie-allow-suite-change",
        action="store_true",
        default=False,
        help="compare even when the suite, scorer or sampling differ from the baseline's",
    )
    parser.addini("punie_baseline_dir", default=".punie/baselines", help="where --punie-save stores baselines")


def add_data_options(group: pytest.OptionGroup, parser: pytest.Parser) -> None:
    """The training-data lint."""
    group.addoption(
        "--punie-data",
        action="append",
        default=[],
        metavar="DIR",
        help="lint this training dataset (train/valid/test.jsonl); repeatable",
    )
    parser.addini(
        "punie_lint_tool_share", default="0.10 0.80", help="data lint: allowed share of tool-calling examples"
    )
    parser.addini("punie_lint_min_tool_examples", default="5", help="data lint: fewest examples per tool")
    parser.addini("punie_lint_similarity", default="0.85", help="data lint: eval near-copy similarity threshold")
    parser.addini("punie_lint_max_seq_length", default="2048", help="data lint: training max sequence length")


def add_pipeline_options(group: pytest.OptionGroup) -> None:
    """Artifacts of the training pipeline given directly."""
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


def add_tokenizer_options(group: pytest.OptionGroup) -> None:
    """The tokenizer preflight's options."""
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


class _Recorder:
    """Stands in for pytest's parser to read back what ``add_options`` declares."""

    def __init__(self) -> None:
        self.value_options: list[str] = []

    def getgroup(self, *args: object, **kwargs: object) -> _Recorder:
        """The one group every option is added to."""
        return self

    def addoption(self, *names: str, **kwargs: object) -> None:
        """Records an option that takes a value (not a flag)."""
        if kwargs.get("action") not in ("store_true", "store_false", "count"):
            self.value_options += [n for n in names if n.startswith("--")]

    def addini(self, *args: object, **kwargs: object) -> None:
        """Ini values are not command-line options."""


def registered_scorer(value: str) -> str:
    """--punie-scorer's value checked while pytest parses the command line: a registered scorer."""
    import argparse

    names = SCORERS.names()
    if value not in names:
        raise argparse.ArgumentTypeError(f"{value!r} is not a registered scorer ({', '.join(names)})")
    return value


def value_options() -> tuple[str, ...]:
    """Every option that takes a value, read from the declarations themselves (a value written
    after a space is taken by pytest for a test path: the usage check needs them all)."""
    recorder = _Recorder()
    add_options(recorder)  # type: ignore[arg-type]
    return tuple(recorder.value_options)


def budget_value(value: str) -> str:
    """--punie-budget 3h: a duration, checked while pytest parses the command line."""
    import argparse

    from pytest_punie.budget import parse_duration

    try:
        parse_duration(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value
