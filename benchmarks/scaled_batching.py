"""Batching where decode compute dominates: a scaled model of the tiny recipe's
family (Qwen3, ~26 M parameters, random weights: timing only), fused (float32)
and (--quantized) 5-bit, the 27 Phase 33 prompts with the tiny tokenizer, every answer
--tokens long (128: decode dominates, as in real answers of hundreds of tokens).

Batched (pytest-punie's in-process backend) against one prompt at a time
(mlx-lm's generate_step), with the generated token ids compared.

    python benchmarks/scaled_batching.py [--tokens 128] [--quantized]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_punie.blas import preload  # noqa: E402

preload()

import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402
from mlx_lm import load  # noqa: E402
from mlx_lm.generate import generate_step  # noqa: E402
from mlx_lm.models.cache import make_prompt_cache  # noqa: E402
from mlx_lm.utils import _get_classes, quantize_model, save_config, save_model  # noqa: E402

from pytest_punie.backends import ChatRequest  # noqa: E402
from pytest_punie.backends.inprocess import InProcessBackend  # noqa: E402
from pytest_punie.models.cache import BuildCache, default_cache_dir  # noqa: E402
from pytest_punie.models.resolve import materialize, resolve_spec  # noqa: E402
from pytest_punie.models.tiny.pretrain import model_config  # noqa: E402
from pytest_punie.sources.modelsource import messages_for  # noqa: E402
from pytest_punie.suite import load_suite  # noqa: E402
from pytest_punie.suite.suitetypes import Sampling  # noqa: E402

SCALE = {
    "hidden_size": 512,
    "num_hidden_layers": 8,
    "intermediate_size": 1536,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 64,
}


def build(tokenizer_dir: Path, out: Path, bits: int | None) -> int:
    cfg = {**model_config("qwen3", [2]), **SCALE}
    mx.random.seed(0)
    model_cls, args_cls = _get_classes(cfg)
    model = model_cls(args_cls.from_dict(cfg))
    model.set_dtype(mx.float32)
    params = sum(int(v.size) for _, v in tree_flatten(model.parameters()))
    if bits:
        model, cfg = quantize_model(model, cfg, group_size=64, bits=bits)
    out.mkdir(parents=True)
    save_model(out, model)
    save_config(cfg, config_path=out / "config.json")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (tokenizer_dir / name).is_file():
            shutil.copy(tokenizer_dir / name, out / name)
    return params


def one_at_a_time(model, prompts, n: int) -> list[list[int]]:
    out = []
    for prompt in prompts:
        ids = [
            int(t)
            for t, _ in generate_step(mx.array(prompt), model, max_tokens=n, prompt_cache=make_prompt_cache(model))
        ]
        out.append(ids)
    return out


def decode_step_ms(model, batch: int, context: int = 134, steps: int = 10) -> float:
    """One decode step (forward + argmax) at ``batch`` with a KV cache ``context`` long."""
    cache = make_prompt_cache(model)
    mx.eval(model(mx.zeros((batch, context), dtype=mx.uint32), cache=cache))
    token = mx.zeros((batch, 1), dtype=mx.uint32)
    for _ in range(3):
        mx.eval(model(token, cache=cache))
    t = time.perf_counter()
    for _ in range(steps):
        mx.eval(mx.argmax(model(token, cache=cache)[:, -1], axis=-1))
    return (time.perf_counter() - t) / steps * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument(
        "--quantized", action="store_true", help="also the 5-bit artifact (minutes: it does not batch here)"
    )
    args = ap.parse_args()
    tiny = materialize(resolve_spec("tiny_5bit", ROOT), ROOT, BuildCache(default_cache_dir(ROOT)), lambda m: None)
    suite = load_suite(ROOT / "evalsuites" / "phase33.yaml")
    print(f"answers of {args.tokens} tokens; prompts share a system prompt (prefilled once when batched)")
    print(
        f"{'artifact':<22} {'params':>8} {'one at a time':>14} {'batched':>9} {'ratio':>7}  same ids  "
        "decode step 1 / 27 (ms)  forward-only ceiling"
    )
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = [("scaled fused (fp32)", None)] + ([("scaled 5-bit", 5)] if args.quantized else [])
        for label, bits in artifacts:
            path = Path(tmp) / label.replace(" ", "_")
            params = build(tiny.path, path, bits)
            model, tokenizer = load(str(path))[:2]
            msgs = [messages_for(suite, p) for p in suite.prompts]
            prompts = [list(tokenizer.apply_chat_template(list(m), add_generation_prompt=True)) for m in msgs]
            one_at_a_time(model, prompts[:2], 4)  # warm-up
            t = time.perf_counter()
            ref = one_at_a_time(model, prompts, args.tokens)
            t_one = time.perf_counter() - t
            backend = InProcessBackend(path)
            backend._model, backend._tokenizer = model, tokenizer
            # no stop token can end a random model's answer early: every answer is --tokens long
            backend._stop_sequences = lambda stop: []  # type: ignore[method-assign]
            reqs = [
                ChatRequest(str(i), m, Sampling(max_tokens=args.tokens, timeout_s=3600)) for i, m in enumerate(msgs)
            ]
            backend.complete(reqs[:2])  # warm-up
            t = time.perf_counter()
            backend.complete(reqs)
            t_batch = time.perf_counter() - t
            got = [backend.last_token_ids[r.key] for r in reqs]
            same = sum(a == b for a, b in zip(got, ref, strict=True))
            one, full = decode_step_ms(model, 1), decode_step_ms(model, len(reqs))
            print(
                f"{label:<22} {params / 1e6:7.1f}M {t_one:13.2f}s {t_batch:8.2f}s {t_one / t_batch:6.1f}x  "
                f"{same}/{len(reqs)}     {one:6.1f} / {full:6.1f}       {len(reqs) * one / full:5.1f}x"
            )


if __name__ == "__main__":
    main()
