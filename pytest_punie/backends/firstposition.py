"""How close a prompt is to losing (or wrongly taking) the Code Mode wrapper, measured without
sampling: the log-softmax at the first generated position, where the answer either opens with
the call format's opener token (``<tool_call>``) or does not.

A greedy pass hides the question: a prompt whose opener has probability 0.51 passes exactly like
one at 0.999. Here each prompt keeps P(opener), the runner-up and the margin in nats, and
P(opener) after mlx-lm's own sampler at several temperatures (its top_p is applied to the
untempered log-probabilities, then the temperature: the same order as ``make_sampler``).
"""

from __future__ import annotations

import math
from typing import Any

TEMPERATURES = (0.1, 0.3, 0.5, 0.7, 1.0)
# the Code Mode call's opening as the training data and mlx-lm's qwen3_coder format write it
WRAPPER_AFTER_OPENER = "<function=execute_code>\n<parameter=code>\n"
TOP = 5


def nucleus_mask(logprobs: Any, top_p: float) -> Any:
    """mlx-lm's ``apply_top_p`` in numpy: tokens outside the nucleus get -inf."""
    import numpy as np

    if not 0 < top_p < 1.0:
        return logprobs
    order = np.sort(logprobs)
    probs = np.exp(order.astype(np.float64))
    above = np.cumsum(probs[::-1])[::-1] - probs  # mass strictly above each sorted position
    total = above[0] + probs[0]
    dropped = int((above >= top_p * total).sum())
    threshold = order[dropped]
    return np.where(logprobs < threshold, -np.inf, logprobs)


def opener_probability(logprobs: Any, opener: int, temperature: float, top_p: float = 1.0) -> float:
    """P(the opener is sampled first) at ``temperature`` with ``top_p``, from the log-softmax."""
    import numpy as np

    masked = nucleus_mask(np.asarray(logprobs, dtype=np.float64), top_p)
    if temperature <= 0:
        return 1.0 if int(np.argmax(masked)) == opener else 0.0
    scaled = masked / temperature
    scaled = scaled - np.max(scaled)
    p = np.exp(scaled)
    return float(p[opener] / p.sum())


def first_position(logprobs: Any, opener: int, top_p: float, decode: Any, temperature: float = 0.0) -> dict[str, Any]:
    """What the response records about its first generated position (plain numbers, JSON-ready);
    P(opener) at the usual temperatures and at the request's own."""
    import numpy as np

    lp = np.asarray(logprobs, dtype=np.float64)
    top = np.argsort(-lp)[: TOP + 1]
    runner = next(int(t) for t in top if int(t) != opener)
    return {
        "opener_id": opener,
        "logp_opener": round(float(lp[opener]), 6),
        "runner_up_id": runner,
        "runner_up": decode(runner),
        "logp_runner_up": round(float(lp[runner]), 6),
        "top": [[int(t), decode(int(t)), round(float(lp[t]), 6)] for t in top[:TOP]],
        "top_p": top_p,
        "p_opener_at": {
            f"{t:g}": round(opener_probability(lp, opener, t, top_p), 6)
            for t in sorted({*TEMPERATURES, *([temperature] if temperature > 0 else [])})
        },
        "source": "in-process: the full log-softmax (after logits processors, before temperature)",
    }


def lock_of(first: dict[str, Any], expects_call: bool) -> dict[str, Any]:
    """A prompt's format lock: P(opener) and the margin in nats toward the right first token
    (the opener for a call, anything else for a direct answer)."""
    p = math.exp(first["logp_opener"])
    toward_call = first["logp_opener"] - first["logp_runner_up"]
    return {
        "expects_call": expects_call,
        "p_opener": round(p, 6),
        "runner_up": first.get("runner_up"),
        "margin": round(toward_call if expects_call else -toward_call, 6),
        "p_opener_at": first.get("p_opener_at", {}),
        "wrapper_loglik": (first.get("wrapper") or {}).get("loglik"),
        **({"bound": first["bound"]} if first.get("bound") else {}),
        "source": first.get("source", ""),
    }
