"""The users' real shape on this machine, in one run (prints a table).

A Qwen3 with the real tokenizer, chat template and 151,936-token vocabulary, random weights
quantized to 5 bits (random weights run every answer to max_tokens: the worst case):
- one decode step (forward + argmax) at batch 1, 4 and 27, the KV cache as long as the prompts;
- pytest-punie's in-process backend on the 27 Phase 33 prompts (its window sized from the
  measured step cost, each prompt's own limit honest) against one prompt at a time
  (mlx-lm's generate_step, as the users' script and a server answering in turn do);
- token ids compared with one at a time.

    python benchmarks/real_shape.py [--hidden 512] [--layers 4] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_punie.blas import preload  # noqa: E402

preload()

from mlx_lm import load  # noqa: E402

from benchmarks.generation_steps import forward_step_seconds, one_at_a_time, prompts_of  # noqa: E402
from maintainer import realshape  # noqa: E402
from pytest_punie.backends import ChatRequest  # noqa: E402
from pytest_punie.backends.inprocess import InProcessBackend  # noqa: E402
from pytest_punie.blas import blas_name  # noqa: E402
from pytest_punie.models import steps  # noqa: E402
from pytest_punie.models.cache import BuildCache, default_cache_dir  # noqa: E402
from pytest_punie.provenance import versions_of  # noqa: E402
from pytest_punie.sources.modelsource import messages_for  # noqa: E402
from pytest_punie.suite import load_suite  # noqa: E402
from pytest_punie.suite.suitetypes import Sampling  # noqa: E402


def build(hidden: int, layers: int) -> Path:
    """The real-shape model at 5 bits, built into the project's cache."""
    cache = BuildCache(default_cache_dir(ROOT), log=print)
    tokenizer = realshape.fetch_qwen3_tokenizer(cache.root)
    cfg = realshape.shape(hidden, layers)
    versions = versions_of("mlx", "mlx-lm")
    raw = cache.build(
        "realshape",
        {"tokenizer": cache.digest(tokenizer / "tokenizer.json"), "config": cfg, "seed": 0, "versions": versions},
        lambda out: realshape.write_random_model(tokenizer, out, cfg, 0),
    )
    q5 = cache.build(
        "q5",
        {"model": raw.digest, "bits": 5, "group_size": 64, "versions": versions, "blas": blas_name()},
        lambda out: steps.quantize(raw.path, out, 5, 64, print),
    )
    return q5.path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    path = build(args.hidden, args.layers)
    suite = load_suite(ROOT / "evalsuites" / "phase33.yaml")
    model, tokenizer = load(str(path))[:2]
    prompts = prompts_of(tokenizer, suite)
    cfg = realshape.shape(args.hidden, args.layers)
    h, n, v = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    params = v * h + n * (2 * h * h + 2 * h * 64 * cfg["num_key_value_heads"] + 3 * h * cfg["intermediate_size"])
    print(f"model: {path} (hidden {h}, {n} layers, vocab {v}: ~{params / 1e6:.0f} M parameters, 5-bit), {blas_name()}")
    print(
        f"prompts: 27 (Phase 33), {min(map(len, prompts))}-{max(map(len, prompts))} tokens, "
        f"max_tokens {args.max_tokens}"
    )
    rows = []
    for batch in (1, 4, 27):
        rows.append((f"decode step, batch {batch}", forward_step_seconds(model, prompts, batch, steps=5), ""))
    limits = [args.max_tokens] * len(prompts)
    t = time.perf_counter()
    reference = one_at_a_time(model, tokenizer, prompts, limits)
    serial = time.perf_counter() - t
    backend = InProcessBackend(path)
    backend._model, backend._tokenizer = model, tokenizer
    said: list[str] = []
    backend.note = said.append
    reqs = [
        ChatRequest(p.id, messages_for(suite, p), Sampling(max_tokens=args.max_tokens, stop=(), timeout_s=120.0))
        for p in suite.prompts
    ]
    t = time.perf_counter()
    records = backend.complete(reqs)
    ours = time.perf_counter() - t
    same = sum(backend.last_token_ids[r.key] == ids for r, ids in zip(reqs, reference, strict=True))
    cut = sum(1 for r in records if r.error)
    rows.append(("one prompt at a time (generate_step)", serial, ""))
    rows.append(("pytest-punie in-process (window)", ours, f"{serial / ours:.2f}x faster; ids {same}/27; cut {cut}"))
    lock = backend.lock_seconds
    run = sum(backend.wrapper_tokens_run.values())
    rows.append(
        (
            "  of which the format lock's wrapper passes",
            lock,
            f"{run} tokens run for {len(backend.wrapper_tokens_run)} prompts (one at a time measures no lock)",
        )
    )
    rows.append(("  generation alone (ours minus those)", ours - lock, f"{serial / (ours - lock):.2f}x faster"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'seconds':>9}  note")
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:9.3f}  {note}")
    for line in said:
        print(f"scheduler: {line}")
    print(f"scheduler: sequences running after each admission: {backend.widths}")


if __name__ == "__main__":
    main()
