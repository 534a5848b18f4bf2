"""Pipeline checks as pytest items, marked ``pipeline``.

For the model under test (``--punie-model``), when it is built by a recipe:
its training log, adapter, fused model (and that the adapter was applied),
quantized model and a smoke generation. For artifacts given directly:
``--punie-train-log FILE`` and ``--punie-adapter DIR``. The checks
themselves are plain functions in ``pytest_punie.checks``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_punie.backends import ChatRequest
from pytest_punie.checks import artifacts, trainlog
from pytest_punie.errors import PunieError
from pytest_punie.items.checkitem import CheckItem
from pytest_punie.models.resolve import recipe_parts, resolve_spec
from pytest_punie.scoring.parse import parse_response
from pytest_punie.session import punie_session
from pytest_punie.sources.factory import model_name, uses_model
from pytest_punie.suite.model import DEFAULT_STOP, Sampling

CHECKS: dict[str, str] = {
    "training-log": "the LoRA run's loss decreased, stayed finite and the log is complete",
    "adapter": "the adapter is in mlx-lm's format, with every checkpoint",
    "fused": "the fused model is whole, with tokenizer, template and eos ids",
    "adapter-applied": "the fused weights differ from the base where the adapter has LoRA tensors",
    "quantized": "the model under test is whole and quantized as its recipe says",
    "smoke": "a greedy generation of a training query yields a parseable tool call",
}


class PipelineItem(CheckItem):
    CHECKS = CHECKS
    MARK = "pipeline"

    def __init__(self, *, model_name: str | None = None, artifact: Path | None = None, **kw: Any):
        super().__init__(**kw)
        self.model_name = model_name
        self.artifact = artifact

    def runtest(self) -> None:
        self.fail_on(self._problems())

    def _problems(self) -> list[str]:
        if self.artifact is not None:  # an artifact given on the command line
            if self.check == "training-log":
                return trainlog.check_training_log(trainlog.parse_training_log(self.artifact))
            return artifacts.check_adapter(self.artifact)[0]
        model = punie_session(self.config).model()
        base, adapter = recipe_parts(model, self.config.rootpath)
        fused = next((Path(b["path"]) for b in model.builds if b["step"] == "fused"), None)
        if self.check == "training-log":
            assert adapter is not None  # collected for the tiny recipe only, which builds its adapter
            return trainlog.check_training_log(trainlog.parse_training_log(adapter / "train.log"))
        if self.check == "adapter":
            assert adapter is not None
            return artifacts.check_adapter(adapter)[0]
        if self.check == "fused":
            assert fused is not None  # collected only for models built by fusing
            return artifacts.check_model(fused)
        if self.check == "adapter-applied":
            assert fused and adapter and base
            return artifacts.adapter_applied(fused, base, adapter)
        if self.check == "quantized":
            q = model.summary.get("quantization") or {}
            spec = model.spec_entry
            return artifacts.check_model(
                model.path, spec.get("bits", q.get("bits")), spec.get("group_size", q.get("group_size"))
            )
        if self.check == "smoke":
            return smoke_generation(self.config, model.path)
        raise AssertionError(self.check)

    def reportinfo(self):
        return (
            self.artifact or Path(str(self.fspath)),
            None,
            f"pipeline {self.check} [{self.model_name or self.artifact}]",
        )


def smoke_generation(config: pytest.Config, model_path: Path) -> list[str]:
    """One training query (or the first suite prompt), greedy: a tool call must parse."""
    session = punie_session(config)
    backend = getattr(session.source(), "backend", None)
    if backend is None:
        from pytest_punie.backends.inprocess import InProcessBackend

        backend = InProcessBackend(model_path)
    messages = session.smoke_messages()
    record = backend.complete([ChatRequest("smoke", messages, Sampling(max_tokens=256, stop=DEFAULT_STOP))])[0]
    if record.error:
        return [f"{model_path}: smoke generation failed: {record.error}"]
    parsed = parse_response(record.response)
    if not any(c.complete for c in parsed.calls):
        text = (parsed.content or "")[:200]
        return [
            f"{model_path}: smoke generation for {messages[-1]['content']!r} yielded no complete tool call: {text!r}"
        ]
    return []


def pipeline_items(parent: pytest.Collector, name: str, entry: dict[str, Any]) -> list[PipelineItem]:
    checks = ["quantized", "smoke"]
    if entry.get("recipe") == "tiny" or ("base" in entry and "adapter" in entry):
        checks = ["fused", "adapter-applied", *checks]
    if entry.get("recipe") == "tiny":
        checks = ["training-log", "adapter", *checks]
    return [PipelineItem.from_parent(parent, name=c, check=c, model_name=name) for c in checks]


class PipelineCollector(pytest.Collector):
    def __init__(self, *, model_name: str, entry: dict[str, Any], **kw: Any):
        super().__init__(**kw)
        self.model_name = model_name
        self.entry = entry

    @classmethod
    def for_model_under_test(cls, parent: pytest.Collector) -> PipelineCollector | None:
        """The pipeline checks of ``--punie-model`` (None when the run has no model)."""
        if not uses_model(parent.config):
            return None
        name = model_name(parent.config)
        assert name is not None
        try:
            spec = resolve_spec(name, parent.config.rootpath)
        except PunieError:
            return None  # the eval items report an unknown model
        return cls.from_parent(parent, name=f"pipeline[{name}]", model_name=name, entry=spec.entry)

    def collect(self):  # type: ignore[override]
        return pipeline_items(self, self.model_name, self.entry)


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
