"""The suite as typed data: what is asked, what is expected, what is judged."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any

_OPS: dict[str, Callable[[Any, Any], bool]] = {">=": operator.ge, ">": operator.gt}

# the historical script whose rules the legacy scorer reproduces: Phase 33's keywords in the
# extracted program, or Phase 26's markers in the raw text
LEGACY_RULES = ("phase33", "phase26")
DEFAULT_STOP = ("<|im_end|>", "<|endoftext|>")  # ChatML's end of turn and end of text
# pipeline expectations a suite (pipeline_expect:) or a registry entry (expect) may pre-register
EXPECT_KEYS = (
    "min_loss_decrease",
    "warn_final_loss_above",
    "max_final_train_loss",
    "max_final_val_loss",
    "min_val_reduction",
    "planned_iters",
    "min_bits",
    "low_bits_on_purpose",
    "eos_token",
    "max_kl_mean",
    "min_top1_agreement",
    "max_kl_share_of_base",
)


def chat_messages(system: str | None, user: str) -> tuple[dict[str, str], ...]:
    """The chat one query is asked as: [system, user] (no system message when None)."""
    return (*([{"role": "system", "content": system}] if system else []), {"role": "user", "content": user})


@dataclass(frozen=True)
class Threshold:
    """A pre-registered bound: an operator and a value in [0, 1].

    Values are kept as exact fractions so that 5.4 / 9 >= 0.60 holds the way
    the people who registered it meant it, not the way binary floats round.
    """

    op: str
    value: Fraction
    text: str

    def holds(self, score: Fraction) -> bool:
        """Whether a score meets the pre-registered threshold."""
        return _OPS[self.op](score, self.value)

    def __str__(self) -> str:
        return f"{self.op} {float(self.value) * 100:.1f}%"


@dataclass(frozen=True)
class Sampling:
    """How a prompt is generated: temperature, top_p, budget, stops, deadline, seed."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    timeout_s: float = 120.0
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The sampling as documents and cache keys record it."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "timeout_s": self.timeout_s,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Expectation:
    """What a correct answer does.

    ``tools`` are the sandbox functions the strict scorer wants called through
    the wrapper; ``keywords`` are the substrings the legacy scorer looks for.
    ``match`` is ``any`` (one of them) or ``all`` (every one). ``direct``: no
    tool call is the correct outcome (a concept question is answered in words).
    ``fields`` are result fields the program must read, ``fields_match`` says
    whether one of them is enough. ``legacy_rules`` names the script whose
    rules the legacy scorer follows (the suite's, copied onto each prompt).
    ``mentions``: facts the final answer states, as references to a tool's
    real result (``typecheck.error_count``); ``state``: a file the workspace
    holds after the writes (``file``, and what it ``contains`` or ``lacks``).
    """

    tools: tuple[str, ...]
    keywords: tuple[str, ...]
    match: str = "any"
    args: dict[str, dict[str, str]] = field(default_factory=dict)
    fields: tuple[str, ...] = ()
    fields_match: str = "all"
    direct: bool = False
    legacy_rules: str = "phase33"
    mentions: tuple[str, ...] = ()
    state: dict[str, str] = field(default_factory=dict)

    def describe(self, wrapper: str = "execute_code") -> str:
        """What a correct answer does, in the words a failure message uses."""
        if self.direct:
            return "a direct answer in words (no tool call)"
        text = (" and " if self.match == "all" else " or ").join(self.tools) + f" (called through {wrapper})"
        if self.fields:
            joined = (" or " if self.fields_match == "any" else " and ").join(self.fields)
            text += f", its program reading {joined}"
        return text

    @property
    def kind(self) -> str:
        """The Phase 26 query type: ``direct``, ``field_access`` or ``tool``."""
        return "direct" if self.direct else "field_access" if self.fields else "tool"


@dataclass(frozen=True)
class Prompt:
    """One prompt of a suite: its query, what it expects and where it is written."""

    id: str
    category: str
    query: str
    expect: Expectation
    max_tokens: int | None
    critical: bool
    line: int


@dataclass(frozen=True)
class Category:
    """A category of prompts with its pre-registered threshold and regression allowance."""

    name: str
    threshold: Threshold
    max_regression: Fraction | None
    line: int


@dataclass(frozen=True)
class Metric:
    """A suite-level number over a named set of prompts (the field access rate
    over the field-access queries), with its own pre-registered threshold."""

    name: str
    description: str
    prompts: tuple[str, ...]  # prompt ids, in suite order
    threshold: Threshold
    max_regression: Fraction | None
    line: int


@dataclass(frozen=True)
class Suite:
    """An eval suite as loaded: prompts, categories, thresholds, sampling, its digest."""

    name: str
    path: str
    digest: str
    description: str
    system_prompt: str
    sampling: Sampling
    primary_scorer: str
    threshold_metric: str
    pass_score: Fraction
    overall: Threshold
    overall_max_regression: Fraction | None
    categories: dict[str, Category]
    prompts: tuple[Prompt, ...]
    tool_surface: str | None
    line_of_overall: int
    extra: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    legacy_rules: str = "phase33"

    def prompt(self, prompt_id: str) -> Prompt:
        """A prompt by id (a dict made once: a 50,000-prompt suite looks each up in constant time)."""
        return self._by_id[prompt_id]

    @cached_property
    def _by_id(self) -> dict[str, Prompt]:
        return {p.id: p for p in self.prompts}

    def datasets(self) -> dict[str, Path]:
        """The training datasets the suite names (``datasets:``), resolved beside it."""
        base = Path(self.path).parent
        return {name: (base / rel).resolve() for name, rel in self.extra.get("datasets", {}).items()}

    def sampling_for(self, prompt: Prompt) -> Sampling:
        """The suite's sampling with the prompt's own budget, where it has one."""
        if prompt.max_tokens is None:
            return self.sampling
        from dataclasses import replace

        return replace(self.sampling, max_tokens=prompt.max_tokens)
