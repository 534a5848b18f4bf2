"""Pipeline checks as pytest items, marked ``pipeline``.

For the model under test (``--punie-model``), when it is built by a recipe:
its training log, adapter, fused model (and that the adapter was applied),
quantized model and a smoke generation. For artifacts given directly:
``--punie-train-log FILE`` and ``--punie-adapter DIR``. The checks
themselves are plain functions in ``pytest_punie.checks``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_punie.backends import ChatRequest
from pytest_punie.backends.inprocess import InProcessBackend
from pytest_punie.checks import artifacts, trainlog
from pytest_punie.checks.eos import check_eos, eos_token_id
from pytest_punie.checks.expectations import PipelineExpectations, check_bits, expectations, planned_from_adapter
from pytest_punie.errors import PunieError
from pytest_punie.items.checkitem import CheckItem
from pytest_punie.items.paths import display_path
from pytest_punie.models.resolve import recipe_parts, registry_source, resolve_spec
from pytest_punie.registry import Registry
from pytest_punie.scoring.parse import control_tokens, parse_response
from pytest_punie.session import punie_session
from pytest_punie.sources.sourceoptions import source_options
from pytest_punie.suite.suitetypes import DEFAULT_STOP, Sampling


@dataclass(frozen=True)
class ModelSteps:
    """The model under test's build as its pipeline checks read it: each step it made, and the bounds."""

    item: PipelineItem
    """The check's item (its config, and where its warnings go)."""
    model: Any
    """The resolved model under test (its path, builds, registry entry and summary)."""
    base: Path | None
    """The base model the recipe's adapter was trained on."""
    adapter: Path | None
    """The adapter the recipe trained (or was given)."""
    fused: Path | None
    """The fused model (before quantization)."""
    expect: PipelineExpectations
    """The pre-registered bounds: defaults, the suites' pipeline_expect, the registry entry's expect."""


PipelineCheck = Callable[[ModelSteps], list[str]]
CHECKS: Registry[PipelineCheck] = Registry("pipeline check", ())
"""The pipeline checks of a model under test, by name, in pipeline order: a new check is one
function decorated with ``@pipeline_check(name, description)`` (and a line in ``pipeline_items``
saying which models have the step it checks)."""
pipeline_check = CHECKS.register


class PipelineItem(CheckItem):
    """One pipeline check (training log, adapter, fused, quantized, eos, smoke) on a model or an artifact."""

    REGISTRY = CHECKS
    MARK = "pipeline"

    def __init__(self, *, model_name: str | None = None, artifact: Path | None = None, **kw: Any):
        super().__init__(**kw)
        self.model_name = model_name
        self.artifact = artifact

    def runtest(self) -> None:
        """Fails with the check's problems."""
        self.fail_on(self._problems())

    def _expect(self, entry: dict[str, Any] | None, adapter: Path | None) -> PipelineExpectations:
        """Defaults, then the suite's pipeline_expect, then the registry entry's expect table."""
        session = punie_session(self.config)
        layers: list[tuple[dict[str, Any] | None, str]] = []
        if adapter is not None:
            layers.append((planned_from_adapter(adapter), f"{adapter}/adapter_config.json"))
        suite_layers = [
            (s.extra.get("pipeline_expect") or {}, f"{display_path(self.config, Path(s.path))} pipeline_expect")
            for s in session.suites_seen
        ]
        for i, (values, where) in enumerate(suite_layers):  # two suites may not pre-register two bounds
            for other, other_where in suite_layers[:i]:
                clash = sorted(k for k in values.keys() & other.keys() if values[k] != other[k])
                if clash:
                    k = clash[0]
                    pytest.fail(
                        f"{other_where} and {where} pre-register different {k} ({other[k]!r}, {values[k]!r}): "
                        "one model is held to one bound; set it in one suite or in the registry entry",
                        pytrace=False,
                    )
        layers += suite_layers
        if entry is not None and self.model_name:
            where = registry_source(self.model_name, self.config.rootpath, ".expect", relative=True)
            layers.append((entry.get("expect"), where))
        return expectations(*layers)

    def _training_log(self, log_file: Path, expect: PipelineExpectations) -> list[str]:
        problems, warnings = trainlog.judge_training_log(trainlog.parse_training_log(log_file), expect.loss)
        for message in warnings:
            self.warn(pytest.PytestWarning(f"training-log: {message}"))
        return problems

    def _problems(self) -> list[str]:
        if self.artifact is not None:  # an artifact given on the command line
            if self.check == "training-log":
                beside = self.artifact.parent if (self.artifact.parent / "adapter_config.json").is_file() else None
                return self._training_log(self.artifact, self._expect(None, beside))
            return artifacts.check_adapter(self.artifact)[0]
        model = punie_session(self.config).model()
        base, adapter = recipe_parts(model, self.config.rootpath)
        fused_build = next((b for b in model.builds if b["step"] == "fused"), None)
        fused = Path(fused_build["path"]) if fused_build else None
        expect = self._expect(model.spec_entry, adapter)  # first: two suites' clashing bounds fail every check
        if fused_build and "retired" in fused_build and self.check in ("fused", "adapter-applied"):
            return recorded_fused_check(fused_build, self.check)
        return CHECKS.get(self.check).fn(ModelSteps(self, model, base, adapter, fused, expect))

    def reportinfo(self):
        """Where pytest says the check is: the artifact or the model's name."""
        return (
            self.artifact or Path(str(self.fspath)),
            None,
            f"pipeline {self.check} [{self.model_name or self.artifact}]",
        )


