"""In-process mlx-lm generation with continuous batching (the default).

All prompts of a run go through one ``BatchGenerator``: at temperature 0 the
token ids equal one-by-one generation. The prompts of a suite share their system
prompt: its KV cache is computed once and given to every sequence
(benchmarks/generation_steps.py measures what that saves). How many generate at
once is sized from the measured step cost (backends/window.py), so that each
prompt's own ``timeout_s``, counted from when it is scheduled, stays honest; a
prompt cut by its limit keeps the text it wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_punie.backends import ChatRequest, OnResult, ResponseRecord, completion_dict
from pytest_punie.backends.window import Admission, PromptState, plan_line


@dataclass
class _Sequence:
    """A scheduled prompt: its index in the group, when its clock started, its tokens so far."""

    index: int
    started: float
    tokens: list[int] = field(default_factory=list)
    steps: int = 0  # decode steps that produced a token for it (its stop token included): never two for one token
    first: Any = None  # the log-softmax at the first generated position
    along: list[Any] = field(default_factory=list)  # log-probability of wrapper token j at position j, kept
    # (lazily) while the answer so far is the wrapper's first j tokens: those positions are the wrapper's own
    follows: bool = True  # whether every token so far is the wrapper's
    cache: Any = None  # its KV cache as the generator gave it back when it finished (None: cut, or running)


@dataclass
class _Ending:
    """A sequence that ended in a step: why, the stop token it ended on, and the cut message if it was cut."""

    uid: int
    reason: str
    stop_token: int | None = None
    cut: str | None = None


class InProcessBackend:
    """mlx-lm's batch generator in this process: the model under test loaded once, prompts generated in windows."""

    MIN_SHARED_PREFIX = 16  # tokens: below this, prefilling the prefix once saves nothing worth a step

    def __init__(self, model_path: str | Path, identity: dict[str, Any] | None = None, share_prefix: bool = True):
        self.model_path = Path(model_path)
        self.share_prefix = share_prefix
        self.shared_prefix_tokens: list[int] = []  # per group of the last complete(): tokens prefilled once
        self._identity = identity or {"path": str(self.model_path)}
        self._model: Any = None
        self._tokenizer: Any = None
        self.last_token_ids: dict[str, list[int]] = {}
        self.decode_steps: dict[str, int] = {}  # per request of this backend: decode steps that made its tokens
        self.decoded_tokens = 0  # every token the generator decoded, for any sequence (kept or not)
        self.wrapper_tokens_run: dict[str, int] = {}  # per request: tokens the wrapper likelihood ran itself
        self.lock_seconds = 0.0  # spent on the format lock's own forward passes (the wrapper), not on answers
        self.widths: list[list[int]] = []  # per group of the last complete(): sequences running after each admission
        self.max_batch = 32  # mlx-lm's completion batch size: the window never exceeds it
        self.note: Callable[[str], None] | None = None  # the scheduling plan, said as it changes

    def identity(self) -> dict[str, Any]:
        """The in-process backend and the BLAS it computes with, on top of the model's identity."""
        return {**self._identity, "backend": "in-process", "blas": self._blas()}

    def _blas(self) -> str:
        from pytest_punie.blas import blas_name

        return blas_name()

    def load(self) -> None:
        """Loads the model and tokenizer on first use (so importing the plugin loads nothing)."""
        if self._model is None:
            from pytest_punie.blas import preload

            preload()
            from mlx_lm import load

            self._model, self._tokenizer = load(str(self.model_path))[:2]

    def encode_prompt(self, messages: tuple[dict[str, str], ...]) -> list[int]:
        """The prompt's tokens exactly as the chat template renders it, generation prompt included."""
        self.load()
        return list(self._tokenizer.apply_chat_template(list(messages), add_generation_prompt=True))

    def opener_id(self) -> int | None:
        """The model's own token for the call format's opener (``<tool_call>``); None unless it is one token."""
        self.load()
        start = getattr(self._tokenizer, "tool_call_start", None) or "<tool_call>"
        ids = self._tokenizer.encode(start, add_special_tokens=False)
        return int(ids[0]) if len(ids) == 1 else None

    def _stop_sequences(self, stop: tuple[str, ...]) -> list[list[int]]:
        seqs = [[t] for t in self._tokenizer.eos_token_ids]
        for s in stop:
            ids = self._tokenizer.encode(s, add_special_tokens=False)
            if ids and ids not in seqs:
                seqs.append(ids)
        return seqs

    def complete(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ResponseRecord]:
        """Every request generated, grouped by sampling, each reported as it finishes."""
        self.load()
        import mlx.core as mx
        from mlx_lm.generate import BatchGenerator
        from mlx_lm.sample_utils import make_sampler

        out: dict[str, ResponseRecord] = {}
        self.shared_prefix_tokens = []
        self.widths = []
        groups: dict[tuple[Any, ...], list[ChatRequest]] = {}
        for req in requests:
            s = req.sampling
            groups.setdefault((s.temperature, s.top_p, s.stop, s.seed), []).append(req)
        for (temperature, top_p, stop, seed), reqs in groups.items():
            if seed is not None:
                mx.random.seed(seed)
            sampler = make_sampler(temp=temperature, top_p=top_p if top_p < 1.0 else 0.0)
            stops = self._stop_sequences(stop)
            gen = BatchGenerator(self._model, stop_tokens=stops, sampler=sampler)
            try:
                self._run_group(gen, reqs, stops, out, on_result)
            finally:
                gen.close()
        return [out[r.key] for r in requests]

    def _run_group(
        self,
        gen: Any,
        reqs: list[ChatRequest],
        stops: list[list[int]],
        out: dict[str, ResponseRecord],
        on_result: OnResult | None,
    ) -> None:
        """Generate one sampling group through a window of sequences: each prompt's clock starts
        when it is scheduled and its own ``timeout_s`` cuts it alone, keeping what it wrote."""
        group = _Group(self, gen, reqs, stops, out, on_result)
        group.schedule()
        while group.running and group.step():
            group.schedule()
        group.drain()

    def _wrapper_likelihood(
        self,
        prompt: list[int],
        prefix: list[Any] | None,
        wrapper: list[int],
        after_prompt: _AfterPrompt | None = None,
        key: str = "",
    ) -> dict[str, Any]:
        """Teacher-forced log-likelihood of the whole wrapper prefix (opener, function, parameter)
        after one prompt (``prompt`` without the shared prefix). With the sequence's own KV cache
        after its prompt (``after_prompt``) only the wrapper's own tokens are run; without it, one
        forward pass over the prompt and the wrapper. Where the answer itself began with the wrapper's
        tokens, the generator's own log-probabilities at those positions are the wrapper's (the same
        context): only the rest is run."""
        import mlx.core as mx

        if after_prompt is not None and len(after_prompt.known) == len(wrapper):
            picked = mx.stack(after_prompt.known).astype(mx.float32).tolist()  # the answer was the wrapper
            self.wrapper_tokens_run[key] = 0
        elif after_prompt is not None and len(wrapper) > 1:
            k = len(after_prompt.known)  # the cache holds the prompt and wrapper[: k - 1]
            logits = self._model(mx.array(wrapper[k - 1 : -1])[None], cache=after_prompt.cache)[0].astype(mx.float32)
            logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
            rest = logprobs[mx.arange(len(wrapper) - k), mx.array(wrapper[k:])]
            picked = mx.concatenate([mx.stack(after_prompt.known).astype(mx.float32), rest]).tolist()
            self.wrapper_tokens_run[key] = len(wrapper) - k
        else:
            tokens = prompt + wrapper
            cache = _copy_cache(prefix) if prefix is not None else None
            logits = self._model(mx.array(tokens)[None], cache=cache)[0].astype(mx.float32)
            logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
            start = len(tokens) - len(wrapper) - 1  # the position that predicts the opener
            picked = logprobs[mx.arange(start, start + len(wrapper)), mx.array(wrapper)].tolist()
            self.wrapper_tokens_run[key] = len(tokens)
        return self._wrapper_record(wrapper, picked)  # type: ignore[arg-type]  # tolist() of a 1-d array

    def _wrapper_likelihoods(self, afters: dict[str, _AfterPrompt], wrapper: list[int]) -> dict[str, dict[str, Any]]:
        """The wrapper likelihood of several finished sequences from their own KV caches: those that wrote
        the whole wrapper need no forward pass; the others, grouped by how many wrapper tokens they wrote,
        run the rest of it together in one batched pass (their caches merged, left-padded)."""
        import mlx.core as mx
        from mlx_lm.models.cache import KVCache

        out: dict[str, dict[str, Any]] = {}
        by_known: dict[int, list[str]] = {}
        for i, after in afters.items():
            by_known.setdefault(len(after.known), []).append(i)
        for k, group in by_known.items():
            if k == len(wrapper) or len(group) == 1 or len(wrapper) < 2:
                for i in group:
                    out[i] = self._wrapper_likelihood([], None, wrapper, afters[i], i)
                continue
            layers = len(afters[group[0]].cache)
            merged = [KVCache.merge([afters[i].cache[n] for i in group]) for n in range(layers)]
            rest = wrapper[k:]
            tokens = mx.array([wrapper[k - 1 : -1]] * len(group))
            logits = self._model(tokens, cache=merged).astype(mx.float32)
            logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
            at = mx.broadcast_to(mx.array(rest)[None, :, None], (len(group), len(rest), 1))
            picked_rest = mx.take_along_axis(logprobs, at, axis=-1)[..., 0]
            known = mx.stack([mx.stack(afters[i].known) for i in group]).astype(mx.float32)
            rows: list[list[float]] = mx.concatenate([known, picked_rest], axis=1).tolist()  # type: ignore[assignment]
            for i, picked in zip(group, rows, strict=True):
                out[i] = self._wrapper_record(wrapper, picked)
                self.wrapper_tokens_run[i] = len(rest)
        return out

    def _wrapper_record(self, wrapper: list[int], picked: list[float]) -> dict[str, Any]:
        """The wrapper's log-likelihood as a response keeps it."""
        return {
            "text": self._tokenizer.decode(wrapper),
            "tokens": len(wrapper),
            "loglik": round(sum(picked), 6),
            "per_token": [round(x, 6) for x in picked],
        }

    def _prefix_cache(self, prefix: list[int]) -> list[Any] | None:
        """The KV cache after ``prefix``, prefilled once (None: a cache kind we do not copy)."""
        import mlx.core as mx
        from mlx_lm.models.cache import KVCache, make_prompt_cache

        base = make_prompt_cache(self._model)
        if not all(type(c) is KVCache for c in base):
            return None  # rotating, quantized or recurrent caches: every prompt prefilled whole
        self._model(mx.array(prefix)[None], cache=base)
        mx.eval([c.state for c in base])
        return base

    def _record(
        self,
        req: ChatRequest,
        prompt: list[int],
        generated: list[int],
        stops: list[list[int]],
        finish: str,
        stop_token: int | None,
        started: float,
    ) -> ResponseRecord:
        """One finished sequence as the chat.completion a server would return."""
        ids = _trim_stop(generated, stops)
        self.last_token_ids[req.key] = ids
        text = self._tokenizer.decode(ids)
        message, reason = server_message(self._tokenizer, text, "length" if finish == "length" else "stop")
        response = completion_dict(str(self.model_path), message, reason, len(prompt), ids, text)
        if stop_token is not None:
            response["punie"]["stop_token"] = stop_token
        return ResponseRecord(response=response, seconds=round(time.monotonic() - started, 3))

    def close(self) -> None:
        """Drops the model and tokenizer so their memory can go."""
        self._model = self._tokenizer = None


