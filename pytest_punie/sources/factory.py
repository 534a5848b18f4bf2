"""Build the response source a run asked for: replay, an external server,
or a model (resolved, built if missing) behind the right backend.

Under xdist one managed server is shared: the first worker that needs it
starts it (file lock + state file in a run directory the controller made),
the others use it, and the controller stops it when the session ends.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError
from pytest_punie.sources import ResponseSource
from pytest_punie.sources.sourceoptions import SourceOptions

SERVER_STATE = "server.json"


def stage_gates(
    entry: dict[str, Any], where: str, suites: list[Any] | None = None, root: Path | None = None, cache: Any = None
) -> Any:
    """The users' exit gates between a recipe's steps: the data lint's errors before training
    (against the suites the data serves, whatever the run selected: ``models.dataserves``; with a
    build ``cache``, findings kept there for the same data, configuration and code), the training
    log (complete, no crash, the pre-registered loss bounds) before fusing, the fused checks (parity
    with base + adapter as trained among them) before quantizing, and parity after quantizing (kept
    in the build cache, so the parity item reads the same figures); ``parity_gate = false`` in the
    entry skips the two parity gates."""
    from dataclasses import replace

    from pytest_punie.checks import trainlog
    from pytest_punie.checks.artifacts import fused_checks
    from pytest_punie.checks.expectations import expectations
    from pytest_punie.datalint import LintConfig, lint_dataset
    from pytest_punie.models.dataserves import suites_serving
    from pytest_punie.models.recipe import GateOutcome, StageGates

    def data_errors(data: Path) -> GateOutcome:
        served = suites_serving(data, root or Path.cwd(), entry.get("suites"), loaded=suites or [])
        config = LintConfig(eval_system_prompts=served.system_prompts)
        if cache is None:
            found = lint_dataset(data, config)
        else:
            from pytest_punie.sources.keptlint import lint_kept

            found, _kept = lint_kept(data, config, cache.root / "datalint", cache.digest)
        problems = [f"{f.where()}: {f.check}: {f.message}" for f in found if f.severity == "error"]
        return GateOutcome(problems, served.record())

    def log_problems(log_file: Path) -> list[str]:
        expect = expectations((entry.get("expect"), f"{where}.expect")).loss
        iters = (entry.get("lora") or entry.get("lora_params") or {}).get("iters")
        if iters is not None and expect.planned_iters is None:
            expect = replace(expect, planned_iters=int(iters))
        return trainlog.judge_training_log(trainlog.parse_training_log(log_file), expect)[0]

    parity = parity_gate(entry, where, suites, root, cache)

    def fused_and_parity(fused: Path, base: Path, adapter: Path) -> dict[str, list[str]]:
        return {**fused_checks(fused, base, adapter), "parity": parity(fused, base, adapter, None)}

    return StageGates(
        data=data_errors,
        train_log=log_problems,
        fused=fused_and_parity,
        quantized=lambda model, base, adapter, bits: parity(model, base, adapter, bits),
    )


def parity_gate(
    entry: dict[str, Any], where: str, suites: list[Any] | None, root: Path | None, cache: Any
) -> Callable[[Path, Path, Path, int | None], list[str]]:
    """The parity stage gate: (model, base, adapter, bits) -> the model's parity problems against base +
    adapter as trained (kept in the build cache: the parity item reads the same figures); none when
    the entry says ``parity_gate = false``."""
    from pytest_punie.checks.expectations import expectations

    def parity(model: Path, base: Path, adapter: Path, bits: int | None) -> list[str]:
        if entry.get("parity_gate") is False:
            return []
        from pytest_punie.checks.paritycheck import gold_from_adapter, judge_parity, kept_parity
        from pytest_punie.models.cache import default_cache_dir

        kept_in = cache.root if cache is not None else default_cache_dir(root or Path.cwd())
        try:
            figures = kept_parity(kept_in, base, adapter, model, gold_from_adapter(adapter))
        except PunieError as err:
            return [err.describe()]
        layers = [(s.extra.get("pipeline_expect"), f"{Path(s.path).name} pipeline_expect") for s in suites or []]
        expect = expectations(*layers, (entry.get("expect"), f"{where}.expect"))
        return judge_parity(figures, bits, expect, str(model))

    return parity


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
    resolved = materialize(spec, root, cache, log, gates=stage_gates(spec.entry, spec.source, suites, root, cache))
    if resolved.builds:
        from pytest_punie.models.cachetool import remember_model, usage_line

        remember_model(cache.root, spec.name, [b["path"] for b in resolved.builds])
        if any(b.get("built_now") for b in resolved.builds):
            log(usage_line(cache.root))
    return resolved


def shared_server_url(run_dir: Path, model_path: Path) -> str:
    """The run's one server: started by whichever worker gets here first."""
    from filelock import FileLock

    from pytest_punie.backends.managedserver import ManagedServer

    state = run_dir / SERVER_STATE
    with FileLock(str(run_dir / "server.lock")):
        if state.is_file():
            info = json.loads(state.read_text())
            if info["model"] != str(model_path):
                raise PunieError(state, None, f"the run's server serves {info['model']}, not {model_path}")
            return str(info["url"])
        server = ManagedServer(model_path, log_dir=run_dir).start()
        assert server.proc is not None
        state.write_text(json.dumps({"url": server.url, "pid": server.proc.pid, "model": str(model_path)}))
        return server.url


