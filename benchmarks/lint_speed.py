"""Data-lint speed and memory at 1x, 10x and 100x a 1,282-example dataset.

Builds the datasets from the project's own data (repeated with distinct
queries, so duplicate checks do real work), lints each in a fresh process
and prints check time and peak memory (resident set) for each size.

    python benchmarks/lint_speed.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_EXAMPLES = 1282

CHILD = """
import json, resource, sys, time
from pathlib import Path
from pytest_punie.datalint import LintConfig, lint_dataset
from pytest_punie.suite import load_suite
suite = load_suite(sys.argv[2])
cfg = LintConfig(eval_queries=tuple(p.query for p in suite.prompts), eval_system_prompt=suite.system_prompt,
                 tool_share=(0.0, 1.0))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
findings = lint_dataset(Path(sys.argv[1]), cfg)
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": secs, "peak_kb": peak, "before_kb": before, "findings": len(findings)}))
"""


def make(directory: Path, factor: int) -> tuple[int, int]:
    rows = []
    for split in ("train", "valid", "test"):
        rows += [json.loads(line) for line in (ROOT / "data" / f"{split}.jsonl").read_text().splitlines()]
    n = BASE_EXAMPLES * factor
    directory.mkdir(parents=True)
    size = 0
    with open(directory / "train.jsonl", "w", encoding="utf-8") as fh:
        for i in range(n):
            ex = json.loads(json.dumps(rows[i % len(rows)]))
            for m in ex["messages"]:
                if m["role"] == "user":
                    m["content"] = f"{m['content']} (variant {i})"
                    break
            line = json.dumps(ex) + "\n"
            size += len(line.encode())
            fh.write(line)
    return n, size


def main() -> None:
    print(
        f"{'size':>5} {'examples':>9} {'MB':>7} {'check s':>8} {'s/1k ex':>8} {'peak RSS MB':>12} {'RSS growth MB':>14}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for factor in (1, 10, 100):
            d = Path(tmp) / f"x{factor}"
            n, size = make(d, factor)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(d), str(ROOT / "evalsuites" / "phase33.yaml")],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{factor:>4}x {n:>9} {size / 1e6:>7.1f} {r['seconds']:>8.2f} {r['seconds'] / n * 1000:>8.3f} "
                f"{r['peak_kb'] / 1024:>12.1f} {(r['peak_kb'] - r['before_kb']) / 1024:>14.1f}"
            )


if __name__ == "__main__":
    main()
