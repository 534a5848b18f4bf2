"""MKL's threads under the test command's two workers (prints a table).

The tiny model's float32 matmuls (the shapes of its pretraining and of its LoRA stage's float32
parts), and one at the real shape's output head, each run as its own process with MKL preloaded
as the plugin preloads it: alone and two side by side (two xdist workers on two cores), with
MKL's default threads and with ``MKL_NUM_THREADS=1``. Wall seconds (the last process to end)
and CPU seconds per process (``wait4``'s resource usage); then whether the products are bit for
bit the same under both settings.

    python benchmarks/blas_threads.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = {
    # 50 chained matmuls of the tiny model's MLP shape (1,000 tokens x 128 -> 384), 40 times
    "tiny": "x = mx.random.normal((1000, 128)); w = mx.random.normal((128, 384))\n"
    "def step():\n"
    "    y = x\n"
    "    for _ in range(50):\n"
    "        y = (x @ w)[:, :128] * 0.5 + mx.sin(y)\n"
    "    return y\n"
    "mx.eval(step())\n"
    "for _ in range(40):\n"
    "    mx.eval(step())\n",
    # the real shape's output head: 256 positions x 512 -> 151,936, 10 times
    "real head": "x = mx.random.normal((256, 512)); w = mx.random.normal((512, 151936))\n"
    "mx.eval(x @ w)\n"
    "for _ in range(10):\n"
    "    mx.eval(x @ w)\n",
}
PRELUDE = "from pytest_punie.blas import preload\nassert preload() == 'mkl'\nimport mlx.core as mx\nmx.random.seed(0)\n"
PRODUCTS = (
    PRELUDE + "import numpy as np, sys\n"
    "shapes = [(1000, 128, 2048), (1000, 128, 384), (1000, 384, 128), (128, 1000, 384), (512, 4096, 512),"
    " (256, 512, 151936), (512, 151936, 256)]\n"
    "out = {str(i): np.array(mx.random.normal((m, k)) @ mx.random.normal((k, n))) for i, (m, k, n) in"
    " enumerate(shapes)}\n"
    "np.savez(sys.argv[1], **out)\n"
)


def threads_env(threads: str | None) -> dict[str, str]:
    """This environment with MKL's threads set to ``threads`` (None: MKL's own default, nothing
    inherited from the test command or an xdist worker deciding for it)."""
    unset = ("MKL_NUM_THREADS", "OMP_NUM_THREADS", "PYTEST_XDIST_WORKER_COUNT")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    if threads is not None:
        env["MKL_NUM_THREADS"] = threads
    return env


def timed(code: str, threads: str | None, copies: int) -> list[tuple[float, float]]:
    """``copies`` processes of ``code`` started together: (wall, CPU seconds) of each."""
    env = threads_env(threads)
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", PRELUDE + code], env=env, cwd=ROOT) for _ in range(copies)]
    out = []
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        out.append((time.monotonic() - started, usage.ru_utime + usage.ru_stime))
    return out


def same_products() -> bool:
    """The matmul products under MKL's default threads and under one thread, compared bit for bit."""
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for threads in (None, "1"):
            path = Path(tmp) / f"{threads or 'default'}.npz"
            subprocess.run([sys.executable, "-c", PRODUCTS, str(path)], env=threads_env(threads), cwd=ROOT, check=True)
            files.append(np.load(path))
        return all(np.array_equal(files[0][k], files[1][k]) for k in files[0])


def main() -> None:
    """Print the table."""
    rows = []
    for name, code in WORK.items():
        for copies in (1, 2):
            for threads in (None, "1"):
                runs = timed(code, threads, copies)
                wall = max(w for w, _ in runs)
                cpu = sum(c for _, c in runs) / len(runs)
                rows.append((name, copies, threads or "default", wall, cpu))
    print(f"MKL threads, {os.cpu_count()} CPUs (seconds; CPU is per process)")
    print(f"{'work':<10} {'processes':>9} {'MKL threads':>11} {'wall':>7} {'CPU':>7}")
    for name, copies, threads, wall, cpu in rows:
        print(f"{name:<10} {copies:>9} {threads:>11} {wall:7.2f} {cpu:7.2f}")
    print(f"products bit for bit the same under both settings: {same_products()}")


if __name__ == "__main__":
    main()
