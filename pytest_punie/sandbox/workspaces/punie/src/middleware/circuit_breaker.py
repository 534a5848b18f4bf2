"""A circuit breaker around calls to the model server."""

import time


class CircuitBreaker:
    def __init__(self, failures: int = 5, reset_s: float = 30.0):
        self.failures = failures
        self.reset_s = reset_s
        self.opened_at: float | None = None

    def __call__(self, request, call_next):
        if self.opened_at and time.time() - self.opened_at < self.reset_s:
            return {"status": 503}
        return call_next(request)