def stop_shared_server(run_dir: Path) -> None:
    """Stops the server xdist workers shared, at the end of the run."""
    from pytest_punie.backends.managedserver import stop_pid

    state = run_dir / SERVER_STATE
    if state.is_file():
        stop_pid(int(json.loads(state.read_text())["pid"]))


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


def response_cache(opts: SourceOptions, digest: str | None, backend_kind: str) -> Any:
    """The responses kept for this verified artifact and backend (None: --punie-no-cache)."""
    if not digest or opts.no_cache:
        return None
    from pytest_punie.models.cache import default_cache_dir
    from pytest_punie.sources.responsecache import ResponseCache

    return ResponseCache(default_cache_dir(opts.root), digest, backend_kind)


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

        kept = response_cache(opts, resolved.digest, "in-process")
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
        kept = response_cache(opts, resolved.digest, "server")
        return ModelSource(shared, identity, overrides, batch=False, response_cache=kept)
    server = ManagedServer(resolved.path).start()
    http = HttpBackend(
        server.url, str(resolved.path), {"server": "managed"}, tokenizer_file=resolved.path / "tokenizer.json"
    )
    backend = OwnedServerBackend(http, server)
    return ModelSource(backend, identity, overrides, response_cache=response_cache(opts, resolved.digest, "server"))


class OwnedServerBackend:
    """An HTTP backend whose server this process started and stops."""

    def __init__(self, http: Any, server: Any):
        self.http = http
        self.server = server

    def identity(self) -> dict[str, Any]:
        """The server's identity."""
        return self.http.identity()

    def complete(self, requests: list[Any], on_result: Any = None) -> list[Any]:
        """The requests asked of the server this run started."""
        return self.http.complete(requests, on_result)

    def close(self) -> None:
        """Stops the server this run started."""
        self.server.stop()


