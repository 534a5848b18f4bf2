"""Where generation time goes, on one artifact, in one run (prints a table).

For the 5-bit model under test and the fused model it was quantized from:
- forward only: one decode step (model forward + argmax) at batch 1, 4 and 27,
  with a KV cache as long as the prompts;
- the forward-only limit of this suite: each decode step priced at the batch size
  still running at that step (from the real answer lengths), plus the prefill;
- mlx-lm's BatchGenerator driven plainly; pytest-punie's in-process backend;
- one prompt at a time (mlx-lm's generate_step), the way a server answers sequential requests.
Generated token ids are compared with one-at-a-time greedy generation.

    python benchmarks/generation_steps.py [--model tiny_5bit] [--repeats 3]
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

import mlx.core as mx  # noqa: E402
from mlx_lm import load  # noqa: E402
from mlx_lm.generate import BatchGenerator, generate_step  # noqa: E402
from mlx_lm.models.cache import make_prompt_cache  # noqa: E402

from pytest_punie.backends import ChatRequest  # noqa: E402
from pytest_punie.backends.inprocess import InProcessBackend, _copy_cache, shared_prefix_length  # noqa: E402
from pytest_punie.models.cache import BuildCache, default_cache_dir  # noqa: E402
from pytest_punie.models.resolve import materialize, resolve_spec  # noqa: E402
from pytest_punie.sources.modelsource import messages_for  # noqa: E402
from pytest_punie.suite import load_suite  # noqa: E402
from pytest_punie.suite.suitetypes import Sampling  # noqa: E402


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def prompts_of(tokenizer, suite) -> list[list[int]]:
    return [
        list(tokenizer.apply_chat_template(list(messages_for(suite, p)), add_generation_prompt=True))
        for p in suite.prompts
    ]


def forward_step_seconds(model, prompts: list[list[int]], batch: int, steps: int = 20) -> float:
    """One decode step at ``batch``: prefill ``batch`` prompts (left-padded by BatchGenerator's
    own cache), then time ``steps`` forwards of one token each, argmax included."""
    gen = BatchGenerator(
        model, stop_tokens=[], max_tokens=10_000, prefill_batch_size=batch, completion_batch_size=batch
    )
    chosen = [prompts[i % len(prompts)] for i in range(batch)]
    gen.insert(chosen, [10_000] * batch)
    gen.next_generated()  # prefill done, first token sampled
    batch_state = gen._generation_batch
    cache = batch_state.prompt_cache
    tokens = mx.zeros((batch, 1), dtype=mx.uint32)

    def step():
        nonlocal tokens
        logits = model(tokens, cache=cache)
        tokens = mx.argmax(logits[:, -1, :], axis=-1, keepdims=True).astype(mx.uint32)
        mx.eval(tokens)

    step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = (time.perf_counter() - t) / steps
    gen.close()
    return elapsed


def one_at_a_time(model, tokenizer, prompts, max_tokens: list[int]) -> list[list[int]]:
    eos = set(tokenizer.eos_token_ids)
    out = []
    for prompt, limit in zip(prompts, max_tokens, strict=True):
        ids = []
        for token, _ in generate_step(mx.array(prompt), model, max_tokens=limit, prompt_cache=make_prompt_cache(model)):
            token = int(token)
            if token in eos:
                break
            ids.append(token)
        out.append(ids)
    return out


def batch_generator(model, tokenizer, prompts, max_tokens: list[int], **sizes) -> list[list[int]]:
    gen = BatchGenerator(model, stop_tokens=[[t] for t in tokenizer.eos_token_ids], **sizes)
    uids = gen.insert(prompts, max_tokens)
    out = {u: [] for u in uids}
    while responses := gen.next_generated():
        for r in responses:
            if r.finish_reason != "stop":
                out[r.uid].append(r.token)
    gen.close()
    return [out[u] for u in uids]


def prefill_seconds(backend: InProcessBackend, prompts) -> float:
    """Prefill every prompt (and take one token), the prefix shared when the backend shares it."""
    n = len(prompts)
    gen = BatchGenerator(backend._model, stop_tokens=[], max_tokens=1, prefill_batch_size=n, completion_batch_size=n)
    t = time.perf_counter()
    k = shared_prefix_length(prompts) if backend.share_prefix and n > 1 else 0
    prefix = backend._prefix_cache(prompts[0][:k]) if k >= backend.MIN_SHARED_PREFIX else None
    if prefix is None:
        gen.insert(prompts, [1] * n)
    else:
        gen.insert([p[k:] for p in prompts], [1] * n, caches=[_copy_cache(prefix) for _ in prompts])
    while gen.next_generated():
        pass
    gen.close()
    return time.perf_counter() - t


def measure(label: str, path: Path, suite, repeats: int) -> list[tuple]:
    rows: list[tuple] = []
    model, tokenizer = load(str(path))[:2]
    prompts = prompts_of(tokenizer, suite)
    limits = [suite.sampling_for(p).max_tokens for p in suite.prompts]
    reference = one_at_a_time(model, tokenizer, prompts, limits)  # warm-up, and the ids to match
    lengths = [len(r) + 1 for r in reference]  # +1: the end-of-sequence step
    fwd = {b: forward_step_seconds(model, prompts, b) for b in range(1, len(prompts) + 1)}
    running = [sum(1 for n in lengths if n > step) for step in range(max(lengths))]
    backend = InProcessBackend(path)
    backend._model, backend._tokenizer = model, tokenizer
    whole = InProcessBackend(path, share_prefix=False)
    whole._model, whole._tokenizer = model, tokenizer
    # the prefill's one sampled step is a decode step at full batch: priced in the decode sum
    pre_whole = min(prefill_seconds(whole, prompts) for _ in range(repeats)) - fwd[len(prompts)]
    pre = min(prefill_seconds(backend, prompts) for _ in range(repeats)) - fwd[len(prompts)]
    shared = backend.shared_prefix_tokens[0] if backend.shared_prefix_tokens else 0
    limit = min(pre, pre_whole) + sum(fwd[b] for b in running if b)
    for b in (1, 4, len(prompts)):
        rows.append((label, f"forward + argmax, batch {b} (per step, ms)", fwd[b] * 1000, None, ""))
    rows.append((label, f"prefill {len(prompts)} prompts, each whole", pre_whole, None, ""))
    rows.append((label, f"prefill, {shared}-token common prefix once", pre, None, ""))
    rows.append((label, f"forward-only limit ({max(lengths)} steps, batch shrinking)", limit, 1.0, ""))
    got: dict[str, list[list[int]]] = {}
    t_one = best(lambda: got.__setitem__("one", one_at_a_time(model, tokenizer, prompts, limits)), repeats)
    t_bg = best(lambda: got.__setitem__("bg", batch_generator(model, tokenizer, prompts, limits)), repeats)
    n = len(prompts)
    t_bg_all = best(
        lambda: got.__setitem__(
            "bg_all",
            batch_generator(model, tokenizer, prompts, limits, prefill_batch_size=n, completion_batch_size=n),
        ),
        repeats,
    )
    reqs = [
        ChatRequest(p.id, messages_for(suite, p), Sampling(max_tokens=suite.sampling_for(p).max_tokens))
        for p in suite.prompts
    ]
    t_ours = best(lambda: backend.complete(reqs), repeats)
    ours = [backend.last_token_ids[r.key] for r in reqs]
    t_whole = best(lambda: whole.complete(reqs), repeats)
    ours_whole = [whole.last_token_ids[r.key] for r in reqs]

    def same(ids: list[list[int]]) -> str:
        return f"{sum(a == b for a, b in zip(ids, reference, strict=True))}/{len(prompts)}"

    rows.append((label, "one at a time (generate_step)", t_one, t_one / limit, same(got["one"])))
    rows.append((label, "mlx-lm BatchGenerator (default sizes)", t_bg, t_bg / limit, same(got["bg"])))
    rows.append(
        (label, "mlx-lm BatchGenerator (all prefilled at once)", t_bg_all, t_bg_all / limit, same(got["bg_all"]))
    )
    rows.append((label, "pytest-punie in-process, no prefix sharing", t_whole, t_whole / limit, same(ours_whole)))
    rows.append((label, "pytest-punie in-process backend", t_ours, t_ours / limit, same(ours)))
    rows.append((label, "  one at a time / in-process backend (ratio)", t_one / t_ours, None, ""))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny_5bit")
    ap.add_argument("--suite", default=str(ROOT / "evalsuites" / "phase33.yaml"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    resolved = materialize(resolve_spec(args.model, ROOT), ROOT, BuildCache(default_cache_dir(ROOT)), lambda m: None)
    fused = next((Path(b["path"]) for b in resolved.builds if b["step"] == "fused"), None)
    suite = load_suite(args.suite)
    print(f"suite {suite.name}: {len(suite.prompts)} prompts; greedy; stop = the model's end of sequence")
    header = f"{'artifact':<8} {'what':<50} {'seconds':>9} {'x limit':>8}  ids"
    rows = []
    for label, path in [("q5", resolved.path), ("fused", fused)]:
        if path is not None:
            rows += measure(label, path, suite, args.repeats)
    print(header)
    print("-" * len(header))
    for label, what, secs, ratio, ids in rows:
        r = "" if ratio is None else f"{ratio:7.2f}x"
        print(f"{label:<8} {what:<50} {secs:9.3f} {r:>8}  {ids}")


if __name__ == "__main__":
    main()
