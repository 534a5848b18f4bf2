"""The OpenAI-compatible HTTP client: one endpoint (a managed ``mlx_lm server`` or any URL), or several
serving one model, as one backend.

Every request names the model under test (a server loads whatever model a
request names: naming ours is how we know it answers for our artifact), and
client concurrency is bounded: mlx_lm server's listen backlog is 5, and a
burst of 27 connections failed with ``httpx.ReadError``. An answer is a result, and so is an
error from a live server (HTTP 500, a malformed reply, the prompt's own deadline): never retried.
An endpoint that is gone (connection refused, reset, closed mid-reply) is given up, and in a pool
its unanswered and in-flight prompts go to the endpoints left, each at most once to each
endpoint and never after its own ``timeout_s`` since it was first sent; every retry is recorded.

One request per greedy prompt: the answer is asked with ``top_logprobs``, which gives the format
lock at its first position. mlx_lm server (0.32) then lists, at every position, the alternatives
in ``argpartition`` order instead of the generated token, so the token ids are read back as each
position's most likely alternative (lowest id on a tie: mlx's argmax), which is what greedy
decoding chose. A sampled answer's token need not be among the alternatives: it is asked with
``logprobs`` only (its ids) and its format lock with a one-token greedy probe beside it.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

from pytest_punie.backends import ChatRequest, OnResult, ResponseRecord

MAX_CONNECTIONS = 8
TOP_LOGPROBS = 11  # the most an OpenAI-compatible server (mlx_lm server included) returns


class EndpointLost(Exception):
    """The endpoint itself is gone (not a result of the prompt): its prompts may go to another."""


def lost_reason(exc: Exception) -> str | None:
    """Why an error means the endpoint is gone (None: it is the prompt's result, e.g. its deadline)."""
    import httpx

    if isinstance(exc, httpx.ConnectError | httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return f"{type(exc).__name__}: {exc}"
    return None


def request_body(model: str, req: ChatRequest) -> dict[str, Any]:
    """The OpenAI-style chat request mlx_lm server expects, with the prompt's own sampling."""
    s = req.sampling
    body: dict[str, Any] = {
        "model": model,
        "messages": list(req.messages),
        "temperature": s.temperature,
        "top_p": s.top_p,
        "max_tokens": s.max_tokens,
        "stop": list(s.stop),
        "logprobs": True,  # the token ids: what the model generated, before the server parses tool calls
    }
    if s.temperature == 0:
        body["top_logprobs"] = TOP_LOGPROBS  # the format lock from the answer itself (module docstring)
    if s.seed is not None and s.temperature > 0:
        body["seed"] = s.seed  # mlx_lm server turns batching off for seeded requests
    return body


def probe_body(model: str, req: ChatRequest) -> dict[str, Any]:
    """One greedy token with the first position's ``top_logprobs``: the format lock of a sampled
    answer, asked apart from it (a sampled token need not be among the alternatives the answer's own
    ``top_logprobs`` would list, so they would lose its ids)."""
    body = request_body(model, req)
    body.update(temperature=0.0, max_tokens=1, top_logprobs=TOP_LOGPROBS)
    body.pop("seed", None)
    return body


class HttpBackend:
    """An OpenAI-compatible chat server (mlx_lm server or another), asked over HTTP with bounded connections."""

    def __init__(
        self,
        url: str,
        model: str,
        identity: dict[str, Any] | None = None,
        connections: int = MAX_CONNECTIONS,
        tokenizer_file: Path | None = None,
    ):
        self.url = url.rstrip("/")
        self.model = model
        self.lost: str | None = None  # why this endpoint was given up in the last complete() (None: it was not)
        self.connections = connections
        self._identity = identity or {}
        self._decoder: Any = None
        if tokenizer_file is not None and tokenizer_file.is_file():
            from tokenizers import Tokenizer

            self._decoder = Tokenizer.from_file(str(tokenizer_file))

    def _keep_raw(self, body: dict[str, Any], stop: tuple[str, ...]) -> tuple[bool, dict[str, Any] | None]:
        """Move the token ids out of ``logprobs`` into ``punie`` (with their text); returns whether the
        reply listed alternatives at every position, and the format lock at the first one.

        The server lists the stop token it ended on; generation output does
        not include it (the in-process backend drops it too)."""
        choices = body.get("choices") or [{}]
        content = (choices[0].pop("logprobs", None) or {}).get("content") or []
        listed = bool(content) and all(isinstance(t, dict) and alternatives(t.get("top_logprobs")) for t in content)
        first = served_first_position(content, self._decoder) if listed else None
        chosen = [greedy_choice(alternatives(t["top_logprobs"])) for t in content] if listed else []
        if listed:
            ids = [i for i in chosen if i is not None] if None not in chosen else []  # a tie: the ids are unknown
        elif any(isinstance(t, dict) and "top_logprobs" in t for t in content):
            ids = []  # alternatives at some positions only: their "id" is an alternative's, not the token
        else:
            ids = [int(t["id"]) for t in content if isinstance(t, dict) and "id" in t]
        if ids and self._decoder is not None and choices[0].get("finish_reason") != "length":
            last = self._decoder.decode([ids[-1]], skip_special_tokens=False)
            if last in stop or self._decoder.decode([ids[-1]], skip_special_tokens=True) == "":
                ids = ids[:-1]
        if self._decoder is not None:
            body["punie"] = {"token_ids": ids, "raw_text": self._decoder.decode(ids, skip_special_tokens=False)}
        return listed, first

    def identity(self) -> dict[str, Any]:
        """The server's URL and served model name on top of what the caller knows of the model."""
        return {**self._identity, "backend": "http", "url": self.url, "served_model": self.model}

    def reported_models(self) -> list[str] | str:
        """What the server says it serves (``/v1/models``), or why that is unknown."""
        import httpx

        try:
            data = httpx.get(f"{self.url}/v1/models", timeout=10).json().get("data")
            return [str(m.get("id")) for m in data if isinstance(m, dict)]
        except (httpx.HTTPError, ValueError, AttributeError, TypeError) as exc:
            return f"unknown ({type(exc).__name__})"

    def _post(self, client: Any, req: ChatRequest) -> tuple[int, bytes]:
        """POST with an overall deadline of ``timeout_s``: a server that trickles
        bytes is cut off at the deadline (httpx's own timeout is per read)."""
        timeout = req.sampling.timeout_s
        deadline = time.monotonic() + timeout
        body = request_body(self.model, req)
        with client.stream("POST", f"{self.url}/v1/chat/completions", json=body, timeout=timeout) as r:
            chunks = []
            for chunk in r.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no complete reply within timeout_s={timeout:g} s (overall deadline)")
            return r.status_code, b"".join(chunks)

    def _probe_first_position(self, client: Any, req: ChatRequest) -> dict[str, Any] | None:
        """The first position's alternatives from a one-token probe (None: the server gave none)."""
        import httpx

        try:
            r = client.post(
                f"{self.url}/v1/chat/completions", json=probe_body(self.model, req), timeout=req.sampling.timeout_s
            )
            content = ((r.json().get("choices") or [{}])[0].get("logprobs") or {}).get("content") or []
        except (httpx.HTTPError, ValueError, AttributeError, TypeError):
            return None
        return served_first_position(content, self._decoder)

    def _one(self, client: Any, req: ChatRequest) -> ResponseRecord:
        import httpx

        started = time.monotonic()
        try:
            status, raw = self._post(client, req)
        except (httpx.HTTPError, TimeoutError) as exc:
            lost = lost_reason(exc)
            if lost is not None:
                raise EndpointLost(lost) from exc
            return ResponseRecord(
                None, error=f"{type(exc).__name__}: {exc}", seconds=round(time.monotonic() - started, 3)
            )
        seconds = round(time.monotonic() - started, 3)
        text = raw.decode("utf-8", errors="replace")
        if status != 200:
            return ResponseRecord(None, error=f"HTTP {status}: {text[:300]}", seconds=seconds)
        try:
            body = json.loads(text)
        except ValueError:
            return ResponseRecord(None, error=f"response is not JSON: {text[:300]}", seconds=seconds)
        malformed = malformed_reply(body)
        if malformed:
            return ResponseRecord(None, error=f"malformed reply ({malformed}): {text[:200]}", seconds=seconds)
        answered = body.get("model")
        if answered not in (None, self.model):
            return ResponseRecord(
                None, error=f"server answered for model {answered!r}, not {self.model!r}", seconds=seconds
            )
        listed, first = self._keep_raw(body, req.sampling.stop)
        if not listed and req.sampling.temperature > 0:
            first = self._probe_first_position(client, req)  # a sampled answer: its lock asked apart
        # greedy: the lock came with the answer, or the server gives no alternatives (not measured)
        if first is not None:
            body.setdefault("punie", {})["first_position"] = first
        if answered is None:  # nothing says which model answered: flagged in the results
            body.setdefault("punie", {})["unnamed_model"] = True
        return ResponseRecord(body, seconds=seconds)

    def complete(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ResponseRecord]:
        """Every request, at most ``connections`` at a time."""
        return complete_over([self], requests, on_result)

    def close(self) -> None:
        """Nothing to release: each complete() opens and closes its own client."""
        pass


def alternatives(top: Any) -> list[tuple[int, float]]:
    """A position's listed alternatives as (token id, log-probability); empty when any is malformed."""
    if not isinstance(top, list):
        return []
    out = []
    for t in top:
        if not isinstance(t, dict) or not isinstance(t.get("id"), int) or not isinstance(t.get("logprob"), int | float):
            return []
        out.append((int(t["id"]), float(t["logprob"])))
    return out


def greedy_choice(top: list[tuple[int, float]]) -> int | None:
    """The token greedy decoding chose at a position, from its listed alternatives: the most likely,
    the lowest id on a tie (mlx's argmax takes the first); None when every listed one ties (a token
    not listed may tie them too, and which one was chosen cannot be known; so always with one listed)."""
    best = max(lp for _, lp in top)
    tied = [i for i, lp in top if lp == best]
    return None if len(tied) == len(top) else min(tied)  # one listed: a tie could never be seen


def served_first_position(content: list[Any], decoder: Any) -> dict[str, Any] | None:
    """The format lock from a server's ``top_logprobs`` at the first position: exact when the opener
    is among the returned tokens; otherwise only a bound (it is below the last one listed), said so."""
    top = (content[0] or {}).get("top_logprobs") if content and isinstance(content[0], dict) else None
    if not top:
        return None
    opener_text = "<tool_call>"
    opener = decoder.token_to_id(opener_text) if decoder is not None else None
    listed = [
        (t.get("id"), str(t.get("token", "")), float(t["logprob"]))
        for t in top
        if isinstance(t, dict) and "logprob" in t
    ]
    listed.sort(key=lambda x: -x[2])

    def is_opener(entry: tuple[Any, str, float]) -> bool:
        return entry[0] == opener if opener is not None and entry[0] is not None else entry[1] == opener_text

    mine = next((e for e in listed if is_opener(e)), None)
    others = [e for e in listed if not is_opener(e)]
    if not others:
        return None
    out: dict[str, Any] = {
        "opener_id": opener,
        "runner_up_id": others[0][0],
        "runner_up": others[0][1],
        "logp_runner_up": round(others[0][2], 6),
        "top": [[e[0], e[1], round(e[2], 6)] for e in listed[:5]],
        "source": f"server top_logprobs (k={len(listed)})",
    }
    if mine is not None:
        out["logp_opener"] = round(mine[2], 6)
    else:  # not among the k listed: below the last one
        out["logp_opener"] = round(listed[-1][2], 6)
        out["bound"] = f"the opener is not among the {len(listed)} tokens returned: log P(opener) <= this value"
    return out


def complete_over(
    backends: list[HttpBackend], requests: list[ChatRequest], on_result: OnResult | None = None
) -> list[ResponseRecord]:
    """Every request, answered by whichever endpoint has a free connection (each endpoint at most
    its own ``connections`` at a time), on daemon threads: a Ctrl-C returns at once (in-flight
    requests are abandoned, never waited for). With several endpoints each response records its own,
    and a lost endpoint's prompts go to the others (module docstring), each retry recorded."""
    return _Dispatch(backends, requests).run(on_result)


class _Dispatch:
    """One complete() over endpoints: the queue of prompts, who answers each, which endpoints are lost."""

    def __init__(self, backends: list[HttpBackend], requests: list[ChatRequest]):
        self.backends, self.requests = backends, requests
        self.results: list[ResponseRecord | None] = [None] * len(requests)
        self.todo: queue.Queue[int] = queue.Queue()
        for i in range(len(requests)):
            self.todo.put(i)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.lost: dict[str, str] = {}  # endpoint url -> why it was given up
        self.tried: list[list[dict[str, str]]] = [[] for _ in requests]  # per request: endpoints that failed it
        self.first_sent: list[float | None] = [None] * len(requests)
        self.busy = 0  # requests being answered now (an idle worker waits while any may come back)

    def give_back(self, i: int, backend: HttpBackend, why: str) -> None:
        """A request its endpoint lost (called holding the lock): to another endpoint if one is left in
        time, else its error; with no endpoint left, what still waits is not sent, and says why."""
        req = self.requests[i]
        self.tried[i].append({"endpoint": backend.url, "reason": why})
        failed = {t["endpoint"] for t in self.tried[i]}
        left = [b for b in self.backends if b.url not in self.lost and b.url not in failed]
        sent = self.first_sent[i] or time.monotonic()
        if left and time.monotonic() - sent < req.sampling.timeout_s:
            self.todo.put(i)
            return
        gone = "; ".join(f"{url}: {reason}" for url, reason in self.lost.items())
        if len(self.backends) == 1:
            self.results[i] = ResponseRecord(None, error=why)
        elif len(self.lost) == len(self.backends):
            self.results[i] = ResponseRecord(None, error=f"not answered: every endpoint was lost ({gone})")
        else:
            tries = "; ".join(f"{t['endpoint']}: {t['reason']}" for t in self.tried[i])
            self.results[i] = ResponseRecord(
                None, error=f"not answered within timeout_s={req.sampling.timeout_s:g} s of retries ({tries})"
            )
        if len(self.lost) == len(self.backends):
            while not self.todo.empty():
                j = self.todo.get_nowait()
                self.results[j] = ResponseRecord(None, error=f"not sent: every endpoint was lost ({gone})")

    def next_for(self, backend: HttpBackend) -> int | None:
        """The next request for this endpoint's worker (None: its work is over, or the endpoint is lost)."""
        while not self.stopping.is_set():
            with self.lock:
                if backend.url in self.lost:
                    return None
            try:
                i = self.todo.get(timeout=0.05)
            except queue.Empty:
                with self.lock:
                    if self.busy == 0 and self.todo.empty():
                        return None
                continue
            with self.lock:
                if backend.url in self.lost:  # lost while this one waited: back for another endpoint
                    self.give_back(i, backend, self.lost[backend.url])
                    continue
                self.busy += 1
                self.first_sent[i] = self.first_sent[i] or time.monotonic()
            return i
        return None

    def work(self, backend: HttpBackend, client: Any) -> None:
        """One connection's worker: requests one after another until none is left or the endpoint is lost."""
        while (i := self.next_for(backend)) is not None:
            try:
                record = backend._one(client, self.requests[i])
            except EndpointLost as exc:
                with self.lock:
                    self.lost.setdefault(backend.url, str(exc))
                    self.busy -= 1
                    self.give_back(i, backend, str(exc))
                return
            if record.response is not None and len(self.backends) > 1:
                record.response.setdefault("punie", {})["endpoint"] = backend.url
                if self.tried[i]:
                    record.response["punie"]["retries"] = list(self.tried[i])
            record.retries = len(self.tried[i])
            with self.lock:
                self.results[i] = record
                self.busy -= 1

    def run(self, on_result: OnResult | None) -> list[ResponseRecord]:
        """Every endpoint's workers started; results reported from this (the calling) thread as they come."""
        import httpx

        threads, clients = [], []
        for backend in self.backends:
            limits = httpx.Limits(max_connections=backend.connections, max_keepalive_connections=backend.connections)
            client = httpx.Client(limits=limits)
            clients.append(client)
            n = min(backend.connections, len(self.requests))
            threads += [threading.Thread(target=self.work, args=(backend, client), daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        reported: set[int] = set()

        def report() -> None:
            for i, r in enumerate(self.results):
                if r is not None and i not in reported:
                    reported.add(i)
                    if on_result is not None:
                        on_result(self.requests[i], r)

        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
                    report()
            report()
        except BaseException:
            self.stopping.set()
            raise
        for client in clients:
            client.close()
        for b in self.backends:
            b.lost = self.lost.get(b.url)
        return [r if r is not None else ResponseRecord(None, error="not sent") for r in self.results]


def malformed_reply(body: Any) -> str | None:
    """What is wrong with a reply that is JSON but not a chat.completion (None: nothing)."""
    if not isinstance(body, dict):
        return f"a JSON {type(body).__name__}, not an object"
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "no choices[0]"
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return f"choices[0].message is {json.dumps(message)[:40]}, not an object"
    return None
