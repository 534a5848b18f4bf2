"""Responses from a real model: resolve (build if needed), then generate
through a backend. Prompts are generated together on first use, so the
in-process backend batches the whole suite."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_punie.backends import Backend, ChatRequest, ResponseRecord
from pytest_punie.results import judge_prompt
from pytest_punie.sources.responsecache import ResponseCache
from pytest_punie.suite.suitetypes import Prompt, Sampling, Suite, chat_messages


def messages_for(suite: Suite, prompt: Prompt) -> tuple[dict[str, str], ...]:
    """A prompt's messages: the suite's system prompt and the query."""
    return chat_messages(suite.system_prompt, prompt.query)


def apply_overrides(sampling: Sampling, overrides: dict[str, Any]) -> Sampling:
    """The prompt's sampling with the run's overrides applied."""
    return replace(sampling, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class GenerationRate:
    """A long run's live numbers: prompts done, tokens a second, the slowest prompt, an ETA."""

    total: int
    """Prompts this generation will answer."""
    done: int = 0
    """Prompts answered so far (kept ones included)."""
    generated: int = 0
    """Prompts generated (not from the cache) so far."""
    tokens: int = 0
    """Tokens generated so far."""
    slowest: tuple[str, float] = ("", 0.0)
    """(prompt id, seconds) of the slowest generated prompt so far."""
    started: float = field(default_factory=time.monotonic)

    def add(self, prompt_id: str, record: ResponseRecord, from_cache: bool) -> None:
        """Count one answered prompt."""
        self.done += 1
        if from_cache:
            return
        self.generated += 1
        usage = (record.response or {}).get("usage") or {}
        self.tokens += int(usage.get("completion_tokens") or 0)
        if (record.seconds or 0.0) > self.slowest[1]:
            self.slowest = (prompt_id, float(record.seconds or 0.0))

    def eta_s(self) -> float | None:
        """Seconds until this generation's last prompt, at the rate so far (None: nothing generated yet)."""
        if not self.generated:
            return None
        return (time.monotonic() - self.started) / self.generated * (self.total - self.done)

    def describe(self) -> str:
        """The rate, the slowest prompt and the time left, for a run still generating."""
        if not self.generated:
            return ""
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = self.eta_s() or 0.0
        parts = [f"{self.tokens / elapsed:.1f} tok/s" if elapsed > 0 else "", f"slowest {self.slowest[0]}"]
        if left:
            parts.append(f"ETA {eta:.0f} s")
        return "  " + ", ".join(p for p in parts if p)


