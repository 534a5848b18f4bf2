"""What start-up costs, piece by piece (prints a table).

Each piece is imported in a fresh interpreter; the time is the median wall time of
``python -c "import X"`` minus a bare interpreter's. A cached rerun of the main job
pays Python, pytest, the installed pytest plugins and pytest-punie's plugin, never mlx
or mlx-lm (tests/e2e/test_response_cache.py checks that); a generating run pays mlx-lm
too, when the model is loaded.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

PIECES = [
    ("pytest", "import pytest"),
    ("hypothesis (its pytest plugin loads it)", "import hypothesis"),
    ("anyio's pytest plugin", "import anyio.pytest_plugin"),
    ("syrupy", "import syrupy"),
    ("xdist", "import xdist.plugin"),
    ("pytest-punie's plugin (what every pytest run imports)", "import pytest_punie.plugin"),
    ("pytest-punie's scorers", "import pytest_punie.scoring.strict, pytest_punie.scoring.legacy"),
    ("mlx.core", "import mlx.core"),
    ("transformers (mlx-lm's tokenizer wrapper pulls it in)", "import transformers"),
    ("mlx_lm (load, generate)", "from mlx_lm import load; from mlx_lm.generate import BatchGenerator"),
]


def wall(code: str, repeats: int, cwd: str | None = None) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=False, cwd=cwd)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    bare = wall("pass", args.repeats)
    print(f"bare interpreter: {bare:.3f} s (subtracted below); median of {args.repeats}")
    print(f"{'piece':<58} {'seconds':>8}")
    for name, code in PIECES:
        print(f"{name:<58} {wall(code, args.repeats) - bare:8.3f}")
    with tempfile.TemporaryDirectory() as empty:  # every installed plugin loaded, nothing collected
        whole = wall("import pytest; pytest.main(['-q', '-p', 'no:cacheprovider'])", args.repeats, empty)
    print(f"{'a whole pytest run in an empty folder (all plugins)':<58} {whole - bare:8.3f}")


if __name__ == "__main__":
    main()
