"""What verifying the model under test costs: every file hashed each run.

Writes a model-like directory (config, tokenizer, N safetensors shards of
random bytes) in a temporary folder, then times the digest pytest-punie
computes of the model under test (shards hashed in parallel) against hashing
the same files one after another. Prints a table; the figures go to
docs/lab/measurements.md.

    python benchmarks/digest_speed.py [--gib 2] [--shards 4]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from pytest_punie.models.digest import model_files, path_digest
from pytest_punie.provenance import file_sha256


def make_model(root: Path, gib: float, shards: int) -> int:
    (root / "config.json").write_text('{"model_type": "qwen3"}')
    (root / "tokenizer.json").write_text("{}")
    block = os.urandom(1 << 24)
    per_shard = int(gib * (1 << 30) / shards)
    for i in range(shards):
        with open(root / f"model-{i + 1:05d}-of-{shards:05d}.safetensors", "wb") as fh:
            for _ in range(per_shard // len(block)):
                fh.write(block)
    return sum(p.stat().st_size for p in root.iterdir())


def sequential(root: Path) -> str:
    h = hashlib.sha256()
    for f in model_files(root):
        h.update(f.name.encode() + b"\0" + file_sha256(f).encode() + b"\n")
    return "sha256:" + h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=2.0)
    ap.add_argument("--shards", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="punie-digest-") as tmp:
        root = Path(tmp)
        size = make_model(root, args.gib, args.shards)
        path_digest(root)  # once, so both timings read from the page cache
        rows = []
        for name, fn in (("one file after another", sequential), ("pytest-punie (shards in parallel)", path_digest)):
            started = time.monotonic()
            digest = fn(root)
            seconds = time.monotonic() - started
            rows.append((name, seconds, size / seconds / (1 << 30), digest))
        assert rows[0][3] == rows[1][3], "both ways must give the same digest"
    print(f"model directory: {size / (1 << 30):.2f} GiB in {args.shards} shards, {os.cpu_count()} cores")
    print(f"{'method':<36} {'seconds':>8} {'GiB/s':>7} {'ratio':>6} {'20 GB model':>12}")
    for name, seconds, rate, _ in rows:
        print(f"{name:<36} {seconds:>8.2f} {rate:>7.2f} {rows[0][1] / seconds:>5.2f}x {20 / rate / 1.0737:>10.1f} s")


if __name__ == "__main__":
    main()
