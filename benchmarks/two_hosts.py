"""Off one machine, measured on one (prints two tables, one run each).

1. A two-seed sweep of the tiny recipe on Phase 33 (``--punie-seeds=0,1 -k phase33``): serially on
   this machine vs over two ssh hosts on loopback addresses (scripts/loopback_hosts.py: an sshd
   each, ``--dist load --tx ssh=...``), a seed per host. Each side starts from caches holding the
   base model only, so each seed is trained, fused, quantized and answered inside the timing.
2. The Phase 33 eval (``--punie-no-cache``) against one ``mlx_lm server`` vs two serving the same
   model (repeated ``--punie-server-url``), with the POSTs each server logged.

Both hosts and both servers share this machine's cores: the ratios say what the plumbing costs
or saves here, not what two machines give.

    python benchmarks/two_hosts.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCRIPT = ROOT / "scripts" / "loopback_hosts.py"
HOSTS = ("127.0.0.2", "127.0.0.3")
BASE_STEPS = ("tokenizer", "base-qwen3", "q4", "datalint", "preflight")
SEEDS = ["--punie-model=tiny_5bit", "--punie-seeds=0,1", "-m", "eval", "-k", "phase33", "-q", "-p", "no:cacheprovider"]


def tiny_model() -> tuple[Path, Path]:
    """The project's cache and the tiny 5-bit model in it (built first if missing)."""
    from pytest_punie.models.cache import BuildCache, default_cache_dir
    from pytest_punie.models.resolve import materialize, resolve_spec

    cache = BuildCache(default_cache_dir(ROOT), log=lambda m: print(m, file=sys.stderr))
    return cache.root, Path(materialize(resolve_spec("tiny_5bit", ROOT), ROOT, cache, cache.log).path)


def base_only(src: Path, dst: Path) -> None:
    """A cache holding the base model only: every seed is built where it is answered."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for step in BASE_STEPS:
        if (src / step).is_dir():
            shutil.copytree(src / step, dst / step)


def project(where: Path) -> Path:
    """The project's registry, suites and data, copied."""
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    for name in ("evalsuites", "data"):
        shutil.rmtree(where / name, ignore_errors=True)
        shutil.copytree(ROOT / name, where / name)
    return where


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, dict]:
    """Run a pytest command; its wall seconds and results document (out.json)."""
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-3000:]}")
    return seconds, json.loads((cwd / "out.json").read_text())


def answers(doc: dict) -> dict:
    return {
        (p["suite"], p["variant"], p["id"]): (p["scores"], p["label"], p["response"]["punie"]["token_ids"])
        for p in doc["prompts"]
        if p["response"] and not p["error"]
    }


def sweep(work: Path, cache: Path) -> None:
    """Table 1: the seed sweep, serial vs two ssh hosts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PUNIE_"))}
    here = project(work / "here")
    base_only(cache, work / "here-cache")
    serial_s, serial = timed(
        [sys.executable, "-m", "pytest", *SEEDS, "--punie-json=out.json"],
        here,
        {**env, "PUNIE_CACHE_DIR": str(work / "here-cache")},
    )
    folder = work / "hosts"
    script = [sys.executable, str(SCRIPT)]
    started = subprocess.run([*script, "start", str(folder), *HOSTS], capture_output=True, text=True)
    if started.returncode != 0:
        sys.exit(f"the loopback hosts did not start: {started.stderr}")
    try:
        for address in HOSTS:
            project(folder / address)
            base_only(cache, folder / address / "cache")
        tx = subprocess.run(
            [sys.executable, str(SCRIPT), "tx", str(folder)], capture_output=True, text=True
        ).stdout.split()
        hosts_s, hosts = timed(
            [sys.executable, "-m", "pytest", *SEEDS, "--punie-json=out.json", "--dist", "load", *tx], here, env
        )
    finally:
        subprocess.run([*script, "stop", str(folder)], check=False)
    a, b = answers(serial), answers(hosts)
    where = {v: d["hosts"] for v, d in hosts["provenance"]["variants"].items()}
    print("\n2 seeds x Phase 33 (27 prompts), each seed trained, fused, quantized and answered in the timing")
    print(f"{'run':<28}{'wall s':>9}{'answered':>10}")
    print(f"{'serial, this machine':<28}{serial_s:>9.1f}{len(a):>10}")
    print(f"{'two ssh hosts (loopback)':<28}{hosts_s:>9.1f}{len(b):>10}")
    print(f"ratio serial / two hosts: {serial_s / hosts_s:.2f}x; the same answers prompt for prompt: {a == b}")
    print(f"hosts: {where}")


def served_posts(log_dir: Path, port: int) -> int:
    text = (log_dir / f"server-{port}.log").read_text(errors="replace")
    return len(re.findall(r'"POST /v1/chat/completions HTTP/1\.1" 200', text))


def endpoints(work: Path, model: Path) -> None:
    """Table 2: one endpoint vs two, the same model, every response generated."""
    from pytest_punie.backends.managedserver import ManagedServer

    here = project(work / "endpoints")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PUNIE_"))}
    servers = [ManagedServer(model, log_dir=work / f"server{i}") for i in range(2)]
    rows = []
    try:
        for s in servers:
            s.start()
        args = ["-m", "eval", "-k", "phase33", "--punie-no-cache", f"--punie-server-model={model.resolve()}",
                f"--punie-tokenizer={model}", "-q", "-p", "no:cacheprovider", "--punie-json=out.json"]  # fmt: skip
        for label, pool in (("one endpoint", servers[:1]), ("two endpoints", servers)):
            before = [served_posts(s.log_dir, s.port) for s in servers]
            urls = [f"--punie-server-url={s.url}" for s in pool]
            seconds, doc = timed([sys.executable, "-m", "pytest", *urls, *args], here, env)
            posts = [served_posts(s.log_dir, s.port) - b for s, b in zip(servers, before, strict=True)]
            rows.append((label, seconds, len(answers(doc)), posts, answers(doc)))
    finally:
        for s in servers:
            s.stop()
    print("\nPhase 33 (27 prompts) against mlx_lm servers of the tiny 5-bit model, --punie-no-cache")
    print(f"{'run':<16}{'wall s':>9}{'answered':>10}{'POSTs per server':>20}{'POSTs/prompt':>14}")
    for label, seconds, n, posts, _ in rows:
        print(f"{label:<16}{seconds:>9.1f}{n:>10}{posts!s:>20}{sum(posts) / max(n, 1):>14.2f}")
    print(f"ratio one / two endpoints: {rows[0][1] / rows[1][1]:.2f}x; the same answers: {rows[0][4] == rows[1][4]}")


def main() -> None:
    cache, model = tiny_model()
    with tempfile.TemporaryDirectory(prefix="punie-two-hosts-") as tmp:
        sweep(Path(tmp), cache)
        endpoints(Path(tmp), model)


if __name__ == "__main__":
    main()
