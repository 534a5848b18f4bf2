"""The run's plan, before its first step: every build step and every generation, cached or to do,
each with its estimate from this machine's measured rates (``budget.Rates``) or "unknown".

The build steps are found by walking the model's own recipe against the build cache without
building anything (``PlanningCache``): a step whose entry is in the cache is cached; the first
missing step and every step after it are to do (their inputs depend on what is not built yet).
A generation is to do for the prompts the response cache does not hold (all of them while the
model itself is to be built).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_punie.budget import Budget, Rates, duration
from pytest_punie.sources.sourceoptions import SourceOptions

# a recipe's steps, in order, by the kind of registry entry (for the steps after the first missing one)
RECIPE_STEPS = {
    "tiny": ["tokenizer", "base-qwen3", "q4", "adapter", "fused", "q{bits}"],
    "lora": ["adapter", "fused", "q{bits}"],
    "adapter": ["fused", "q{bits}"],
    "path": [],
}


@dataclass(frozen=True)
class PlannedWork:
    """One piece of the run's work, as the plan says it."""

    variant: str
    """The variant it belongs to ("" for the model itself)."""
    what: str
    """What it is, in words ("build adapter (60 iterations)", "generate phase33: 27 prompts")."""
    kind: str
    """The rate it is estimated by (``build:adapter``, ``generate:tiny_5bit``)."""
    units: float
    """Units of work (iterations, prompts, 1 for a step)."""
    cached: bool
    """Already done: found in the build or response cache."""
    estimate_s: float | None
    """Seconds it needs on this machine (0 when cached; None: unknown, never measured here)."""

    def line(self) -> str:
        """The plan's line for it."""
        where = f"[{self.variant}] " if self.variant else ""
        if self.cached:
            return f"  {where}{self.what}: cached"
        need = (
            "unknown (not measured on this machine yet)" if self.estimate_s is None else f"~{duration(self.estimate_s)}"
        )
        return f"  {where}{self.what}: to do, {need}"


def estimate(rates: Rates, kind: str, units: float) -> float | None:
    """Seconds for ``units`` of ``kind`` at this machine's measured rate (None: unmeasured)."""
    return rates.seconds_for(kind, units)


def build_steps(opts: SourceOptions, spec: Any, rates: Rates, variant: str) -> tuple[list[PlannedWork], str | None]:
    """The model's build steps, cached or to do; and its final model's digest when it is cached."""
    from pytest_punie.models.cache import default_cache_dir
    from pytest_punie.models.planning import planned_steps

    entry = spec.entry
    kind = (
        "path"
        if "path" in entry
        else "tiny"
        if entry.get("recipe") == "tiny"
        else "lora"
        if "lora" in entry
        else "adapter"
    )
    bits = int(entry.get("bits", 5))
    names = [s.format(bits=bits) for s in RECIPE_STEPS[kind]]
    found, digest, left = planned_steps(spec, opts.root, default_cache_dir(opts.root))
    out = []
    for step in names:
        cached = step in found
        planned = float(_iterations(entry)) if step == "adapter" else 1.0
        units = left.get(step, planned)  # a resumed adapter: only the iterations left
        what = f"build {step}" + (f" ({int(units)} iterations)" if step == "adapter" else "")
        if step in left:
            what = f"build {step} (resumed: {int(units)} of {int(planned)} iterations left)"
        out.append(
            PlannedWork(
                variant,
                what,
                f"build:{step}",
                units,
                cached,
                0.0 if cached else estimate(rates, f"build:{step}", units),
            )
        )
    return out, digest if "path" not in entry else None


def _iterations(entry: dict[str, Any]) -> int:
    """The planned LoRA iterations of an entry (mlx-lm's own default 1000; the tiny recipe's 60)."""
    if entry.get("recipe") == "tiny":
        from pytest_punie.models.tiny.tinyrecipe import lora_params_of

        return int(lora_params_of(entry).get("iters", 1000))
    return int((entry.get("lora") or {}).get("iters", 1000))


