"""Generation backends behind one small interface.

Every backend turns chat requests into OpenAI ``chat.completion`` dicts (or
a recorded error), so scoring never knows where a response came from.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pytest_punie.suite.suitetypes import Sampling


@dataclass
class ResponseRecord:
    """A response, or the reason there is none (transport error, timeout)."""

    response: dict[str, Any] | None
    error: str | None = None
    retries: int = 0
    seconds: float | None = None


@dataclass(frozen=True)
class ChatRequest:
    """One prompt as a backend sees it: the messages to send and the sampling to send them with."""

    key: str  # the prompt id (and repeat index), echoed back
    messages: tuple[dict[str, str], ...]
    sampling: Sampling


# called as each request finishes (in the calling thread): live progress
OnResult = Callable[[ChatRequest, ResponseRecord], None]


class Backend(Protocol):
    """What generates responses (in-process mlx-lm, an HTTP server, a pool of servers), as sources use it."""

    def identity(self) -> dict[str, Any]:
        """What answers: the backend kind and where, recorded in every result's provenance."""
        ...

    def complete(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ResponseRecord]:
        """Every request answered (or its error recorded), each reported as it finishes."""
        ...

    def close(self) -> None:
        """Releases what the backend holds (a loaded model, connections)."""
        ...


def completion_dict(
    model: str, message: dict[str, Any], finish_reason: str, prompt_tokens: int, token_ids: list[int], raw_text: str
) -> dict[str, Any]:
    """A chat.completion as a server returns it, plus ``punie``: the token ids
    and raw text of the generation, which scoring and comparisons use."""
    completion_tokens = len(token_ids)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "punie": {"token_ids": token_ids, "raw_text": raw_text},
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
