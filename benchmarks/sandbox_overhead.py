"""The sandbox's cost: its own overhead per program (the run's wall time less the tools' own time),
median and p95, with the worker pool reused, and what running the programs adds to judging a suite.

    python benchmarks/sandbox_overhead.py [--rounds 5]

Prints a table. The programs are the 27 answers of tests/fixtures/phase33b_responses.jsonl (the
reference Phase 33b outcomes), run against the packaged workspace; the tools' first calls run
the real programs, later rounds find their results kept (as a suite's repeated calls do).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Runs the rounds and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from pytest_punie import results
    from pytest_punie.backends import ResponseRecord
    from pytest_punie.sandbox import run_programs
    from pytest_punie.scoring import parse_response
    from pytest_punie.suite import load_suite
    from pytest_punie.toolsurface import load_surface

    suite = load_suite(ROOT / "pytest_punie" / "suites" / "phase33.yaml")
    surface = load_surface()
    lines = (ROOT / "tests" / "fixtures" / "phase33b_responses.jsonl").read_text().splitlines()[1:]
    answers = {row["id"]: row["response"] for row in map(json.loads, lines)}
    programs = []
    for response in answers.values():
        parsed = parse_response(response)
        programs += [[c.code or ""] for c in parsed.calls if c.complete and c.wrapped]

    start = time.perf_counter()
    run_programs(["x = 1"])  # the worker pool and the workspace template, made once per process
    first_use = time.perf_counter() - start

    overhead, tools, walls = [], [], []
    for _ in range(args.rounds):
        for codes in programs:
            t0 = time.perf_counter()
            (run,) = run_programs(codes)
            walls.append(time.perf_counter() - t0)
            overhead.append(run.seconds - run.tool_seconds)
            tools.append(run.tool_seconds)

    def judge(with_programs: bool) -> float:
        saved = results.run_and_read
        if not with_programs:
            results.run_and_read = lambda *a, **k: ((), {})  # type: ignore[assignment]
        try:
            t0 = time.perf_counter()
            for prompt in suite.prompts:
                record = ResponseRecord(response=answers[prompt.id], error=None)
                results.judge_prompt("phase33.yaml", suite, prompt, [record])
            return time.perf_counter() - t0
        finally:
            results.run_and_read = saved

    judged_with = statistics.median(judge(True) for _ in range(args.rounds))
    judged_without = statistics.median(judge(False) for _ in range(args.rounds))

    def q(xs: list[float], p: float) -> float:
        return sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]

    def row(what: str, xs: list[float]) -> str:
        return f"{what:<52} {statistics.median(xs) * 1e3:>8.1f}ms {q(xs, 0.95) * 1e3:>8.1f}ms"

    print(f"programs: {len(programs)} x {args.rounds} rounds; surface {len(surface.tools)} tools")
    print(f"{'what':<52} {'median':>10} {'p95':>10}")
    print(row("sandbox overhead per program (run less its tools)", overhead))
    print(row("tools per program (first round runs them)", tools))
    print(row("whole run_programs (a writer's copy included)", walls))
    print(f"{'first use (pool start, workspace made)':<52} {first_use * 1e3:>8.1f}ms")
    print(f"{'judging 27 prompts, programs run':<52} {judged_with * 1e3:>8.1f}ms")
    print(f"{'judging 27 prompts, no program run':<52} {judged_without * 1e3:>8.1f}ms")
    print(f"ratio judged with / without: {judged_with / judged_without:.2f}x")


if __name__ == "__main__":
    main()