def generations(
    prompts: dict[tuple[str, str], int], model_name: str, rates: Rates, cached: Callable[[str, str], int]
) -> list[PlannedWork]:
    """One generation per (suite, variant) with its selected prompts; ``cached(suite, variant)``
    says how many of them the response cache already holds."""
    out = []
    for (suite, variant), n in prompts.items():
        kept = cached(suite, variant)
        todo = n - kept
        kind = f"generate:{model_name}"
        what = f"generate {suite}: {n} prompts" + (f" ({kept} kept in the response cache)" if kept else "")
        out.append(
            PlannedWork(variant, what, kind, float(todo), todo == 0, 0.0 if todo == 0 else estimate(rates, kind, todo))
        )
    return out


def plan_lines(plan: list[PlannedWork], budget: Budget) -> list[str]:
    """The plan as printed before the first step, with its total against the budget."""
    known = sum(w.estimate_s or 0.0 for w in plan if not w.cached)
    unknown = [w for w in plan if not w.cached and w.estimate_s is None]
    lines = [f"plan for --punie-budget={budget.text} ({duration(budget.limit_s)}):", *(w.line() for w in plan)]
    total = f"~{duration(known)}" + (f" plus {len(unknown)} unknown" if unknown else "")
    lines.append(f"  total to do: {total}; budget {duration(budget.limit_s)}")
    return lines


def cannot_fit(plan: list[PlannedWork], budget: Budget) -> list[PlannedWork]:
    """The work that does not fit the budget, in plan order (none: the plan may start)."""
    left = budget.limit_s
    over = []
    for w in plan:
        if w.cached or w.estimate_s is None:
            continue
        left -= w.estimate_s
        if left < 0:
            over.append(w)
    return over


def rates_for(opts: SourceOptions) -> Rates:
    """This machine's rates, from the project's build cache."""
    from pytest_punie.models.cache import default_cache_dir

    return Rates.load(Path(default_cache_dir(opts.root)))


def make_plan(opts: SourceOptions, asked: list[tuple[Any, Any, str]]) -> list[PlannedWork]:
    """The run's plan: each model's build steps (the model itself, or each training seed's), then a
    generation per suite and variant of the prompts ``asked`` ((suite, prompt, variant) of every
    selected item). Variants other than seeds are planned as generations of the model's own build
    (a checkpoint's fuse and quantize is planned as to do: an upper bound)."""
    from pytest_punie.backends import ChatRequest
    from pytest_punie.models.cache import default_cache_dir
    from pytest_punie.models.resolve import resolve_spec, with_seed
    from pytest_punie.sources.modelsource import apply_overrides, messages_for
    from pytest_punie.sources.responsecache import ResponseCache

    if not opts.uses_model:
        return []
    rates = rates_for(opts)
    spec = resolve_spec(str(opts.model), opts.root)
    names = list(dict.fromkeys(v for _s, _p, v in asked))
    seeds = {v: int(v.split("=", 1)[1]) for v in names if v.startswith("seed=")}
    plan: list[PlannedWork] = []
    digests: dict[str, str | None] = {}
    if any(v not in seeds for v in names):
        steps, digests[""] = build_steps(opts, spec, rates, "")
        plan += steps
    for v, seed in seeds.items():
        steps, digests[v] = build_steps(opts, with_seed(spec, seed), rates, v)
        plan += steps
    for v in names:
        if v.startswith("ckpt="):
            for step in ("fused", f"q{int(spec.entry.get('bits', 5))}"):
                plan.append(
                    PlannedWork(
                        v,
                        f"build {step} (upper bound)",
                        f"build:{step}",
                        1.0,
                        False,
                        estimate(rates, f"build:{step}", 1.0),
                    )
                )
    counts: dict[tuple[str, str], int] = {}
    for suite, _prompt, v in asked:
        counts[(suite.name, v)] = counts.get((suite.name, v), 0) + 1
    overrides = opts.sampling_overrides()

    def kept(suite_name: str, variant: str) -> int:
        digest = digests.get(variant) if variant in seeds else None if variant else digests.get("")
        if digest is None or opts.no_cache:
            return 0
        cache = ResponseCache(default_cache_dir(opts.root), digest, "in-process")
        found = 0
        for suite, prompt, v in asked:
            if suite.name == suite_name and v == variant:
                sampling = apply_overrides(suite.sampling_for(prompt), overrides)
                found += cache.get(ChatRequest(f"{prompt.id}#0", messages_for(suite, prompt), sampling)) is not None
        return found

    return plan + generations(counts, str(opts.model), rates, kept)
