"""Pipeline checks as pytest items, marked ``pipeline``.

For the model under test (``--punie-model``), when it is built by a recipe:
its training log, adapter, fused model (and that the adapter was applied),
quantized model and a smoke generation. For artifacts given directly:
``--punie-train-log FILE`` and ``--punie-adapter DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_punie.pipeline import artifacts, trainlog


class PipelineProblems(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


CHECKS: dict[str, str] = {
    "training-log": "the LoRA run's loss decreased, stayed finite and the log is complete",
    "adapter": "the adapter is in mlx-lm's format, with every checkpoint",
    "fused": "the fused model is whole, with tokenizer, template and eos ids",
    "adapter-applied": "the fused weights differ from the base where the adapter has LoRA tensors",
    "quantized": "the model under test is whole and quantized as its recipe says",
    "smoke": "a greedy generation of a training query yields a parseable tool call",
}


class PipelineItem(pytest.Item):
    def __init__(self, *, check: str, model_name: str | None = None, artifact: Path | None = None, **kw: Any):
        super().__init__(**kw)
        self.check = check
        self.model_name = model_name
        self.artifact = artifact
        self.add_marker("pipeline")

    def runtest(self) -> None:
        problems = self._problems()
        if problems:
            raise PipelineProblems(problems)

    def _problems(self) -> list[str]:
        if self.artifact is not None:  # an artifact given on the command line
            if self.check == "training-log":
                return trainlog.check_training_log(trainlog.parse_training_log(self.artifact))
            return artifacts.check_adapter(self.artifact)[0]
        from pytest_punie.models.resolve import recipe_parts
        from pytest_punie.plugin import punie_run

        model = punie_run(self.config).model()
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

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        if isinstance(excinfo.value, PipelineProblems):
            return "\n".join([f"{self.check}: {CHECKS[self.check]}", *(f"  {p}" for p in excinfo.value.problems)])
        from pytest_punie.errors import PunieError

        if isinstance(excinfo.value, PunieError):
            return f"{self.check}: {excinfo.value.describe()}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return (
            self.artifact or Path(str(self.fspath)),
            None,
            f"pipeline {self.check} [{self.model_name or self.artifact}]",
        )


def smoke_generation(config: pytest.Config, model_path: Path) -> list[str]:
    """One training query (or the first suite prompt), greedy: a tool call must parse."""
    from pytest_punie.backends import ChatRequest
    from pytest_punie.plugin import punie_run
    from pytest_punie.scoring.parse import parse_response
    from pytest_punie.suite.model import Sampling

    run = punie_run(config)
    source = run.source()
    backend = getattr(source, "backend", None)
    if backend is None:
        from pytest_punie.backends.inprocess import InProcessBackend

        backend = InProcessBackend(model_path)
    system, query = run.smoke_prompt()
    req = ChatRequest(
        "smoke",
        ({"role": "system", "content": system}, {"role": "user", "content": query}),
        Sampling(max_tokens=256, stop=("<|im_end|>", "<|endoftext|>")),
    )
    record = backend.complete([req])[0]
    if record.error:
        return [f"{model_path}: smoke generation failed: {record.error}"]
    parsed = parse_response(record.response)
    if not any(c.complete for c in parsed.calls):
        text = (parsed.content or "")[:200]
        return [f"{model_path}: smoke generation for {query!r} yielded no complete tool call: {text!r}"]
    return []


def pipeline_items(parent: pytest.Collector, model_name: str, entry: dict[str, Any]) -> list[PipelineItem]:
    checks = ["quantized", "smoke"]
    if entry.get("recipe") == "tiny" or ("base" in entry and "adapter" in entry):
        checks = ["fused", "adapter-applied", *checks]
    if entry.get("recipe") == "tiny":
        checks = ["training-log", "adapter", *checks]
    return [PipelineItem.from_parent(parent, name=c, check=c, model_name=model_name) for c in checks]


class PipelineCollector(pytest.Collector):
    def __init__(self, *, model_name: str, entry: dict[str, Any], **kw: Any):
        super().__init__(**kw)
        self.model_name = model_name
        self.entry = entry

    def collect(self):  # type: ignore[override]
        return pipeline_items(self, self.model_name, self.entry)


TOKENIZER_CHECKS = {
    "single-tokens": "each marker of the model family encodes to exactly its one id",
    "tool-parser": "mlx-lm's tool parser for this tokenizer reads every tool call of the training data and the suite",
    "chat-template": "the chat template renders [system, user] exactly as the reference's",
    "example-encoding": "a training example's special tokens sit where the reference puts them",
}


class TokenizerItem(pytest.Item):
    def __init__(self, *, check: str, tokenizer: Path, reference: Path | None, spec: Path, **kw: Any):
        super().__init__(**kw)
        self.check = check
        self.tokenizer = tokenizer
        self.reference = reference
        self.spec = spec
        self.add_marker("tokenizer")

    def runtest(self) -> None:
        from pytest_punie.pipeline import tokenizer as tk
        from pytest_punie.plugin import punie_run

        if self.check == "tool-parser":
            from pytest_punie.serving.calls import call_texts
            from pytest_punie.serving.toolparser import preflight

            data = [Path(d) for d in self.config.getoption("punie_data")]
            texts = call_texts(punie_run(self.config).suites_seen, data, self.config.rootpath)
            report = preflight(self.tokenizer, texts)
            if not report.passed:
                raise PipelineProblems(report.problems())
            return
        cand = tk.load_tokenizer(self.tokenizer)
        if self.check == "single-tokens":
            problems = tk.check_single_tokens(cand, self.spec)
        else:
            assert self.reference is not None
            ref = tk.load_tokenizer(self.reference)
            run = punie_run(self.config)
            system, query = run.smoke_prompt()
            if self.check == "chat-template":
                problems = tk.check_chat_template(cand, ref, system, query)
            else:
                _, tokens, _ = tk.load_spec(self.spec)
                messages = run.training_example() or [
                    {"role": "system", "content": system},
                    {"role": "user", "content": query},
                ]
                problems = tk.check_example_encoding(cand, ref, messages, list(tokens))
        if problems:
            raise PipelineProblems(problems)

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        from pytest_punie.errors import PunieError

        if isinstance(excinfo.value, PipelineProblems):
            return "\n".join(
                [f"{self.check}: {TOKENIZER_CHECKS[self.check]}", *(f"  {p}" for p in excinfo.value.problems)]
            )
        if isinstance(excinfo.value, PunieError):
            return f"{self.check}: {excinfo.value.describe()}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.spec, None, f"tokenizer {self.check} [{self.tokenizer}]"


def tokenizer_items(session: pytest.Session, config: pytest.Config) -> list[TokenizerItem]:
    tok = config.getoption("punie_tokenizer")
    if not tok:
        return []
    ref = config.getoption("punie_reference_tokenizer")
    family = config.getoption("punie_tokenizer_family")
    spec = config.rootpath / "evalsuites" / "tokenizers" / f"{family}.yaml"
    if config.getoption("punie_tokenizer_spec"):
        spec = Path(config.getoption("punie_tokenizer_spec")).resolve()
    checks = ["single-tokens", "tool-parser"] + (["chat-template", "example-encoding"] if ref else [])
    tok_path = Path(tok).resolve()
    return [
        TokenizerItem.from_parent(
            session,
            name=f"tokenizer[{tok}]::{c}",
            check=c,
            tokenizer=tok_path,
            reference=Path(ref).resolve() if ref else None,
            spec=spec,
        )
        for c in checks
    ]