@dataclass
class _AfterPrompt:
    """A finished sequence's own KV cache cut back to its prompt and the wrapper tokens it wrote, and the
    wrapper's log-probabilities known from its own generated positions (at least the opener's)."""

    cache: list[Any]
    known: list[Any]


def _after_prompt(cache: list[Any] | None, prompt_tokens: int, generated: int, known: list[Any]) -> _AfterPrompt | None:
    """The generator's cache of a finished sequence, trimmed back to its prompt and the ``len(known) - 1``
    wrapper tokens it wrote first (None: not a plain KV cache, nothing known, or a cache holding fewer or
    more than the prompt and its ``generated`` tokens: the wrapper is then computed from the prompt). The
    generator may have fed the last token already (it computes a step ahead), so the cache holds the
    prompt and up to all of the generated tokens; the positions kept are the same either way."""
    from mlx_lm.models.cache import KVCache

    if cache is None or not known or not all(type(c) is KVCache for c in cache):
        return None
    keep = prompt_tokens + len(known) - 1
    fed = {c.offset - prompt_tokens for c in cache}
    if len(fed) != 1 or not len(known) - 1 <= next(iter(fed)) <= generated:
        return None
    for c in cache:
        c.trim(c.offset - keep)
    return _AfterPrompt(cache, known)