@pipeline_check("training-log", "the LoRA run's loss decreased, stayed finite and the log is complete")
def training_log_check(steps: ModelSteps) -> list[str]:
    """A run that crashed, stopped early or did not learn is caught before its model is evaluated."""
    assert steps.adapter is not None  # collected for recipes that train their adapter
    return steps.item._training_log(steps.adapter / "train.log", steps.expect)


@pipeline_check("adapter", "the adapter is in mlx-lm's format, with every checkpoint")
def adapter_check(steps: ModelSteps) -> list[str]:
    """An adapter mlx-lm cannot load, or one a crash left without its checkpoints, is named."""
    assert steps.adapter is not None
    return artifacts.check_adapter(steps.adapter)[0]


@pipeline_check("fused", "the fused model is whole, with tokenizer, template and eos ids")
def fused_check(steps: ModelSteps) -> list[str]:
    """A fused model with a cut shard or a missing tokenizer file is named."""
    assert steps.fused is not None  # collected only for models built by fusing
    return artifacts.check_model(steps.fused)


@pipeline_check("adapter-applied", "the fused weights differ from the base where the adapter has LoRA tensors")
def adapter_applied_check(steps: ModelSteps) -> list[str]:
    """A fuse that silently left the base's weights (the adapter not applied) is caught."""
    assert steps.fused and steps.adapter and steps.base
    return artifacts.adapter_applied(steps.fused, steps.base, steps.adapter)


@pipeline_check(
    "quantized", "the model under test is whole and quantized as its recipe says, not below its expected bits"
)
def quantized_check(steps: ModelSteps) -> list[str]:
    """Wrong bits or group size (or a model below its expected bits) is named with the config's path."""
    q = steps.model.summary.get("quantization") or {}
    spec = steps.model.spec_entry
    return artifacts.check_model(
        steps.model.path, spec.get("bits", q.get("bits")), spec.get("group_size", q.get("group_size"))
    ) + check_bits(q.get("bits"), steps.expect, f"{steps.model.path / 'config.json'}")


