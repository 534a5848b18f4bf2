"""OpenAI-compatible HTTP backends: a managed ``mlx_lm server`` or any URL.

Every request names the model under test (a server loads whatever model a
request names: naming ours is how we know it answers for our artifact), and
client concurrency is bounded: mlx_lm server's listen backlog is 5, and a
burst of 27 connections failed with ``httpx.ReadError``. Nothing is retried:
an error is a result.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pytest_punie.backends import ChatRequest, ResponseRecord
from pytest_punie.errors import ModelError

MAX_CONNECTIONS = 8


def request_body(model: str, req: ChatRequest) -> dict[str, Any]:
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
    if s.seed is not None and s.temperature > 0:
        body["seed"] = s.seed  # mlx_lm server turns batching off for seeded requests
    return body


class HttpBackend:
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
        self.connections = connections
        self._identity = identity or {}
        self._decoder: Any = None
        if tokenizer_file is not None and tokenizer_file.is_file():
            from tokenizers import Tokenizer

            self._decoder = Tokenizer.from_file(str(tokenizer_file))

    def _keep_raw(self, body: dict[str, Any], stop: tuple[str, ...]) -> None:
        """Move the token ids out of ``logprobs`` into ``punie`` (with their text).

        The server lists the stop token it ended on; generation output does
        not include it (the in-process backend drops it too)."""
        choices = body.get("choices") or [{}]
        content = (choices[0].pop("logprobs", None) or {}).get("content") or []
        ids = [int(t["id"]) for t in content if isinstance(t, dict) and "id" in t]
        if ids and self._decoder is not None and choices[0].get("finish_reason") != "length":
            last = self._decoder.decode([ids[-1]], skip_special_tokens=False)
            if last in stop or self._decoder.decode([ids[-1]], skip_special_tokens=True) == "":
                ids = ids[:-1]
        if self._decoder is not None:
            body["punie"] = {"token_ids": ids, "raw_text": self._decoder.decode(ids, skip_special_tokens=False)}

    def identity(self) -> dict[str, Any]:
        return {**self._identity, "backend": "http", "url": self.url, "served_model": self.model}

    def _one(self, client: Any, req: ChatRequest) -> ResponseRecord:
        import httpx

        started = time.monotonic()
        try:
            r = client.post(
                f"{self.url}/v1/chat/completions", json=request_body(self.model, req), timeout=req.sampling.timeout_s
            )
        except httpx.HTTPError as exc:
            return ResponseRecord(
                None, error=f"{type(exc).__name__}: {exc}", seconds=round(time.monotonic() - started, 3)
            )
        seconds = round(time.monotonic() - started, 3)
        if r.status_code != 200:
            return ResponseRecord(None, error=f"HTTP {r.status_code}: {r.text[:300]}", seconds=seconds)
        try:
            body = r.json()
        except ValueError:
            return ResponseRecord(None, error=f"response is not JSON: {r.text[:300]}", seconds=seconds)
        answered = body.get("model")
        if answered not in (None, self.model):
            return ResponseRecord(
                None, error=f"server answered for model {answered!r}, not {self.model!r}", seconds=seconds
            )
        self._keep_raw(body, req.sampling.stop)
        return ResponseRecord(body, seconds=seconds)

    def complete(self, requests: list[ChatRequest]) -> list[ResponseRecord]:
        import httpx

        limits = httpx.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)
        with httpx.Client(limits=limits) as client, ThreadPoolExecutor(self.connections) as pool:
            return list(pool.map(lambda r: self._one(client, r), requests))

    def close(self) -> None:
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ManagedServer:
    """``python -m mlx_lm server`` on a free loopback port, owned by this run."""

    def __init__(self, model_path: Path, log_dir: Path | None = None, startup_timeout: float = 180.0):
        self.model_path = Path(model_path)
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="punie-server-"))
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ManagedServer:
        import httpx

        from pytest_punie.blas import subprocess_env

        hf_cache = self.log_dir / "hf-cache"  # /v1/models crashes when the HF cache folder is missing
        hf_cache.mkdir(parents=True, exist_ok=True)
        env = subprocess_env({"HF_HUB_CACHE": str(hf_cache)})
        last = ""
        for _attempt in range(3):
            self.port = free_port()
            log = open(self.log_dir / f"server-{self.port}.log", "wb")
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlx_lm",
                    "server",
                    "--model",
                    str(self.model_path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break  # died: port taken or model unloadable; try again, then report
                try:
                    if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                        if self.proc.poll() is None:  # our process, not another server on that port
                            return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            last = (self.log_dir / f"server-{self.port}.log").read_text(errors="replace")[-800:]
            self.stop()
        raise ModelError(self.model_path, None, f"mlx_lm server did not become ready:\n{last}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def stop_pid(pid: int) -> None:
    """Stop a server another process of this run started."""
    try:
        os.kill(pid, 15)
    except OSError:
        pass
