"""A bits sweep (``--punie-bits=4,5,6,8``): the model's one fuse (content-addressed, built once and kept
for the sweep) quantized at each width, and for each width what a person choosing one needs: its
parity with the adapter as trained, its size on disk and its decode speed, beside its eval."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError
from pytest_punie.sources.sourceoptions import SourceOptions

DECODE_TOKENS = 64  # tokens generated greedily to measure a width's decode speed


def folder_bytes(path: Path) -> int:
    """A model folder's size on disk: what shipping it costs."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def decode_speed(model_path: Path, messages: list[dict[str, str]]) -> float:
    """Tokens per second of one greedy generation, as mlx-lm's own ``stream_generate`` reports it."""
    from mlx_lm import load, stream_generate

    model, tokenizer = load(str(model_path))[:2]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    steps = list(stream_generate(model, tokenizer, prompt, max_tokens=DECODE_TOKENS))
    return round(float(steps[-1].generation_tps), 2) if steps else 0.0


def sweep_expectations(entry: dict[str, Any], name: str, suites: list[Any] | None) -> Any:
    """The parity bounds a width is held to: the suites' pipeline_expect, then the model's expect table."""
    from pytest_punie.checks.expectations import expectations

    layers = [(s.extra.get("pipeline_expect"), f"{Path(s.path).name} pipeline_expect") for s in suites or []]
    return expectations(*layers, (entry.get("expect"), f"[tool.punie.models.{name}].expect"))


def bits_model(
    opts: SourceOptions,
    model: Callable[[], Any],
    bits: int,
    log: Callable[[str], None],
    suites: list[Any] | None = None,
    guard: Callable[[str, float], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The model under test's fuse quantized at ``bits`` (built once, cached), and its sweep record:
    parity against base + adapter as trained, size on disk, decode speed."""
    from pytest_punie.checks.artifacts import fused_checks
    from pytest_punie.models.cache import BuildCache, default_cache_dir
    from pytest_punie.models.resolve import ResolvedModel, build_record, recipe_parts
    from pytest_punie.models.steps import fuse_and_quantize
    from pytest_punie.models.validate import validate_model_dir

    resolved = model()
    base, adapter = recipe_parts(resolved, opts.root)
    if base is None or adapter is None:
        raise PunieError(
            None,
            None,
            f"--punie-bits needs a model made from a base and an adapter: {resolved.name} has no recipe "
            "(register a training recipe, or base + adapter, in its registry entry)",
        )
    entry = resolved.spec_entry
    cache = BuildCache(default_cache_dir(opts.root), log=log)
    cache.guard = guard  # the run's budget may refuse a build
    fused, quant = fuse_and_quantize(
        cache, base, adapter, bits, int(entry.get("group_size", 64)), log,
        keep_intermediates=True, check_fused=fused_checks, tool_parser_type=entry.get("tool_parser_type"),
    )  # fmt: skip
    out = ResolvedModel(
        f"{resolved.name}[bits={bits}]",
        quant.path,
        quant.digest,
        validate_model_dir(quant.path),
        [build_record(a) for a in (fused, quant)],
        {**entry, "bits": bits},
    )
    log(f"parity of {quant.path.name} ({bits} bits) against base + adapter as trained ...")
    return out, sweep_record(cache.root, out, base, adapter, sweep_expectations(entry, resolved.name, suites))


def sweep_record(cache_root: Path, model: Any, base: Path, adapter: Path, expect: Any) -> dict[str, Any]:
    """One width's record: its parity (kept in the build cache), size on disk and decode speed."""
    from pytest_punie.checks.paritycheck import gold_from_adapter, kept_parity, parity_record

    bits = int(model.spec_entry["bits"])
    gold = gold_from_adapter(adapter)
    figures = kept_parity(cache_root, base, adapter, model.path, gold)
    asked = [m for m in gold.transcripts[0] if m["role"] != "assistant"][:2]
    return {
        "bits": bits,
        "size_bytes": folder_bytes(model.path),
        "decode_tok_s": decode_speed(model.path, asked),
        "parity": parity_record(model.name, bits, figures, expect, str(model.path)),
    }
