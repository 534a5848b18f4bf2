"""Responses from a real model: resolve (build if needed), then generate
through a backend. Prompts are generated together on first use, so the
in-process backend batches the whole suite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pytest_punie.backends import Backend, ChatRequest, OnResult, ResponseRecord
from pytest_punie.results import judge_prompt
from pytest_punie.suite.model import Prompt, Sampling, Suite, chat_messages


def messages_for(suite: Suite, prompt: Prompt) -> tuple[dict[str, str], ...]:
    return chat_messages(suite.system_prompt, prompt.query)


def apply_overrides(sampling: Sampling, overrides: dict[str, Any]) -> Sampling:
    return replace(sampling, **{k: v for k, v in overrides.items() if v is not None})


class ModelSource:
    def __init__(self, backend: Backend, identity: dict[str, Any], overrides: dict[str, Any], batch: bool = True):
        self.backend = backend
        self._identity = identity
        self.overrides = overrides
        self.batch = batch  # False under xdist: each worker asks for its own prompts
        self._cache: dict[tuple[str, str, int], ResponseRecord] = {}
        self.progress: Callable[[str], None] | None = None  # one line per response as it completes

    def identity(self) -> dict[str, Any]:
        return {**self._identity, **self.backend.identity(), "sampling_overrides": self.overrides}

    def request(self, suite: Suite, prompt: Prompt, sample: int = 0) -> ChatRequest:
        sampling = apply_overrides(suite.sampling_for(prompt), self.overrides)
        if sample:  # repeated sampling: seeded, a different seed per sample, never a cached answer
            sampling = replace(sampling, seed=(sampling.seed or 0) + sample)
        return ChatRequest(f"{prompt.id}#{sample}", messages_for(suite, prompt), sampling)

    def get(self, suite: Suite, prompt: Prompt, batch: list[Prompt], sample: int = 0) -> ResponseRecord:
        key = (suite.digest, prompt.id, sample)
        if key not in self._cache:
            todo = [p for p in (batch if self.batch else [prompt]) if (suite.digest, p.id, sample) not in self._cache]
            if prompt not in todo:
                todo.append(prompt)
            records = self.backend.complete(
                [self.request(suite, p, sample) for p in todo], self._reporter(suite, todo, sample)
            )
            for p, rec in zip(todo, records, strict=True):
                self._cache[(suite.digest, p.id, sample)] = rec
        return self._cache[key]

    def _reporter(self, suite: Suite, todo: list[Prompt], sample: int) -> OnResult | None:
        """A line per response as it completes: id, both scores, label, seconds, a running count."""
        progress = self.progress
        if progress is None:
            return None
        prompts = {self.request(suite, p, sample).key: p for p in todo}
        done: list[str] = []

        def on_result(req: ChatRequest, record: ResponseRecord) -> None:
            prompt = prompts.get(req.key)
            if prompt is None:
                return
            done.append(req.key)
            r = judge_prompt(suite.path, suite, prompt, [record])
            what = f"no response: {record.error}" if record.error else r.label
            progress(
                f"{'PASS' if r.passed else 'MISS'} {prompt.id:<10} {prompt.category:<12} "
                f"legacy {float(r.scores['legacy']):.2f}  strict {float(r.scores['strict']):.2f}  "
                f"{what:<18} {record.seconds or 0:6.2f} s  [{len(done)}/{len(prompts)}]"
            )

        return on_result

    def close(self) -> None:
        self.backend.close()
