"""In-process mlx-lm generation with continuous batching (the default).

All prompts of a run go through one ``BatchGenerator``: at temperature 0 the
token ids equal one-by-one generation, in a fraction of the time. The prompts of
a suite share their system prompt: its KV cache is computed once and given to
every sequence (benchmarks/generation_steps.py measures what that saves).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pytest_punie.backends import ChatRequest, OnResult, ResponseRecord, completion_dict


class InProcessBackend:
    MIN_SHARED_PREFIX = 16  # tokens: below this, prefilling the prefix once saves nothing worth a step

    def __init__(self, model_path: str | Path, identity: dict[str, Any] | None = None, share_prefix: bool = True):
        self.model_path = Path(model_path)
        self.share_prefix = share_prefix
        self.shared_prefix_tokens: list[int] = []  # per group of the last complete(): tokens prefilled once
        self._identity = identity or {"path": str(self.model_path)}
        self._model: Any = None
        self._tokenizer: Any = None
        self.last_token_ids: dict[str, list[int]] = {}

    def identity(self) -> dict[str, Any]:
        return {**self._identity, "backend": "in-process", "blas": self._blas()}

    def _blas(self) -> str:
        from pytest_punie.blas import blas_name

        return blas_name()

    def load(self) -> None:
        if self._model is None:
            from pytest_punie.blas import preload

            preload()
            from mlx_lm import load

            self._model, self._tokenizer = load(str(self.model_path))[:2]

    def encode_prompt(self, messages: tuple[dict[str, str], ...]) -> list[int]:
        self.load()
        return list(self._tokenizer.apply_chat_template(list(messages), add_generation_prompt=True))

    def _stop_sequences(self, stop: tuple[str, ...]) -> list[list[int]]:
        seqs = [[t] for t in self._tokenizer.eos_token_ids]
        for s in stop:
            ids = self._tokenizer.encode(s, add_special_tokens=False)
            if ids and ids not in seqs:
                seqs.append(ids)
        return seqs

    def complete(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ResponseRecord]:
        self.load()
        import mlx.core as mx
        from mlx_lm.generate import BatchGenerator
        from mlx_lm.sample_utils import make_sampler

        out: dict[str, ResponseRecord] = {}
        self.shared_prefix_tokens = []
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
            prompts = [self.encode_prompt(r.messages) for r in reqs]
            started = time.monotonic()
            timeout = max(r.sampling.timeout_s for r in reqs)  # the batch shares one overall deadline
            uids = self._insert(gen, prompts, [r.sampling.max_tokens for r in reqs])
            tokens: dict[int, list[int]] = {u: [] for u in uids}
            finish: dict[int, str] = {}
            ended_on: dict[int, int] = {}  # the stop token a sequence ended on (not part of its text)
            by_uid = {uid: (req, prompt) for req, uid, prompt in zip(reqs, uids, prompts, strict=True)}
            while responses := gen.next_generated():
                for r in responses:
                    if r.finish_reason != "stop":
                        tokens[r.uid].append(r.token)
                    else:
                        ended_on[r.uid] = r.token
                    if r.finish_reason is not None:
                        finish[r.uid] = r.finish_reason
                        req, prompt = by_uid[r.uid]
                        out[req.key] = self._record(
                            req, prompt, tokens[r.uid], stops, r.finish_reason, ended_on.get(r.uid), started
                        )
                        if on_result is not None:
                            on_result(req, out[req.key])
                if time.monotonic() - started > timeout:
                    break  # what has not finished by the deadline is a timeout, not an answer
            gen.close()
            for req, uid, _prompt in zip(reqs, uids, prompts, strict=True):
                if uid not in finish:
                    out[req.key] = ResponseRecord(
                        None,
                        error=f"timeout: generation did not finish within timeout_s={timeout:g} s",
                        seconds=round(time.monotonic() - started, 3),
                    )
                    if on_result is not None:
                        on_result(req, out[req.key])
        return [out[r.key] for r in requests]

    def _insert(self, gen: Any, prompts: list[list[int]], max_tokens: list[int]) -> list[int]:
        """Queue the prompts; their common prefix (the system prompt and chat framing)
        prefilled once and its KV cache given to each sequence, when there is one."""
        k = shared_prefix_length(prompts) if self.share_prefix and len(prompts) > 1 else 0
        caches = self._prefix_caches(prompts[0][:k], len(prompts)) if k >= self.MIN_SHARED_PREFIX else None
        if caches is None:
            self.shared_prefix_tokens.append(0)
            return list(gen.insert(prompts, max_tokens))
        self.shared_prefix_tokens.append(k)
        return list(gen.insert([p[k:] for p in prompts], max_tokens, caches=caches))

    def _prefix_caches(self, prefix: list[int], n: int) -> list[list[Any]] | None:
        """``n`` copies of the KV cache after ``prefix`` (None: a cache kind we do not copy)."""
        import mlx.core as mx
        from mlx_lm.models.cache import KVCache, make_prompt_cache

        base = make_prompt_cache(self._model)
        if not all(type(c) is KVCache for c in base):
            return None  # rotating, quantized or recurrent caches: every prompt prefilled whole
        self._model(mx.array(prefix)[None], cache=base)
        mx.eval([c.state for c in base])
        copies = []
        for _ in range(n):
            layers = []
            for c in base:
                copy = KVCache()
                copy.state = (c.keys[..., : c.offset, :], c.values[..., : c.offset, :], c.offset)
                layers.append(copy)
            copies.append(layers)
        return copies

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
        self._model = self._tokenizer = None


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
