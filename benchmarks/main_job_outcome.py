"""The main job's wall time with and without the outcome scorer, and with no program run at all.

    python benchmarks/main_job_outcome.py [--rounds 3] [--model tiny_5bit]

Runs the README's main job (``pytest --punie-model=tiny_5bit -m eval evalsuites/phase33.yaml``) as
a user does, in a subprocess, on a model already built (build it once first: the main job does),
each round three ways, in turn:
- as shipped: the primary scorer, programs run in the sandbox for the ``runs`` column;
- ``--punie-scorer=outcome``: the outcome scorer decides the verdict;
- programs not run: the same job with ``results.run_and_read`` replaced by a no-op (a plugin
  loaded with ``-p``), i.e. the job as it was before the sandbox.
``--punie-no-cache`` makes every round generate its 27 responses (the response cache would
otherwise hide generation). Prints the median wall time of each and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NO_PROGRAMS = '''"""Replaces the sandbox's run by a no-op: the main job as it was before programs ran."""
from pytest_punie import results

results.run_and_read = lambda *args, **kwargs: ((), {})
'''


def run(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """One main job: its wall time and exit status."""
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, done.returncode


def main() -> None:
    """Runs the rounds and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="tiny_5bit")
    args = parser.parse_args()
    base = [sys.executable, "-m", "pytest", f"--punie-model={args.model}", "-m", "eval"]
    base += ["evalsuites/phase33.yaml", "-q", "-p", "no:cacheprovider", "--punie-no-cache"]
    with tempfile.TemporaryDirectory() as plugin_dir:
        Path(plugin_dir, "punie_no_programs.py").write_text(NO_PROGRAMS, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([plugin_dir, os.environ.get("PYTHONPATH", "")])}
        ways = {
            "as shipped (primary scorer, programs run)": base,
            "--punie-scorer=outcome": [*base, "--punie-scorer=outcome"],
            "programs not run (before the sandbox)": [*base, "-p", "punie_no_programs"],
        }
        times: dict[str, list[float]] = {k: [] for k in ways}
        codes: dict[str, set[int]] = {k: set() for k in ways}
        run(base, env)  # warm-up: the model built, files in the page cache
        for _ in range(args.rounds):
            for what, cmd in ways.items():
                seconds, code = run(cmd, env)
                times[what].append(seconds)
                codes[what].add(code)
    print(f"main job on {args.model}, {args.rounds} rounds, every response generated (--punie-no-cache)")
    print(f"{'how':<46} {'median wall':>12} {'exit':>6}")
    for what, xs in times.items():
        print(f"{what:<46} {statistics.median(xs):>11.2f}s {','.join(map(str, sorted(codes[what]))):>6}")
    bare = statistics.median(times["programs not run (before the sandbox)"])
    for what in list(ways)[:2]:
        print(f"ratio {what} / programs not run: {statistics.median(times[what]) / bare:.2f}x")


if __name__ == "__main__":
    main()
