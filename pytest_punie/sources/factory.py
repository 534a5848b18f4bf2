"""Build the response source a run asked for: replay, external servers (sources/serversource.py),
or a model resolved (built through its stage gates when missing, sources/stagegates.py) behind the
right backend; the run's budget guards every build and generation."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError
from pytest_punie.sources import ResponseSource
from pytest_punie.sources.responsecache import kept_responses
from pytest_punie.sources.serversource import OwnedServerBackend, external_source, shared_server_url
from pytest_punie.sources.sourceoptions import SourceOptions
from pytest_punie.sources.stagegates import stage_gates


def resolve_model(
    opts: SourceOptions,
    name: str,
    log: Callable[[str], None],
    seed: int | None = None,
    suites: list[Any] | None = None,
) -> Any:
    """The registry entry (or path) as a verified model directory, built through its recipe's
    stage gates when missing; with ``seed``, the recipe trained with that ``mlx_lm lora --seed``."""
    from pytest_punie.models.cache import BuildCache, default_cache_dir
    from pytest_punie.models.resolve import materialize, resolve_spec, with_seed

    root = opts.root
    cache = BuildCache(default_cache_dir(root), log=log)
    cache.guard = build_guard(opts)
    spec = resolve_spec(name, root)
    if seed is not None:
        spec = with_seed(spec, seed)
    if opts.no_resume:
        from dataclasses import replace

        spec = replace(spec, entry={**spec.entry, "resume": False})
    resolved = materialize(spec, root, cache, log, gates=stage_gates(spec.entry, spec.source, suites, root, cache, log))
    if resolved.builds:
        from pytest_punie.models.cachetool import remember_model, usage_line

        remember_model(cache.root, spec.name, [b["path"] for b in resolved.builds])
        if any(b.get("built_now") for b in resolved.builds):
            log(usage_line(cache.root))
    return resolved


def serving_preflight(
    opts: SourceOptions,
    model_path: Path,
    suites: list[Any],
    log: Callable[[str], None],
    digest: str | None = None,
    fix_registry: str | None = None,
) -> Any:
    """The tool-parser preflight, before any generation: which parser mlx-lm
    will apply to this model, and whether it reads the calls it was trained on.
    Its outcome is kept beside the build cache, keyed by the verified model digest,
    the calls and the mlx-lm version: a rerun says the same without importing mlx-lm."""
    from pytest_punie.models.cache import default_cache_dir
    from pytest_punie.provenance import versions_of
    from pytest_punie.serving.calls import call_texts

    data = [Path(d) for d in opts.data]
    texts = call_texts(suites, data, opts.root)
    kept: Path | None = None
    if digest and not opts.no_cache:
        material = json.dumps([digest, versions_of("mlx-lm"), texts, fix_registry], sort_keys=True).encode("utf-8")
        kept = default_cache_dir(opts.root) / "preflight" / f"{hashlib.sha256(material).hexdigest()}.json"
        try:
            entry = json.loads(kept.read_text(encoding="utf-8"))
            for line in entry["lines"]:
                log(line)
            return entry["report"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    from pytest_punie.serving.toolparser import preflight

    report = preflight(model_path, texts, fix_registry)
    if report.passed:
        lines = [
            f"tool-parser preflight: mlx-lm's {report.choice.name} parser reads all "
            f"{report.outcome.total} tool calls of the training data and the suite"
        ]
    else:
        lines = [f"WARNING tool-parser preflight: {line}" for line in report.problems()]
    for line in lines:
        log(line)
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps({"lines": lines, "report": report.to_dict()}), encoding="utf-8")
    return report.to_dict()


def build_guard(opts: SourceOptions) -> Callable[[str, float], None] | None:
    """What the build cache asks before it builds a step: the run's budget, with the step's estimate
    from this machine's rates (None: the run has no budget)."""
    budget = opts.budget
    if budget is None:
        return None
    from pytest_punie.budget import budget_stop_message
    from pytest_punie.errors import ModelError
    from pytest_punie.sources.plan import estimate, rates_for

    def guard(step: str, units: float) -> None:
        need = estimate(rates_for(opts), f"build:{step}", units)
        if not budget.allows(need):
            raise ModelError(None, None, budget_stop_message(f"build {step}", need, budget))
        budget.begin(f"build:{step}", units)

    return guard