def _copy_cache(base: list[Any]) -> list[Any]:
    """A sequence's own copy of the shared prefix's KV cache (the arrays are shared until written)."""
    from mlx_lm.models.cache import KVCache

    layers = []
    for c in base:
        copy = KVCache()
        copy.state = (c.keys[..., : c.offset, :], c.values[..., : c.offset, :], c.offset)
        layers.append(copy)
    return layers


def shared_prefix_length(prompts: list[list[int]]) -> int:
    """Tokens every prompt starts with, leaving each at least one token of its own."""
    limit = min(len(p) for p in prompts) - 1
    first = prompts[0]
    n = 0
    while n < limit and all(p[n] == first[n] for p in prompts):
        n += 1
    return max(n, 0)


def server_message(tokenizer: Any, text: str, finish_reason: str) -> tuple[dict[str, Any], str]:
    """The message mlx_lm server would return for this text: tool calls parsed
    out with the model's own tool parser (one that does not parse is dropped,
    as the server drops it), the rest as content. Keeps the legacy scorer's
    view the same whichever backend generated."""
    if not getattr(tokenizer, "has_tool_calling", False) or tokenizer.tool_parser is None:
        return {"role": "assistant", "content": text or None}, finish_reason
    import logging

    from mlx_lm.server import ToolCallFormatter

    from pytest_punie.scoring.parse import split_sections

    body, sections = split_sections(text, tokenizer.tool_call_start, tokenizer.tool_call_end)
    tool_texts = [section for section, _closed in sections]
    message: dict[str, Any] = {"role": "assistant", "content": body or None}
    logging.disable(logging.WARNING)  # "Failed to parse tool call": recorded as served=dropped, not logged
    try:
        calls = ToolCallFormatter(tokenizer.tool_parser, None)(tool_texts)
    finally:
        logging.disable(logging.NOTSET)
    if calls:
        message["tool_calls"] = calls
    if tool_texts and finish_reason == "stop":
        finish_reason = "tool_calls"
    return message, finish_reason


