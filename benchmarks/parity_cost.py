"""What parity costs beside the eval, on the embedded model and at the users' real shape, and the
embedded recipe's bits sweep (prints tables).

    python benchmarks/parity_cost.py [--hidden 512] [--layers 4] [--transcripts 8] [--skip-sweep]
        [--skip-real] [--skip-embedded]

1. The embedded model (tiny_5bit, built by the main job): the parity item
   (``pytest --punie-model=tiny_5bit -m pipeline -k parity``, its kept figures removed first, so it
   measures) against the Phase 33 eval with every response generated
   (``pytest --punie-model=tiny_5bit -m eval -k phase33 --punie-no-cache``), each as a user runs it.
2. The real shape (benchmarks/real_shape.py's: the real Qwen3 tokenizer and 151,936-token vocabulary,
   random weights): a 4-bit base, an adapter trained 4 iterations by ``mlx_lm lora`` on data/,
   fused and quantized to 5 bits; ``measure_parity`` over the first ``--transcripts`` (8) of the
   validation set against the in-process backend generating the 27 Phase 33 prompts (max_tokens 32).
   Parity's cost grows with the transcripts' tokens times three forward passes at the full vocabulary.
3. ``--punie-bits=4,5,6,8`` on the embedded recipe: each width's parity, size, speed and eval.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pytest_run(*args: str) -> tuple[float, int, str]:
    """One pytest run as a user runs it: wall time, exit status, output."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    return time.perf_counter() - t0, done.returncode, done.stdout


def embedded() -> list[tuple[str, float, str]]:
    """Parity against the eval on the embedded model."""
    from pytest_punie.models.cache import default_cache_dir

    pytest_run("--punie-model=tiny_5bit", "-m", "eval", "-k", "phase33")  # the model built, files warm
    shutil.rmtree(default_cache_dir(ROOT) / "parity", ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        parity_s, code, _ = pytest_run("--punie-model=tiny_5bit", "-m", "pipeline", "-k", "parity",
                                         f"--punie-json={tmp}/p.json")  # fmt: skip
        row = json.loads(Path(tmp, "p.json").read_text())["parity"][0]
    again_s, _, _ = pytest_run("--punie-model=tiny_5bit", "-m", "pipeline", "-k", "parity")
    eval_s, _, _ = pytest_run("--punie-model=tiny_5bit", "-m", "eval", "-k", "phase33", "--punie-no-cache")
    note = f"{row['positions']} tokens of {row['transcripts']} transcripts, measured in {row['seconds']:.1f} s"
    return [
        ("embedded: parity item (measuring)", parity_s, f"exit {code}; {note}; {parity_s / eval_s:.2f}x the eval"),
        ("embedded: parity item (kept figures)", again_s, "an identical rerun measures nothing"),
        ("embedded: phase33 eval, every response generated", eval_s, ""),
    ]


def real_shape(hidden: int, layers: int, transcripts: int) -> list[tuple[str, float, str]]:
    """Parity against the eval at the users' real vocabulary."""
    from maintainer import realshape
    from pytest_punie.backends import ChatRequest
    from pytest_punie.backends.inprocess import InProcessBackend
    from pytest_punie.checks.paritycheck import gold_from_adapter, measure_parity
    from pytest_punie.models.cache import BuildCache, default_cache_dir
    from pytest_punie.models.steps import fuse_and_quantize
    from pytest_punie.sources.modelsource import messages_for
    from pytest_punie.suite import load_suite
    from pytest_punie.suite.suitetypes import Sampling

    cache = BuildCache(default_cache_dir(ROOT), log=lambda m: None)
    base = realshape.build_base(cache, hidden, layers)
    adapter = realshape.build_adapter(cache, base, ROOT / "data")
    _, q5 = fuse_and_quantize(cache, base.path, adapter.path, 5, 64, lambda m: None, keep_intermediates=True)
    gold = gold_from_adapter(adapter.path, limit=transcripts)
    t0 = time.perf_counter()
    figures = measure_parity(base.path, adapter.path, q5.path, gold)
    parity_s = time.perf_counter() - t0
    suite = load_suite(ROOT / "evalsuites" / "phase33.yaml")
    reqs = [ChatRequest(p.id, messages_for(suite, p), Sampling(max_tokens=32, stop=(), timeout_s=600.0))
            for p in suite.prompts]  # fmt: skip
    backend = InProcessBackend(q5.path)
    backend.load()
    t0 = time.perf_counter()
    backend.complete(reqs)
    eval_s = time.perf_counter() - t0
    what = f"hidden {hidden}, {layers} layers, vocab 151,936"
    return [
        (f"real shape ({what}): parity", parity_s,
         f"{figures.positions} tokens of {figures.transcripts} transcripts; {parity_s / eval_s:.2f}x the generation"),
        ("real shape: 27 phase33 prompts generated (32 tokens)", eval_s, "in-process backend, model loaded"),
    ]  # fmt: skip


def sweep() -> list[str]:
    """The embedded recipe's bits sweep table, as the run printed it."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds, code, out = pytest_run("--punie-model=tiny_5bit", "--punie-bits=4,5,6,8", "-m", "eval", "-k",
                                        "phase33", f"--punie-json={tmp}/s.json")  # fmt: skip
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "bits sweep" in line)
    end = next(i for i, line in enumerate(lines) if line.startswith("smallest bits"))
    return [*lines[start + 1 : end + 1], f"(the sweep's run: {seconds:.1f} s, exit {code})"]


def main() -> None:
    """Runs the three parts and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--transcripts", type=int, default=8, help="gold transcripts at the real shape")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    print(f"{'measure':<52}  {'seconds':>8}  note", flush=True)
    parts = ([] if args.skip_embedded else [embedded]) + (
        [] if args.skip_real else [lambda: real_shape(args.hidden, args.layers, args.transcripts)]
    )
    for part in parts:
        for name, seconds, note in part():
            print(f"{name:<52}  {seconds:8.2f}  {note}", flush=True)
    if not args.skip_sweep:
        print(
            "\nbits sweep of the embedded recipe "
            "(pytest --punie-model=tiny_5bit --punie-bits=4,5,6,8 -m eval -k phase33):"
        )
        print("\n".join(sweep()))


if __name__ == "__main__":
    main()
