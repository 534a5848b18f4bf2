"""Where a rerun's time goes, in one run (prints a table).

A cache-hit rerun of the main job (every response from the response cache, no mlx imported) and a
replay run (responses from a file, no model at all) against the floor they stand on: pytest with
this environment's plugins in an empty folder, without pytest-punie and with it (its plugin
imported). Each is timed twice: as this machine runs Python (``PYTHONDONTWRITEBYTECODE=1``: every
module compiled, and pytest's assertion rewriting of every plugin package redone, on every run)
and with bytecode kept (Python's default: warm ``__pycache__`` under a temporary prefix). Then one
profiled rerun: pytest-punie's own functions by cumulative time, and the seconds its modules take
to import.

    python benchmarks/rerun_breakdown.py [--model tiny_5bit] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPLAY = ROOT / "tests" / "fixtures" / "phase33b_responses.jsonl"


def timed(cmd: list[str], cwd: Path, env: dict[str, str], repeats: int) -> float:
    """Median wall seconds of ``cmd`` (one untimed run first: file caches, bytecode)."""
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny_5bit")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    rerun = [*pytest_cmd, f"--punie-model={args.model}", "-m", "eval", "-k", "phase33"]
    replay = [*pytest_cmd, "-m", "eval", f"--punie-responses={REPLAY}", "evalsuites/phase33.yaml"]
    # the rerun must be a cache hit: one run keeps every response (and builds what is missing)
    subprocess.run(rerun, cwd=ROOT, capture_output=True, check=False)
    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as prefix:
        base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
        modes = {
            "PYTHONDONTWRITEBYTECODE=1 (this machine)": {**base, "PYTHONDONTWRITEBYTECODE": "1"},
            "bytecode kept (Python's default)": {**base, "PYTHONPYCACHEPREFIX": prefix},
        }
        rows = [
            ("pytest in an empty folder, without pytest-punie", [*pytest_cmd, "-p", "no:punie"], Path(empty)),
            ("pytest in an empty folder, pytest-punie's plugin loaded", pytest_cmd, Path(empty)),
            ("replay run (27 responses from a file, no model)", replay, ROOT),
            ("cache-hit rerun of the main job (27 from the cache)", rerun, ROOT),
        ]
        table = {name: [timed(cmd, cwd, env, args.repeats) for env in modes.values()] for name, cmd, cwd in rows}
    print(f"median of {args.repeats} runs each, seconds, one run of this script ({time.strftime('%Y-%m-%d')})")
    print(f"{'run':<58} " + " ".join(f"{m[:26]:>26}" for m in modes))
    for name, secs in table.items():
        print(f"{name:<58} " + " ".join(f"{s:>26.2f}" for s in secs))
    floor = table["pytest in an empty folder, without pytest-punie"]
    ours = table["cache-hit rerun of the main job (27 from the cache)"]
    print(
        f"{'pytest-punie share of the rerun (rerun - floor)':<58} "
        + " ".join(f"{o - f:>26.2f}" for o, f in zip(ours, floor, strict=True))
    )

    with tempfile.TemporaryDirectory() as tmp:
        prof = Path(tmp) / "rerun.prof"
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(prof), *rerun[1:]],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        stats = pstats.Stats(str(prof))
        imports = subprocess.run(
            [sys.executable, "-X", "importtime", *rerun[1:]], cwd=ROOT, capture_output=True, text=True, check=False
        ).stderr
    own_us = sum(
        int(line.split("|")[0].split(":")[1])
        for line in imports.splitlines()
        if line.startswith("import time:") and line.split("|")[-1].strip().startswith("pytest_punie")
    )
    print(f"\nimporting pytest-punie's modules (their own time, -X importtime): {own_us / 1e6:.2f} s")
    print("pytest-punie's functions in one profiled rerun (cumulative s, the profiler's overhead included):")
    rows_p = []
    for (file, line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "pytest_punie" in file and func != "<module>":
            rows_p.append(
                (ct, f"{Path(file).relative_to(ROOT) if file.startswith(str(ROOT)) else file}:{line}({func})")
            )
    for ct, where in sorted(rows_p, reverse=True)[:15]:
        print(f"  {ct:6.3f}  {where}")


if __name__ == "__main__":
    main()