def _trim_stop(ids: list[int], stops: list[list[int]]) -> list[int]:
    """Drop a multi-token stop sequence's leading tokens from the end."""
    for seq in stops:
        if len(seq) > 1 and ids[-(len(seq) - 1) :] == seq[:-1]:
            return ids[: -(len(seq) - 1)]
    return ids


class _Group:
    """One sampling group's generation: its prompts (a shared prefix prefilled once), the window
    of sequences that share a step, who waits and who runs, and each prompt's own clock."""

    def __init__(
        self,
        backend: InProcessBackend,
        gen: Any,
        reqs: list[ChatRequest],
        stops: list[list[int]],
        out: dict[str, ResponseRecord],
        on_result: OnResult | None,
    ):
        from pytest_punie.backends.firstposition import WRAPPER_AFTER_OPENER

        self.backend, self.gen, self.reqs, self.stops, self.out, self.on_result = (
            backend,
            gen,
            reqs,
            stops,
            out,
            on_result,
        )
        self.prompts = [backend.encode_prompt(r.messages) for r in reqs]
        self.opener = backend.opener_id()
        after = backend._tokenizer.encode(WRAPPER_AFTER_OPENER, add_special_tokens=False)
        self.wrapper = [self.opener, *after] if self.opener is not None else []
        k = shared_prefix_length(self.prompts) if backend.share_prefix and len(self.prompts) > 1 else 0
        self.prefix = backend._prefix_cache(self.prompts[0][:k]) if k >= backend.MIN_SHARED_PREFIX else None
        backend.shared_prefix_tokens.append(k if self.prefix is not None else 0)
        self.skip = k if self.prefix is not None else 0
        self.max_tokens = max(r.sampling.max_tokens for r in reqs)
        self.timeout = min(r.sampling.timeout_s for r in reqs)
        self.admission = Admission(limit=backend.max_batch)
        self.waiting = list(range(len(reqs)))  # indices into reqs, in order
        self.running: dict[int, _Sequence] = {}  # uid -> sequence
        self.replan = True  # what fits may have changed: an answer finished, a new width was measured
        self.probing = False  # the first prompt runs alone until one decode step is measured
        self.said_plan = False
        self.widths: list[int] = []
        backend.widths.append(self.widths)

    def schedule(self) -> None:
        """Admit waiting prompts while every prompt, running and new, still fits its own limit (never
        moving a running one out: its tokens are kept); each admitted prompt's clock starts now."""
        if not self.waiting or not self.replan:
            return
        self.replan = False
        now = time.monotonic()
        running = [self._state(seq, now) for seq in self.running.values()]
        waiting = [self._state(_Sequence(i, now), now) for i in self.waiting]
        own = [len(self.prompts[i]) - self.skip for i in self.waiting]
        k = self.admission.how_many(running, waiting, own)
        if k and self.admission.cost.at(1) is None:
            self.probing = True  # the first prompt measures the step cost the rest are admitted by
        for _ in range(k):
            i = self.waiting.pop(0)
            caches = [_copy_cache(self.prefix)] if self.prefix is not None else None
            uid = self.gen.insert([self.prompts[i][self.skip :]], [self.reqs[i].sampling.max_tokens], caches=caches)[0]
            self.running[uid] = _Sequence(i, time.monotonic())
        if k:
            self.widths.append(len(self.running))
        if k and not self.probing:
            self._say_plan()

    def _state(self, seq: _Sequence, now: float) -> PromptState:
        """What the admission planner knows of one prompt."""
        s = self.reqs[seq.index].sampling
        return PromptState(now - seq.started, len(seq.tokens), s.max_tokens, s.timeout_s)

    def step(self) -> bool:
        """One generation step for every running sequence; False when the generator ran dry."""
        with self.gen.stats() as stats:
            responses = self.gen.next_generated()
        if not responses:
            return False
        self.backend.decoded_tokens += stats.generation_tokens
        ended: list[_Ending] = []
        for r in responses:
            seq = self.running.get(r.uid)
            if seq is None:
                continue
            seq.steps += 1
            if not seq.tokens and seq.first is None:
                seq.first = r.logprobs
            j = len(seq.tokens)
            if seq.follows and j < len(self.wrapper):
                seq.along.append(r.logprobs[self.wrapper[j]])  # lazy: read when the sequence finishes
                seq.follows = r.token == self.wrapper[j]
            if r.finish_reason != "stop":
                seq.tokens.append(r.token)
            if r.finish_reason is not None:
                seq.cache = r.prompt_cache
                ended.append(_Ending(r.uid, r.finish_reason, r.token if r.finish_reason == "stop" else None))
        self.finish(ended)
        self._cut_overdue()
        if stats.prompt_tokens and stats.prompt_time > 0:
            self.admission.prefill_s_per_token = stats.prompt_time / stats.prompt_tokens
        if stats.generation_steps:
            if self.admission.cost.observe(len(responses), stats.decode_time / stats.generation_steps):
                self.replan = True  # a width not measured before: what fits may have changed
            if self.probing:
                self.probing = False
                self.replan = True
        return True

    def _cut_overdue(self) -> None:
        """A prompt past its own timeout_s is cut alone, its text kept and marked."""
        now = time.monotonic()
        for uid, seq in list(self.running.items()):
            limit = self.reqs[seq.index].sampling.timeout_s
            if now - seq.started > limit:
                self.gen.remove([uid])
                cut = f"timeout: this prompt's own generation reached timeout_s={limit:g} s after "
                self.finish([_Ending(uid, "length", cut=cut + f"{len(seq.tokens)} tokens (text kept)")])

    def _say_plan(self) -> None:
        """The plan, said once per group when the first measured admission is made (later admissions
        show in each response's running count, not as new lines)."""
        note = self.backend.note
        if note is None or self.said_plan:
            return
        self.said_plan = True
        todo = len(self.waiting) + len(self.running)
        note(plan_line(todo, len(self.running), self.admission, self.max_tokens, self.timeout))

    def finish(self, ended: list[_Ending]) -> None:
        """Sequences end (those of one step together): each record, its first position and wrapper
        likelihood included, is made and reported; the wrappers still to run share one forward pass."""
        if not ended:
            return
        done = []
        for e in ended:
            seq = self.running.pop(e.uid)
            req = self.reqs[seq.index]
            self.backend.decode_steps[req.key] = seq.steps
            self.admission.answer_lengths.append(len(seq.tokens))
            prompt = self.prompts[seq.index]
            record = self.backend._record(req, prompt, seq.tokens, self.stops, e.reason, e.stop_token, seq.started)
            done.append((seq, req, record))
        self.replan = True  # a place is free and the expected length is better known
        paused = time.monotonic()
        self._first_positions([(seq, req, record) for seq, req, record in done if seq.first is not None])
        spent = time.monotonic() - paused
        self.backend.lock_seconds += spent
        for other in self.running.values():
            other.started += spent  # the harness's own forward passes are not charged to the prompts running
        for (_seq, req, record), e in zip(done, ended, strict=True):
            if e.cut is not None:
                record.error = e.cut
                if record.response is not None:
                    record.response["choices"][0]["finish_reason"] = "timeout"
                    record.response["punie"]["cut"] = e.cut
            self.out[req.key] = record
            if self.on_result is not None:
                self.on_result(req, record)

    def _first_positions(self, done: list[tuple[_Sequence, ChatRequest, ResponseRecord]]) -> None:
        """The format lock at the first generated position of each finished sequence, computed before
        its record is reported (and kept in the response cache), so a cached rerun has it too."""
        import mlx.core as mx
        import numpy as np

        from pytest_punie.backends.firstposition import first_position

        if self.opener is None:
            return
        decode = self.backend._tokenizer.decode
        firsts, afters = {}, {}
        for seq, req, record in done:
            if record.response is None:
                continue
            lp = np.array(seq.first.astype(mx.float32))
            t, p = req.sampling.temperature, req.sampling.top_p
            firsts[req.key] = first_position(lp, self.opener, p, lambda i: decode([i]), t)
            afters[req.key] = _after_prompt(seq.cache, len(self.prompts[seq.index]), seq.steps, seq.along)
            seq.cache = None
        own = {key: after for key, after in afters.items() if after is not None}
        wrappers = self.backend._wrapper_likelihoods(own, self.wrapper)
        for seq, req, record in done:
            if req.key not in firsts:
                continue
            wrapper = wrappers.get(req.key)
            if wrapper is None:  # no cache of its own to run from: prompt and wrapper run whole
                wrapper = self.backend._wrapper_likelihood(
                    self.prompts[seq.index][self.skip :], self.prefix, self.wrapper, None, req.key
                )
            firsts[req.key]["wrapper"] = wrapper
            assert record.response is not None
            record.response["punie"]["first_position"] = firsts[req.key]

    def drain(self) -> None:
        """The end of the group: what the generator left unfinished is cut, never silently; what was
        never scheduled is an error."""
        cut = "timeout: generation ended before this prompt finished (text kept)"
        self.finish([_Ending(uid, "length", cut=cut) for uid in list(self.running)])
        for i in self.waiting:
            req = self.reqs[i]
            self.out[req.key] = ResponseRecord(
                None, error="not generated: the batch ended before this prompt was scheduled"
            )
            if self.on_result is not None:
                self.on_result(req, self.out[req.key])