def with_budget(source: ResponseSource, opts: SourceOptions, name: str) -> ResponseSource:
    """A model source keeps this machine's generation rate, and checks the run's budget before it generates."""
    if getattr(source, "backend", None) is not None and hasattr(source, "rate_kind"):
        from pytest_punie.sources.plan import rates_for

        source.rates = rates_for(opts)  # type: ignore[attr-defined]
        source.rate_kind = f"generate:{name}"  # type: ignore[attr-defined]
        source.budget = opts.budget  # type: ignore[attr-defined]
    return source


def make_source(
    opts: SourceOptions,
    log: Callable[[str], None],
    model: Callable[[], Any] | None = None,
    suites: list[Any] | None = None,
) -> ResponseSource:
    """The run's response source, with the run's time-limit scale where it generates."""
    source = _make_source(opts, log, model, suites)
    if source.backend is not None:
        source.timeout_scale = float(opts.timeout_scale or 1.0)
        source.prompt_sensitivity = bool(opts.prompt_sensitivity)
    return with_budget(source, opts, str(opts.model))


def _make_source(
    opts: SourceOptions,
    log: Callable[[str], None],
    model: Callable[[], Any] | None = None,
    suites: list[Any] | None = None,
) -> ResponseSource:
    responses = opts.responses
    if responses:
        from pytest_punie.sources.replay import ReplaySource

        return ReplaySource(responses, repeated=(opts.repeat or 1) > 1)
    from pytest_punie.sources.modelsource import ModelSource

    overrides = opts.sampling_overrides()
    if opts.server_urls:
        return external_source(opts, overrides)
    name = opts.model
    if not name:
        raise PunieError(
            None,
            None,
            "no model to evaluate: pass --punie-model NAME|PATH, --punie-responses FILE or "
            "--punie-server-url URL (or set punie_model in [tool.pytest.ini_options])",
        )
    resolved = model() if model is not None else resolve_model(opts, name, log)
    # a model built into the cache is fixed in its registry entry, never inside the cache
    registry = f"[tool.punie.models.{resolved.name}] in {opts.root / 'pyproject.toml'}" if resolved.builds else None
    preflight = serving_preflight(opts, resolved.path, suites or [], log, resolved.digest, registry)
    identity = {**resolved.identity(), "tool_parser": preflight}
    kind = opts.backend
    if kind == "auto":
        kind = "server" if opts.worker_run_dir else "inprocess"
    if kind == "inprocess":
        from pytest_punie.backends.inprocess import InProcessBackend

        kept = kept_responses(opts, resolved.digest, "in-process")
        return ModelSource(InProcessBackend(resolved.path), identity, overrides, response_cache=kept)
    from pytest_punie.backends.httpclient import HttpBackend
    from pytest_punie.backends.managedserver import ManagedServer

    if opts.worker_run_dir:
        url = shared_server_url(Path(opts.worker_run_dir), resolved.path)
        shared = HttpBackend(
            url,
            str(resolved.path),
            {"server": "managed, shared by xdist workers"},
            tokenizer_file=resolved.path / "tokenizer.json",
        )
        kept = kept_responses(opts, resolved.digest, "server")
        return ModelSource(shared, identity, overrides, batch=False, response_cache=kept)
    server = ManagedServer(resolved.path).start()
    http = HttpBackend(
        server.url, str(resolved.path), {"server": "managed"}, tokenizer_file=resolved.path / "tokenizer.json"
    )
    backend = OwnedServerBackend(http, server)
    return ModelSource(backend, identity, overrides, response_cache=kept_responses(opts, resolved.digest, "server"))


def new_run_dir() -> Path:
    """A scratch folder for this run's servers and state."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f"punie-run-{os.getpid()}-"))
