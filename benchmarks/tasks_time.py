"""Where the task suite's wall time goes on the embedded model: generation, the tools and the sandbox,
each apart, for the conversation (programs run to make the tool responses) and for scoring (the
same programs run again, as every answer's are: no tool output is trusted; the live progress line
judges each first turn as it completes, and its runs are counted here, not as generation). Tool
results are kept per process by workspace state and arguments, so a repeated call is nearly free.

    python benchmarks/tasks_time.py [--rounds 3] [--model tiny_5bit]

Runs ``pytest --punie-model=tiny_5bit -m eval -k tasks --punie-no-cache`` as a user does, in a
subprocess, on a model already built (the main job builds it), with a plugin loaded by ``-p`` that
wraps (never replaces) three functions and adds up their wall time: the in-process backend's
``complete`` (generation; later turns apart from first ones), ``results.run_for_suite`` (the
conversation's program runs) and ``results.run_and_read`` (every program run); each run's
``tool_seconds`` is the tools' own time, the rest of a run's wall time is the sandbox's. Prints the
median of each over the rounds, and what is left (pytest, loading, scoring, the reports).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMER = '''"""Adds up where a run's time goes; written to $PUNIE_TASKS_TIMES at the end of the run."""
import atexit, json, os, time
from pytest_punie import results
from pytest_punie.backends import inprocess

T = {"generation_first": 0.0, "generation_later": 0.0, "first_requests": 0, "later_requests": 0,
     "conversation_runs": 0.0, "runs": 0.0, "tools": 0.0, "programs": 0, "conversation_tools": 0.0,
     "calls": 0, "kept_calls": 0, "conversation_calls": 0, "conversation_kept_calls": 0}
_complete = inprocess.InProcessBackend.complete
_run_and_read, _run_for_suite = results.run_and_read, results.run_for_suite
_depth = [0]


def complete(self, requests, on_result=None):
    t0, runs_before = time.perf_counter(), T["runs"]
    try:
        return _complete(self, requests, on_result)
    finally:  # less the programs that the live progress line judged meanwhile (they are counted as runs)
        later = any("/turn" in r.key for r in requests)
        spent = time.perf_counter() - t0 - (T["runs"] - runs_before)
        T["generation_later" if later else "generation_first"] += spent
        T["later_requests" if later else "first_requests"] += len(requests)


def run_and_read(codes, *args, **kwargs):
    t0 = time.perf_counter()
    out = _run_and_read(codes, *args, **kwargs)
    T["runs"] += time.perf_counter() - t0
    T["programs"] += len(out[0])
    spent = sum(r.tool_seconds for r in out[0])
    calls = [c for r in out[0] for c in r.calls]
    T["tools"] += spent
    T["calls"] += len(calls)
    T["kept_calls"] += sum(c.cached for c in calls)
    if _depth[0]:
        T["conversation_tools"] += spent
        T["conversation_calls"] += len(calls)
        T["conversation_kept_calls"] += sum(c.cached for c in calls)
    return out


def run_for_suite(*args, **kwargs):
    _depth[0] += 1
    t0 = time.perf_counter()
    try:
        return _run_for_suite(*args, **kwargs)
    finally:
        _depth[0] -= 1
        T["conversation_runs"] += time.perf_counter() - t0


inprocess.InProcessBackend.complete = complete
results.run_and_read = run_and_read
results.run_for_suite = run_for_suite
atexit.register(lambda: open(os.environ["PUNIE_TASKS_TIMES"], "w").write(json.dumps(T)))
'''


def one_run(cmd: list[str], env: dict[str, str], times: Path) -> dict[str, float]:
    """One task-suite run: its wall time, exit status and what the timer added up."""
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env={**env, "PUNIE_TASKS_TIMES": str(times)}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        sys.exit(f"the run failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return {**json.loads(times.read_text()), "wall": wall, "exit": done.returncode}


def main() -> None:
    """Runs the rounds and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="tiny_5bit")
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "pytest", f"--punie-model={args.model}", "-m", "eval", "-k", "tasks", "-q"]
    cmd += ["-p", "no:cacheprovider", "--punie-no-cache", "-p", "punie_tasks_timer", "--punie-json=bench-tasks.json"]
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "punie_tasks_timer.py").write_text(TIMER, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, os.environ.get("PYTHONPATH", "")])}
        one_run(cmd, env, Path(tmp, "warm.json"))  # warm-up: the model built, files in the page cache
        rounds = [one_run(cmd, env, Path(tmp, f"r{i}.json")) for i in range(args.rounds)]
        doc = json.loads((ROOT / "bench-tasks.json").read_text())
        (ROOT / "bench-tasks.json").unlink()
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    talked = sum(1 for p in doc["prompts"] if (p["response"] or {}).get("punie", {}).get("turns"))
    answered = sum(1 for p in doc["prompts"] if p["error"] is None)
    print(
        f"task suite on {args.model}: {len(doc['prompts'])} tasks, {answered} answered, {talked} with a tool "
        f"response; {int(med['first_requests'])} first and {int(med['later_requests'])} later model turns, "
        f"{int(med['programs'])} program runs; median of {args.rounds} rounds, every turn generated"
    )
    talk_calls, all_calls = int(med["conversation_calls"]), int(med["calls"])
    print(
        f"tool calls: {talk_calls} in the conversation ({int(med['conversation_kept_calls'])} answered from the "
        f"process's kept results), {all_calls - talk_calls} in scoring "
        f"({int(med['kept_calls'] - med['conversation_kept_calls'])} kept; live progress judging included)"
    )
    rows = [
        ("generation, first turns", med["generation_first"]),
        ("generation, later turns", med["generation_later"]),
        ("tools, in the conversation", med["conversation_tools"]),
        ("sandbox, in the conversation", med["conversation_runs"] - med["conversation_tools"]),
        ("tools, scoring", med["tools"] - med["conversation_tools"]),
        ("sandbox, scoring", (med["runs"] - med["conversation_runs"]) - (med["tools"] - med["conversation_tools"])),
    ]
    rest = med["wall"] - sum(s for _, s in rows)
    print(f"{'where':<40} {'seconds':>8} {'share':>7}")
    for what, seconds in [*rows, ("the rest (pytest, load, score, reports)", rest)]:
        print(f"{what:<40} {seconds:>8.2f} {seconds / med['wall']:>6.1%}")
    print(f"{'wall':<40} {med['wall']:>8.2f}   exit {int(med['exit'])}")


if __name__ == "__main__":
    main()