def external_source(opts: SourceOptions, overrides: dict[str, Any]) -> ResponseSource:
    """One or several external endpoints serving the model under test. Each is asked what it serves
    (``/v1/models``); endpoints that disagree make the run refuse, naming the models and endpoints."""
    from pytest_punie.backends.endpointpool import EndpointPool
    from pytest_punie.backends.httpclient import MAX_CONNECTIONS, HttpBackend
    from pytest_punie.sources.modelsource import ModelSource

    urls = list(opts.server_urls)
    names = list(opts.server_models or [])
    if not names:
        raise PunieError(
            None,
            None,
            "--punie-server-url needs --punie-server-model NAME: the model the server "
            "must answer for (the first id of /v1/models is never assumed)",
        )
    if len(names) not in (1, len(urls)):
        raise PunieError(
            None,
            None,
            f"{len(urls)} --punie-server-url and {len(names)} --punie-server-model: give one name, or one per URL",
        )
    names = names * len(urls) if len(names) == 1 else names
    # with the model's tokenizer the generated text is read back from the token ids (logprobs),
    # so a call the server dropped is seen and measured instead of unknown
    tokenizer_file, read_with = reading_tokenizer(opts.tokenizer, names)
    connections = int(opts.server_concurrency or MAX_CONNECTIONS)
    backends = [
        HttpBackend(u, n, connections=connections, tokenizer_file=tokenizer_file)
        for u, n in zip(urls, names, strict=True)
    ]
    reported = [b.reported_models() for b in backends]
    pool = EndpointPool(backends, reported) if len(backends) > 1 else None
    refused = pool.disagreement(reported) if pool is not None else None
    if refused:
        raise PunieError(None, None, refused)
    folder = None if opts.no_cache else served_folder(urls, names)
    identity: dict[str, Any] = {"kind": "external-server", "name": names[0]}
    if read_with is not None:
        identity["tokenizer"] = read_with
    kept = None
    if folder is not None:  # what reads the replies back is part of what a kept response is
        from pytest_punie.models.cache import BuildCache, default_cache_dir

        cache = BuildCache(default_cache_dir(opts.root))
        identity["served_files"] = {"path": str(folder), "digest": cache.digest(folder)}
        read = tokenizer_file if tokenizer_file and tokenizer_file.is_file() else None
        read_by = cache.digest(read) if read else "no tokenizer"
        kept = response_cache(opts, identity["served_files"]["digest"], f"external-server, read with {read_by}")
    if pool is None:
        identity["reported_models"] = reported[0]
        return ModelSource(backends[0], identity, overrides, response_cache=kept)
    identity["reported_models"] = {b.url: r for b, r in zip(backends, reported, strict=True)}
    return ModelSource(pool, identity, overrides, response_cache=kept)


def reading_tokenizer(given: str | None, names: list[str]) -> tuple[Path | None, dict[str, Any] | None]:
    """The tokenizer that reads a server's token ids back as text, and its provenance record:
    ``--punie-tokenizer``, else the served model's own folder when ``--punie-server-model`` names a
    model folder on this machine (mlx_lm server names its model by its path), else none."""
    from pytest_punie.models.digest import path_digest

    if given:
        path, source = Path(given) / "tokenizer.json", "--punie-tokenizer"
    else:
        folder = Path(names[0]) if len(set(names)) == 1 else None
        if folder is None or not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
            return None, None
        path, source = folder.resolve() / "tokenizer.json", "the --punie-server-model folder"
    digest = path_digest(path) if path.is_file() else None
    return path, {"path": str(path), "from": source, "digest": digest}


def served_folder(urls: list[str], names: list[str]) -> Path | None:
    """The model folder servers on this machine say they serve (mlx_lm server names its model by
    its path): responses are kept by its digest, so a rerun after the endpoints went away sends
    only what was not answered. None (nothing kept) for a server elsewhere or a name that is not a
    model folder here: what it serves cannot be verified from here."""
    from urllib.parse import urlsplit

    if len(set(names)) != 1 or any(urlsplit(u).hostname not in ("127.0.0.1", "localhost", "::1") for u in urls):
        return None
    folder = Path(names[0])
    return folder if folder.is_absolute() and (folder / "config.json").is_file() else None


def new_run_dir() -> Path:
    """A scratch folder for this run's servers and state."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f"punie-run-{os.getpid()}-"))


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
        kept = response_cache(opts, resolved.digest, "in-process")
    elif variant.bits is not None:
        from pytest_punie.backends.inprocess import InProcessBackend
        from pytest_punie.sources.bits import bits_model

        resolved, sweep = bits_model(opts, model, variant.bits, log, suites, build_guard(opts))
        backend = InProcessBackend(resolved.path)
        identity = {**resolved.identity(), "bits_sweep": sweep}
        kept = response_cache(opts, resolved.digest, "in-process")
    elif variant.checkpoint is not None:
        from pytest_punie.backends.inprocess import InProcessBackend

        resolved = checkpoint_model(opts, model, variant.checkpoint, log)
        backend = InProcessBackend(resolved.path)
        identity = {**resolved.identity(), "checkpoint": str(variant.checkpoint), "iteration": variant.iteration}
        kept = response_cache(opts, resolved.digest, "in-process")
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
