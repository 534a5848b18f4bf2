"""Where responses come from: recorded files (replay) or a model backend."""

from __future__ import annotations

from typing import Any, Protocol

from pytest_punie.backends import ResponseRecord
from pytest_punie.suite.model import Prompt, Suite


class MissingResponse(Exception):
    """No response exists for a prompt: the item errors, it is not a zero."""


class ResponseSource(Protocol):
    """Where items get responses from: a model, a server or a replay file."""

    def identity(self) -> dict[str, Any]:
        """What produced the responses (kind, path, digest, backend)."""
        ...

    def get(self, suite: Suite, prompt: Prompt, batch: list[Prompt], sample: int = 0) -> ResponseRecord:
        """The response to ``prompt`` (``sample`` i of --punie-repeat); ``batch`` are
        the prompts of this suite this process will ask for, generated together."""
        ...

    def close(self) -> None:
        """Releases what the source holds."""
        ...
