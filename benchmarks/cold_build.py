"""A newcomer's cold one-suite main job, step by step (prints a table).

The README's one-suite command (``pytest --punie-model=tiny_5bit -m eval -k phase33``) in a fresh
copy of this checkout (``git archive HEAD``) with an empty build cache, its output timed line by
line: each build step from the run's own "built X in N s" lines, the two parity gates from their
own lines, and the rest (start-up, the data lint, the preflight, generation, scoring, reports) as
what is left of the wall time. Then the mlx CPU kernels the QLoRA stage runs on: the quantized
matmul mlx-lm's forward pass uses (``transpose=True``) against a float32 matmul at the tiny
model's shapes, and one LoRA training step on the 4-bit base against the same step on the float32
base it was quantized from.

    python benchmarks/cold_build.py [--skip-kernels]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_ONE_SUITE = ["--punie-model=tiny_5bit", "-m", "eval", "-k", "phase33", "-p", "no:cacheprovider"]
BUILT = re.compile(r"\[punie\] built (\S+) in ([\d.]+) s")
GATE = re.compile(r"\[punie\] parity gate \((\w+ quantizing)\): .*\(([\d.]+) s\)$")


def cold_run(folder: Path) -> tuple[float, list[tuple[str, float]], str]:
    """The README's one-suite command, cold: wall seconds, (step, seconds) in order, the output."""
    subprocess.run(f"git -C {ROOT} archive HEAD | tar -x -C {folder}", shell=True, check=True)
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--punie-model=tiny_5bit",
            "-m",
            "eval",
            "-k",
            "phase33",
            "-p",
            "no:cacheprovider",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    steps: list[tuple[str, float]] = []
    for line in done.stdout.splitlines():
        if m := BUILT.search(line):
            steps.append((f"build {m.group(1)}", float(m.group(2))))
        elif m := GATE.search(line):
            steps.append((f"parity gate {m.group(1)}", float(m.group(2))))
    return wall, steps, done.stdout


KERNEL_SCRIPT = r"""
import json, sys, time
from pytest_punie.blas import preload; preload()
import mlx.core as mx
def ms(f, n=10):
    f(); t = time.perf_counter()
    for _ in range(n): f()
    return (time.perf_counter() - t) / n * 1000
rows = []
for m, n, k, what in [(1000, 2048, 128, "output head"), (1000, 384, 128, "mlp up/gate"), (1000, 128, 384, "mlp down"),
                      (1000, 128, 128, "attention q/o")]:
    x = mx.random.normal((m, k)); w = mx.random.normal((n, k)); wq, s, b = mx.quantize(w, group_size=64, bits=4)
    q = ms(lambda: mx.eval(mx.quantized_matmul(x, wq, s, b, transpose=True, group_size=64, bits=4)))
    f = ms(lambda: mx.eval(x @ w.T))
    rows.append([f"{what} [{m}x{k}]x[{k}x{n}]", q, f])
print(json.dumps(rows))
"""

STEP_SCRIPT = r"""
import json, sys, time
from pytest_punie.blas import preload; preload()
import mlx.core as mx, mlx.nn as nn, mlx.optimizers as optim
from mlx_lm import load
from mlx_lm.tuner.utils import linear_to_lora_layers
from mlx_lm.tuner.datasets import ChatDataset, CacheDataset
from mlx_lm.tuner.trainer import iterate_batches, default_loss
model, tok = load(sys.argv[1]); model.freeze()
linear_to_lora_layers(model, 2, {"rank": 8, "scale": 20.0, "dropout": 0.0})
rows = [json.loads(l) for l in open(sys.argv[2])]
data = CacheDataset(ChatDataset(rows, tok, mask_prompt=True))
opt = optim.Adam(learning_rate=1e-4); step_fn = nn.value_and_grad(model, default_loss)
batches = iterate_batches(data, 4, 1024, loop=True, seed=0)
def step(b):
    (loss, n), g = step_fn(model, *b); opt.update(model, g); mx.eval(loss, model.parameters(), opt.state)
for _, b in zip(range(3), batches): step(b)
t = time.perf_counter()
for _, b in zip(range(20), batches): step(b)
train = (time.perf_counter() - t) / 20 * 1000
val = [b for _, b in zip(range(10), iterate_batches(data, 4, 1024))]
t = time.perf_counter()
for b in val: mx.eval(default_loss(model, *b))
print(json.dumps([train, (time.perf_counter() - t) / 10 * 1000]))
"""


def last_json(code: str, *args: str) -> list:
    """Runs a script in a fresh interpreter (MKL loaded first, as the builds do); its last line."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-kernels", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wall, steps, out = cold_run(folder)
        print(f"cold one-suite main job (README), empty cache: {wall:.1f} s wall")
        print(f"{'step':40} {'seconds':>8} {'share':>6}")
        for name, seconds in steps:
            print(f"{name:40} {seconds:8.1f} {100 * seconds / wall:5.1f}%")
        rest = wall - sum(s for _, s in steps)
        print(f"{'the rest (start-up, lint, eval, reports)':40} {rest:8.1f} {100 * rest / wall:5.1f}%")
        if "VERDICT" not in out:
            print("(no verdict printed: the run did not finish)")
        if args.skip_kernels:
            return
        cache = folder / ".punie" / "cache"
        q4 = next((cache / "q4").iterdir())
        base = next((cache / "base-qwen3").iterdir())
        print("\nmlx CPU kernels at the tiny model's shapes (ms; 4-bit, group 64)")
        print(f"{'matmul':36} {'quantized':>10} {'float32':>8} {'ratio':>6}")
        for what, q, f in last_json(KERNEL_SCRIPT):
            print(f"{what:36} {q:10.2f} {f:8.2f} {q / f:5.0f}x")
        data = str(folder / "data" / "train.jsonl")
        q_train, q_fwd = last_json(STEP_SCRIPT, str(q4), data)
        f_train, f_fwd = last_json(STEP_SCRIPT, str(base), data)
        print("\none LoRA step, batch 4 of the training data (ms)")
        print(f"{'base':24} {'train step':>10} {'forward':>8}")
        print(f"{'4-bit (the recipe)':24} {q_train:10.0f} {q_fwd:8.0f}")
        print(f"{'float32 (before quant.)':24} {f_train:10.0f} {f_fwd:8.0f}")
        print(f"ratio {q_train / f_train:.1f}x (train step), {q_fwd / f_fwd:.1f}x (forward)")


if __name__ == "__main__":
    main()
