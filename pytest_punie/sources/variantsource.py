"""The response source of one variant of a sweep: another temperature shares the model's backend; a
training seed, a bits width or an adapter checkpoint is its own model (built through the cache)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError
from pytest_punie.sources import ResponseSource
from pytest_punie.sources.factory import build_guard, resolve_model, with_budget
from pytest_punie.sources.responsecache import kept_responses
from pytest_punie.sources.sourceoptions import SourceOptions


def checkpoint_model(
    opts: SourceOptions, model: Callable[[], Any], checkpoint: Path, log: Callable[[str], None]
) -> Any:
    """One adapter checkpoint, fused into its base and quantized like the model under test."""
    from pytest_punie.models.cache import BuildCache, default_cache_dir
    from pytest_punie.models.resolve import ResolvedModel, build_record, recipe_parts
    from pytest_punie.models.steps import fuse_and_quantize
    from pytest_punie.models.validate import validate_model_dir

    base_opt = opts.base
    bits, group = 5, 64
    if base_opt:
        base = Path(base_opt).resolve()
    else:
        resolved = model()
        entry = resolved.spec_entry
        bits, group = int(entry.get("bits", bits)), int(entry.get("group_size", group))
        recipe_base = recipe_parts(resolved, opts.root)[0]
        if recipe_base is None:
            raise PunieError(None, None, "--punie-checkpoints needs --punie-base PATH (the model has no recipe base)")
        base = recipe_base
    cache = BuildCache(default_cache_dir(opts.root), log=log)
    cache.guard = build_guard(opts)
    from pytest_punie.checks.artifacts import fused_checks

    fused, quant = fuse_and_quantize(cache, base, checkpoint, bits, group, log, check_fused=fused_checks)
    builds = [build_record(a) for a in (fused, quant)]
    return ResolvedModel(
        checkpoint.name,
        quant.path,
        quant.digest,
        validate_model_dir(quant.path),
        builds,
        {"bits": bits, "group_size": group},
    )


def variant_source(
    opts: SourceOptions,
    variant: Any,
    source: Callable[[], Any],
    model: Callable[[], Any],
    log: Callable[[str], None],
    suites: list[Any] | None = None,
) -> ResponseSource:
    """The source for one variant: another temperature shares the model's
    backend; a checkpoint is fused and quantized (cached) into its own model."""
    from pytest_punie.sources.modelsource import ModelSource

    if variant.seed is not None and variant.checkpoint is None:
        from pytest_punie.backends.inprocess import InProcessBackend

        resolved = resolve_model(opts, str(opts.model), log, seed=variant.seed, suites=suites)
        backend: Any = InProcessBackend(resolved.path)
        identity = {**resolved.identity(), "training_seed": variant.seed}
        kept = kept_responses(opts, resolved.digest, "in-process")
    elif variant.bits is not None:
        from pytest_punie.backends.inprocess import InProcessBackend
        from pytest_punie.sources.bits import bits_model

        resolved, sweep = bits_model(opts, model, variant.bits, log, suites, build_guard(opts))
        backend = InProcessBackend(resolved.path)
        identity = {**resolved.identity(), "bits_sweep": sweep}
        kept = kept_responses(opts, resolved.digest, "in-process")
    elif variant.checkpoint is not None:
        from pytest_punie.backends.inprocess import InProcessBackend

        resolved = checkpoint_model(opts, model, variant.checkpoint, log)
        backend = InProcessBackend(resolved.path)
        identity = {**resolved.identity(), "checkpoint": str(variant.checkpoint), "iteration": variant.iteration}
        kept = kept_responses(opts, resolved.digest, "in-process")
    else:
        base = source()
        if not isinstance(base, ModelSource):
            raise PunieError(None, None, "--punie-temperatures needs a model (recorded responses have one temperature)")
        backend, identity, kept = base.backend, base._identity, base.response_cache
    if variant.checkpoint is not None:
        overrides = {}
    elif variant.seed is not None or variant.bits is not None:
        overrides = dict(opts.sampling_overrides())  # the run's sampling, on each seed's own model
    else:
        overrides = dict(getattr(source(), "overrides", {}) or {})
    if variant.temperature is not None:
        overrides["temperature"] = variant.temperature
        if variant.temperature > 0 and overrides.get("seed") is None:
            overrides["seed"] = 0  # sampled, but reproducibly
    out = ModelSource(backend, {**identity, "variant": variant.name}, overrides, response_cache=kept)
    out.timeout_scale = float(opts.timeout_scale or 1.0)
    out.prompt_sensitivity = bool(opts.prompt_sensitivity)
    return with_budget(out, opts, str(opts.model))
