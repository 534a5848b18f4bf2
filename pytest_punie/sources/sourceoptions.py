"""What the command line and the ini file ask of the response sources, read once from pytest's
config into a frozen value that the factory functions take (never the config itself), and the
``type=`` checks that refuse a bad option value while pytest parses the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


@dataclass(frozen=True)
class SourceOptions:
    """The run's --punie-* values that decide where responses come from and how they are made."""

    root: Path
    """The project's root (pytest's rootpath): the registry, the caches and relative data paths."""
    model: str | None = None
    """--punie-model, else the ini's punie_model: the model to evaluate (a registry name or a path)."""
    responses: str | None = None
    """--punie-responses: recorded responses to score instead of a model."""
    server_urls: tuple[str, ...] = ()
    """--punie-server-url (repeatable): external endpoints serving the model."""
    server_models: tuple[str, ...] = ()
    """--punie-server-model: the model name requests to those endpoints carry."""
    server_concurrency: int | None = None
    """--punie-server-concurrency: requests in flight at once per endpoint."""
    backend: str = "auto"
    """--punie-backend: in-process, a managed server, or auto."""
    prompt_sensitivity: bool = False
    """--punie-prompt-sensitivity: the format lock under the suite's paraphrases too."""
    no_cache: bool = False
    """--punie-no-cache: generate every response, keep none."""
    no_resume: bool = False
    """--punie-no-resume: train from iteration 1, whatever an interrupted build kept."""
    budget: Any = None
    """--punie-budget: the run's time limit (a ``budget.Budget``, counted from when the options were read)."""
    temperature: float | None = None
    """--punie-temperature: the suites' sampling temperature overridden."""
    max_tokens: int | None = None
    """--punie-max-tokens: every prompt's max_tokens overridden."""
    seed: int | None = None
    """--punie-seed: the sampling seed."""
    timeout_scale: float = 1.0
    """--punie-timeout-scale: every prompt's own time limit scaled."""
    repeat: int = 1
    """--punie-repeat: samples per prompt."""
    data: tuple[str, ...] = ()
    """--punie-data: training datasets (the preflight reads their calls)."""
    tokenizer: str | None = None
    """--punie-tokenizer: reads a server's token ids back as text."""
    temperatures: tuple[float, ...] = ()
    """--punie-temperatures: a variant per temperature."""
    checkpoints: str | None = None
    """--punie-checkpoints: an adapter folder whose checkpoints are each a variant."""
    seeds: tuple[int, ...] = ()
    """--punie-seeds: a variant per training seed."""
    bits: tuple[int, ...] = ()
    """--punie-bits: a variant per quantization width, all from the model's one fuse."""
    base: str | None = None
    """--punie-base: the base model the checkpoints were trained on."""
    worker_run_dir: str | None = None
    """Under xdist, the folder the controller made for the run's one shared server."""

    @classmethod
    def from_config(cls, config: pytest.Config) -> SourceOptions:
        """The sources' options read once from pytest's config."""
        opt = config.getoption
        workerinput = getattr(config, "workerinput", None) or {}
        return cls(
            root=Path(config.rootpath),
            model=opt("punie_model") or config.getini("punie_model") or None,
            responses=opt("punie_responses"),
            server_urls=tuple(opt("punie_server_url") or ()),
            server_models=tuple(opt("punie_server_model") or ()),
            server_concurrency=opt("punie_server_concurrency"),
            backend=opt("punie_backend") or "auto",
            prompt_sensitivity=bool(opt("punie_prompt_sensitivity")),
            no_cache=bool(opt("punie_no_cache")),
            no_resume=bool(opt("punie_no_resume")),
            budget=_budget(opt("punie_budget")),
            temperature=opt("punie_temperature"),
            max_tokens=opt("punie_max_tokens"),
            seed=opt("punie_seed"),
            timeout_scale=float(opt("punie_timeout_scale") or 1.0),
            repeat=int(opt("punie_repeat") or 1),
            data=tuple(opt("punie_data") or ()),
            tokenizer=opt("punie_tokenizer"),
            temperatures=tuple(opt("punie_temperatures") or ()),
            checkpoints=opt("punie_checkpoints"),
            seeds=tuple(opt("punie_seeds") or ()),
            bits=tuple(opt("punie_bits") or ()),
            base=opt("punie_base"),
            worker_run_dir=workerinput.get("punie_run_dir"),
        )

    @property
    def uses_model(self) -> bool:
        """Whether this run loads (or builds) a model, rather than replaying or asking a server."""
        return not self.responses and not self.server_urls and bool(self.model)

    def sampling_overrides(self) -> dict[str, Any]:
        """The run's sampling overrides from the command line."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed}


def _budget(text: str | None) -> Any:
    """The run's budget from --punie-budget (None without one)."""
    if not text:
        return None
    from pytest_punie.budget import Budget, parse_duration

    return Budget(parse_duration(text), text)


_KEY = pytest.StashKey[SourceOptions]()


def source_options(config: pytest.Config) -> SourceOptions:
    """The run's SourceOptions, read from the config the first time and kept in its stash."""
    if _KEY not in config.stash:
        config.stash[_KEY] = SourceOptions.from_config(config)
    return config.stash[_KEY]


# -- type= checks: a bad value is a usage error while pytest parses the command line ------------


def temperature_list(value: str) -> tuple[float, ...]:
    """--punie-temperatures 0,0.7: numbers of 0 or more, at least one."""
    try:
        temps = tuple(float(t) for t in value.split(",") if t.strip())
    except ValueError:
        temps = ()
    if not temps or any(not t >= 0 for t in temps):
        raise argparse.ArgumentTypeError(f"expected numbers >= 0 like 0,0.7, got {value!r}")
    return temps


def bits_list(value: str) -> tuple[int, ...]:
    """--punie-bits 4,5,6,8: distinct widths mlx quantizes to (2, 3, 4, 5, 6, 8), at least one."""
    try:
        bits = tuple(int(b) for b in value.split(",") if b.strip())
    except ValueError:
        bits = ()
    if not bits or any(b not in (2, 3, 4, 5, 6, 8) for b in bits) or len(set(bits)) != len(bits):
        raise argparse.ArgumentTypeError(f"expected distinct widths of 2, 3, 4, 5, 6 or 8 like 4,5,6,8, got {value!r}")
    return bits


def seed_list(value: str) -> tuple[int, ...]:
    """--punie-seeds 0,1,2: distinct whole numbers of 0 or more, at least one."""
    try:
        seeds = tuple(int(s) for s in value.split(",") if s.strip())
    except ValueError:
        seeds = ()
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct whole numbers >= 0 like 0,1,2, got {value!r}")
    return seeds


def _one_value(value: str, convert: Callable[[str], T], ok: Callable[[T], bool], wanted: str) -> T:
    """``value`` converted and held to ``ok``; else argparse's error, saying what was wanted."""
    try:
        x = convert(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}") from None
    if not ok(x):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}")
    return x


def positive_int(value: str) -> int:
    """A count (--punie-repeat, --punie-max-tokens, --punie-server-concurrency): a whole number of 1 or more."""
    return _one_value(value, int, lambda n: n >= 1, "a whole number >= 1")


def positive_float(value: str) -> float:
    """A scale (--punie-timeout-scale): a number above 0."""
    return _one_value(value, float, lambda x: x > 0, "a number > 0")


def temperature(value: str) -> float:
    """--punie-temperature: a number of 0 or more."""
    return _one_value(value, float, lambda x: x >= 0, "a number >= 0")
