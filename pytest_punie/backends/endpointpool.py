"""Several endpoints serving one model as one backend (a pool): they must answer for the same model,
and requests go to whichever endpoint is free (the client's dispatch gives up an endpoint that is
gone and sends its prompts to the others)."""

from __future__ import annotations

from typing import Any

from pytest_punie.backends import ChatRequest, OnResult, ResponseRecord
from pytest_punie.backends.httpclient import HttpBackend, complete_over


class EndpointPool:
    """Several OpenAI-compatible endpoints serving one model (several ``mlx_lm server``s, a vLLM or
    llama.cpp pool): one run's requests spread over them, each endpoint at most its own concurrency."""

    def __init__(self, backends: list[HttpBackend], reported: list[list[str] | str] | None = None):
        self.backends = backends
        self.reported = reported or [b.reported_models() for b in backends]  # /v1/models at the start
        self.changed: list[dict[str, Any]] = []  # endpoints whose /v1/models changed during the run

    def identity(self) -> dict[str, Any]:
        """Every endpoint of the pool, so a result says which servers could have answered it; those
        given up (and why), and those whose served models changed during the run."""
        out: dict[str, Any] = {
            "backend": "http-pool",
            "url": ", ".join(b.url for b in self.backends),
            "served_model": self.backends[0].model,
            "endpoints": [
                {"url": b.url, "model": b.model, "connections": b.connections, **({"lost": b.lost} if b.lost else {})}
                for b in self.backends
            ],
        }
        if self.changed:
            out["endpoints_changed"] = list(self.changed)
        return out

    def disagreement(self, reported: list[list[str] | str]) -> str | None:
        """Why these endpoints are not one model (None: they agree as far as can be checked): the
        names requests carry, and the models each endpoint says it serves (``/v1/models``)."""
        names = {b.model for b in self.backends}
        if len(names) > 1:
            first = self.backends[0]
            other = next(b for b in self.backends if b.model != first.model)
            return (
                f"endpoints answer for different models: {first.url} for {first.model!r}, "
                f"{other.url} for {other.model!r}; one run evaluates one model"
            )
        for b, models in zip(self.backends, reported, strict=True):
            if isinstance(models, list) and b.model not in models:
                agree = [
                    x.url for x, m in zip(self.backends, reported, strict=True) if isinstance(m, list) and x.model in m
                ]
                return (
                    f"endpoint {b.url} serves {', '.join(repr(m) for m in models) or 'no model'} (its /v1/models), "
                    f"not {b.model!r}"
                    + (f", which {', '.join(agree)} serve{'s' if len(agree) == 1 else ''}" if agree else "")
                    + "; every endpoint of one run must serve the same model"
                )
        return None

    def complete(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ResponseRecord]:
        """The requests shared out over every endpoint, each within its own concurrency; then each endpoint
        still there is asked again what it serves (one restarted on another model makes the run INVALID)."""
        out = complete_over(self.backends, requests, on_result)
        for b, before in zip(self.backends, self.reported, strict=True):
            after = b.reported_models() if b.lost is None else before
            if isinstance(before, list) and isinstance(after, list) and sorted(after) != sorted(before):
                change = {"url": b.url, "before": before, "after": after}
                if change not in self.changed:
                    self.changed.append(change)
        return out

    def close(self) -> None:
        """Nothing to release: the endpoints' clients close with each complete()."""
        pass
