"""Where responses come from: recorded files (replay) or a model backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from pytest_punie.backends import Backend, ResponseRecord
from pytest_punie.suite.suitetypes import Prompt, Suite

if TYPE_CHECKING:
    from pytest_punie.sources.responsecache import ResponseCache


class MissingResponse(Exception):
    """No response exists for a prompt: the item errors, it is not a zero."""


class ResponseSource(Protocol):
    """Where items get responses from: a model, a server or a replay file. What the session
    and the items read or set on any source is declared here, never probed for."""

    progress: Callable[[str], None] | None  # one line per response as it completes (None: silent)
    timeout_scale: float  # --punie-timeout-scale: every prompt's own time limit, scaled
    prompt_sensitivity: bool  # --punie-prompt-sensitivity: the format lock under the suite's paraphrases
    completed: int  # responses generated whole in this run (what an interruption leaves kept)

    @property
    def backend(self) -> Backend | None:
        """What generates the responses; None for recorded ones (replay)."""
        ...

    @property
    def response_cache(self) -> ResponseCache | None:
        """Responses kept across runs (None: --punie-no-cache, replay, or no artifact)."""
        ...

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