@pipeline_check(
    "parity",
    "the model under test behaves like base + adapter as trained: KL and top-1 agreement on the validation "
    "set's assistant tokens, far closer than the base alone",
)
def parity_check(steps: ModelSteps) -> list[str]:
    """A fuse or a quantization that lost the adapter's signal is caught, whatever the weights look like."""
    from pytest_punie.checks.paritycheck import gold_from_adapter, kept_parity, parity_record
    from pytest_punie.models.cache import default_cache_dir

    for part, path in (("base", steps.base), ("adapter", steps.adapter)):
        if path is None or not path.is_dir():
            return [f"parity: the reference (base + adapter as trained) cannot be built: the {part} {path} is missing"]
    assert steps.base is not None and steps.adapter is not None
    try:
        gold = gold_from_adapter(steps.adapter)
        cache = default_cache_dir(steps.item.config.rootpath)
        figures = kept_parity(cache, steps.base, steps.adapter, steps.model.path, gold)
    except PunieError as err:
        return [err.describe()]
    bits = (steps.model.summary.get("quantization") or {}).get("bits")
    record = parity_record(str(steps.item.model_name), bits, figures, steps.expect, str(steps.model.path))
    steps.item.punie_parity = record  # type: ignore[attr-defined]
    return list(record["problems"])


@pipeline_check(
    "eos", "config and generation config end on the template's end-of-turn token, and generation really does"
)
def eos_check(steps: ModelSteps) -> list[str]:
    """A model that never stops on its own end-of-turn token is caught before the eval's stop strings hide it."""
    return eos_generation(steps.item.config, steps.model.path, steps.expect)


@pipeline_check("smoke", "a greedy generation of a training query yields a parseable tool call and no control token")
def smoke_check(steps: ModelSteps) -> list[str]:
    """A model that cannot write one tool call is caught before a whole eval is spent on it."""
    return smoke_generation(steps.item.config, steps.model.path)


def recorded_fused_check(build: dict[str, Any], check: str) -> list[str]:
    """A check of the dequantized fuse, run at build time before it was removed (its record keeps the outcome)."""
    retired = build["retired"]
    checks = retired.get("checks") or {}
    if check not in checks:
        return [
            f"{build['path']}: the fused intermediate was removed ({retired.get('because')}) without this check "
            "recorded; set keep_intermediates = true in the model's registry entry to keep it"
        ]
    return [
        f"{p} (checked at build time, {retired.get('when')}, before the intermediate was removed)"
        for p in checks[check]
    ]


def smoke_generation(config: pytest.Config, model_path: Path) -> list[str]:
    """One training query (or the first suite prompt), greedy: a tool call must parse."""
    session = punie_session(config)
    backend = session.source().backend
    if backend is None:
        backend = InProcessBackend(model_path)
    messages = session.smoke_messages()
    record = backend.complete([ChatRequest("smoke", messages, Sampling(max_tokens=256, stop=DEFAULT_STOP))])[0]
    if record.error:
        return [f"{model_path}: smoke generation failed: {record.error}"]
    parsed = parse_response(record.response)
    problems = []
    if not any(c.complete for c in parsed.calls):
        text = (parsed.content or "")[:200]
        problems.append(
            f"{model_path}: smoke generation for {messages[-1]['content']!r} yielded no complete tool call: {text!r}"
        )
    leaks = control_tokens(parsed.content)
    if leaks:
        problems.append(f"{model_path}: the generation contains control tokens {leaks}: it ran past a turn's end")
    return problems


def eos_generation(config: pytest.Config, model_path: Path, expect: PipelineExpectations) -> list[str]:
    """The eos ids name the end-of-turn token, and a greedy generation with no
    stop strings at all (only the model's own eos) really ends on it."""
    source = expect.source("eos_token") if expect.eos_token else "the chat template"
    problems = check_eos(model_path, expect.eos_token, source)
    token, eot = eos_token_id(model_path, expect.eos_token)
    session = punie_session(config)
    backend = session.source().backend
    if not isinstance(backend, InProcessBackend):
        backend = InProcessBackend(model_path)  # the stop token is only seen in process
    record = backend.complete([ChatRequest("eos", session.smoke_messages(), Sampling(max_tokens=256, stop=()))])[0]
    if record.error or record.response is None:
        return [*problems, f"{model_path}: generation without stop strings failed: {record.error}"]
    reason = record.response["choices"][0]["finish_reason"]
    ended = record.response.get("punie", {}).get("stop_token")
    if reason == "length" or ended != eot:
        how = "ran to max_tokens (256)" if reason == "length" else f"ended on token {ended}"
        problems.append(
            f"{model_path}: a generation with no stop strings {how}, not on the end-of-turn {token!r} ({eot}): "
            "the eval's stop strings would hide this in every answer"
        )
    return problems