class ModelSource:
    """Responses from a backend, batched per suite, kept in the response cache."""

    def __init__(
        self,
        backend: Backend,
        identity: dict[str, Any],
        overrides: dict[str, Any],
        batch: bool = True,
        response_cache: ResponseCache | None = None,
    ):
        self.backend = backend
        self._identity = identity
        self.overrides = overrides
        self.batch = batch  # False under xdist: each worker asks for its own prompts
        self._cache: dict[tuple[str, str, int], ResponseRecord] = {}
        self.response_cache = response_cache  # responses kept across runs (None: --punie-no-cache, or no artifact)
        self.progress: Callable[[str], None] | None = None  # one line per response as it completes
        self.timeout_scale = 1.0  # --punie-timeout-scale: every prompt's own time limit, scaled
        self.completed = 0  # responses generated whole in this run (what an interruption leaves kept)
        self.prompt_sensitivity = False  # --punie-prompt-sensitivity: the lock under the suite's paraphrases
        self.rates: Any = None  # this machine's measured rates (budget.Rates): a generation adds its own
        self.rate_kind = "generate"  # the rate this model's generations are measured and estimated by
        self.budget: Any = None  # --punie-budget: a generation that no longer fits is not started

    def identity(self) -> dict[str, Any]:
        """The model, backend, overrides and response cache behind the responses."""
        out = {**self._identity, **self.backend.identity(), "sampling_overrides": self.overrides}
        if self.timeout_scale != 1.0:
            out["timeout_scale"] = self.timeout_scale
        if self.response_cache is not None:
            out["response_cache"] = self.response_cache.summary()
        return out

    def request(self, suite: Suite, prompt: Prompt, sample: int = 0) -> ChatRequest:
        """The request for one prompt (and repeat sample) with the run's overrides."""
        sampling = apply_overrides(suite.sampling_for(prompt), self.overrides)
        if self.timeout_scale != 1.0:  # how long we wait, not what is generated (not in the cache key)
            sampling = replace(sampling, timeout_s=sampling.timeout_s * self.timeout_scale)
        if sample:  # repeated sampling: seeded, a different seed per sample, never a cached answer
            sampling = replace(sampling, seed=(sampling.seed or 0) + sample)
        return ChatRequest(f"{prompt.id}#{sample}", messages_for(suite, prompt), sampling)

    def get(self, suite: Suite, prompt: Prompt, batch: list[Prompt], sample: int = 0) -> ResponseRecord:
        """One prompt's response; its batch generated together on first ask."""
        key = (suite.digest, prompt.id, sample)
        if key not in self._cache:
            todo = [p for p in (batch if self.batch else [prompt]) if (suite.digest, p.id, sample) not in self._cache]
            if prompt not in todo:
                todo.append(prompt)
            for p, rec in zip(todo, self._generate(suite, todo, sample), strict=True):
                self._cache[(suite.digest, p.id, sample)] = rec
        return self._cache[key]

    def _generate(self, suite: Suite, todo: list[Prompt], sample: int) -> list[ResponseRecord]:
        """Responses for ``todo``: from the response cache where kept, the rest generated
        (and kept as each completes). A run that needs nothing generated loads no model."""
        requests = [self.request(suite, p, sample) for p in todo]
        kept = self.response_cache
        found = self._kept(requests)
        missing = [(p, r) for p, r, f in zip(todo, requests, found, strict=True) if f is None]
        if kept is not None:
            if len(missing) < len(todo) and self.progress is not None:
                self.progress(
                    f"{len(todo) - len(missing)} responses from cache ({suite.name}; {kept.folder}), "
                    f"{len(missing)} to generate (--punie-no-cache generates every one)"
                )
        reporter = self._reporter(suite, todo, requests)
        if reporter is not None:  # a person sees every response, kept ones too (said as such)
            for r, f in zip(requests, found, strict=True):
                if f is not None:
                    reporter(r, f, True)
        generated: dict[str, ResponseRecord] = {}
        refused = self._over_budget(suite, missing)
        if refused is not None:
            generated = {r.key: ResponseRecord(None, error=refused) for _, r in missing}
            missing = []
        if missing:

            def on_result(req: ChatRequest, record: ResponseRecord) -> None:
                if record.error is None:
                    self.completed += 1
                if kept is not None:
                    kept.put(req, record)  # kept at once: an interrupted run resumes from here
                if reporter is not None:
                    reporter(req, record, False)

            if hasattr(self.backend, "note"):
                self.backend.note = self.progress  # the scheduler's plan and estimate, said as it changes
            started = time.monotonic()
            records = self.backend.complete([r for _, r in missing], on_result)
            if self.rates is not None and all(rec.error is None for rec in records):
                self.rates.add(self.rate_kind, time.monotonic() - started, len(records))
            generated = {r.key: rec for (_, r), rec in zip(missing, records, strict=True)}
        out = [f if f is not None else generated[r.key] for r, f in zip(requests, found, strict=True)]
        if int(suite.extra.get("max_turns", 1)) > 1:  # the conversation after the tool, turn by turn
            from pytest_punie.sources.conversation import continue_conversations

            out = continue_conversations(suite, requests, out, self._later_turns)
        if self.prompt_sensitivity and not sample and suite.extra.get("system_prompt_variants"):
            self._under_paraphrases(suite, todo, requests, out)
        return out

    def _kept(self, requests: list[ChatRequest]) -> list[ResponseRecord | None]:
        """Each request's response from the response cache (None: to generate), counted as hits and misses."""
        kept = self.response_cache
        if kept is None:
            return [None] * len(requests)
        found = [kept.get(r) for r in requests]
        misses = sum(f is None for f in found)
        kept.misses += misses
        kept.hits += len(found) - misses
        return found

    def _later_turns(self, requests: list[ChatRequest]) -> list[ResponseRecord]:
        """A conversation's later turns, asked as the first turn is: from the response cache (its key
        holds every message, the tool responses included), the rest generated and kept."""
        kept = self.response_cache
        found = self._kept(requests)
        missing = [r for r, f in zip(requests, found, strict=True) if f is None]

        def on_result(req: ChatRequest, record: ResponseRecord) -> None:
            if kept is not None:
                kept.put(req, record)

        records = self.backend.complete(missing, on_result) if missing else []
        generated = {r.key: rec for r, rec in zip(missing, records, strict=True)}
        return [f if f is not None else generated[r.key] for r, f in zip(requests, found, strict=True)]

    def _over_budget(self, suite: Suite, missing: list[tuple[Prompt, ChatRequest]]) -> str | None:
        """Why this generation may not start under the run's budget (None: it may, or there is none)."""
        if self.budget is None or not missing:
            return None
        from pytest_punie.budget import budget_stop_message

        need = self.rates.seconds_for(self.rate_kind, len(missing)) if self.rates is not None else None
        if self.budget.allows(need):
            self.budget.begin(self.rate_kind, len(missing))
            return None
        return budget_stop_message(f"generate {suite.name}: {len(missing)} prompts", need, self.budget)

    def _under_paraphrases(
        self, suite: Suite, todo: list[Prompt], requests: list[ChatRequest], records: list[ResponseRecord]
    ) -> None:
        """The first position under each of the suite's system-prompt paraphrases: one greedy token
        per prompt and paraphrase, kept beside the response's own (``first_position_variants``)."""
        from pytest_punie.suite.suitetypes import chat_messages

        variants = list(suite.extra["system_prompt_variants"])
        asks = [
            ChatRequest(
                f"{r.key}@sys{i}",
                chat_messages(text, p.query),
                replace(r.sampling, temperature=0.0, max_tokens=1, seed=None),
            )
            for i, text in enumerate(variants, start=1)
            for p, r in zip(todo, requests, strict=True)
        ]
        answers = {a.key: rec for a, rec in zip(asks, self.backend.complete(asks), strict=True)}
        for r, record in zip(requests, records, strict=True):
            punie = (record.response or {}).get("punie")
            if punie is None:
                continue
            punie["first_position_variants"] = [
                ((answers[f"{r.key}@sys{i}"].response or {}).get("punie") or {}).get("first_position")
                for i in range(1, len(variants) + 1)
            ]

    def _reporter(
        self, suite: Suite, todo: list[Prompt], requests: list[ChatRequest]
    ) -> Callable[[ChatRequest, ResponseRecord, bool], None] | None:
        """A line per response as it completes: id, both scores, label, seconds, a running count."""
        progress = self.progress
        if progress is None:
            return None
        prompts = {r.key: p for r, p in zip(requests, todo, strict=True)}
        rate = GenerationRate(len(prompts))
        budget = self.budget

        def whole_run() -> str:
            return "" if budget is None else "; " + budget.run_line(rate.eta_s())

        def on_result(req: ChatRequest, record: ResponseRecord, from_cache: bool) -> None:
            prompt = prompts.get(req.key)
            if prompt is None:
                return
            rate.add(prompt.id, record, from_cache)
            r = judge_prompt(suite.path, suite, prompt, [record])
            what = f"no response: {record.error}" if record.error and record.response is None else r.label
            took = " cached " if from_cache else f"{record.seconds or 0:6.2f} s"
            first = ((record.response or {}).get("punie") or {}).get("first_position")
            lock = ""
            if first:  # how close the first token was to going the other way
                from pytest_punie.backends.firstposition import lock_of

                m = lock_of(first, prompt.expect.kind != "direct")
                lock = f"  P(open) {m['p_opener']:.2f} {m['margin']:+5.1f} nats"
            progress(
                f"{'PASS' if r.passed else 'MISS'} {prompt.id:<10} {prompt.category:<14} "
                f"legacy {float(r.scores['legacy']):.2f}  strict {float(r.scores['strict']):.2f}  "
                f"{what:<18} {took}{lock}  [{rate.done}/{len(prompts)}]{rate.describe()}{whole_run()}"
            )

        return on_result

    def close(self) -> None:
        """Closes the backend."""
        self.backend.close()