def pipeline_items(parent: pytest.Collector, name: str, entry: dict[str, Any]) -> list[PipelineItem]:
    """The checks of a model's pipeline: each step its entry says was made (a training recipe's
    training log and adapter, a fused model, the quantized model), as items of the run."""
    checks = ["quantized", "eos", "smoke"]
    trains = entry.get("recipe") == "tiny" or "lora" in entry  # the recipe trains its own adapter
    made_from = "base" in entry and "adapter" in entry
    if made_from and "path" in entry:  # a finished model with the base and adapter it was made from
        checks = ["quantized", "parity", "eos", "smoke"]
    elif trains or made_from:
        checks = ["fused", "adapter-applied", "quantized", "parity", "eos", "smoke"]
    if trains:
        checks = ["training-log", "adapter", *checks]
    return [PipelineItem.from_parent(parent, name=c, check=c, model_name=name) for c in checks]


class PipelineCollector(pytest.Collector):
    """The pipeline checks of the model under test, or one item naming why it cannot be resolved."""

    def __init__(self, *, model_name: str, entry: dict[str, Any], error: PunieError | None = None, **kw: Any):
        super().__init__(**kw)
        self.model_name = model_name
        self.entry = entry
        self.error = error

    @classmethod
    def for_model_under_test(cls, parent: pytest.Collector) -> PipelineCollector | None:
        """The pipeline checks of ``--punie-model`` (None when the run has no model)."""
        config = parent.config
        if not source_options(config).uses_model:
            return None
        if not config.getoption("punie_model") and (
            config.getoption("punie_train_log") or config.getoption("punie_adapter")
        ):
            return None  # artifacts given directly: the ini's default model is not what is checked
        name = source_options(parent.config).model
        assert name is not None
        try:
            spec = resolve_spec(name, parent.config.rootpath)
        except PunieError as err:  # reported by an item of its own, not swallowed
            return cls.from_parent(parent, name=f"pipeline[{name}]", model_name=name, entry={}, error=err)
        return cls.from_parent(parent, name=f"pipeline[{name}]", model_name=name, entry=spec.entry)

    def collect(self):  # type: ignore[override]
        """An item per pipeline check, or the model's error as an item."""
        if self.error is not None:
            return [ModelErrorItem.from_parent(self, name="model", check="model", error=self.error)]
        return pipeline_items(self, self.model_name, self.entry)


MODEL_CHECKS: Registry[Callable[[PunieError], None]] = Registry("model check", ())


@MODEL_CHECKS.register("model", "the model under test resolves to a model directory")
def model_resolves(error: PunieError) -> None:
    """A model that cannot be resolved fails where its checks would be, saying why."""
    raise error


class ModelErrorItem(CheckItem):
    """The model under test cannot be resolved: one failing item that says why."""

    REGISTRY = MODEL_CHECKS
    MARK = "pipeline"

    def __init__(self, *, error: PunieError, **kw: Any):
        super().__init__(**kw)
        self.error = error

    def runtest(self) -> None:
        """Fails with the model's error, so it is reported where the checks would be."""
        MODEL_CHECKS.get(self.check).fn(self.error)


def command_line_items(session: pytest.Session, config: pytest.Config) -> list[PipelineItem]:
    """``--punie-train-log FILE`` and ``--punie-adapter DIR``: checks of artifacts given directly."""
    items = [
        PipelineItem.from_parent(
            session, name=f"pipeline[{f}]::training-log", check="training-log", artifact=Path(f).resolve()
        )
        for f in config.getoption("punie_train_log")
    ]
    items += [
        PipelineItem.from_parent(session, name=f"pipeline[{a}]::adapter", check="adapter", artifact=Path(a).resolve())
        for a in config.getoption("punie_adapter")
    ]
    return items
