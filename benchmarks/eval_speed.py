"""Eval speed on the tiny model, three ways, in one run (prints a table).

1. legacy: what the one-off script did: start ``mlx_lm server``, sleep 3 s,
   poll ``/v1/models`` once a second, then 27 requests one after another;
2. in-process: pytest-punie's default backend, one batched generation;
3. managed server: pytest-punie's server backend (free port, ``/health``
   readiness polled every 0.1 s, 8 concurrent connections).

Each is timed end to end (start-up included). Outputs must be the same:
compared per prompt as the calls and text a scorer sees.

    python benchmarks/eval_speed.py [--model tiny_5bit]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_punie.backends import ChatRequest  # noqa: E402
from pytest_punie.backends.http import HttpBackend, ManagedServer, free_port, request_body  # noqa: E402
from pytest_punie.blas import subprocess_env  # noqa: E402
from pytest_punie.scoring.parse import parse_response  # noqa: E402
from pytest_punie.sources.model import messages_for  # noqa: E402
from pytest_punie.suite import load_suite  # noqa: E402


def normalized(response: dict) -> tuple:
    parsed = parse_response(response)
    return tuple((c.name, (c.code or c.raw_arguments).strip()) for c in parsed.calls), parsed.visible_text.strip()


def legacy(model_path: Path, reqs: list[ChatRequest], log_dir: Path) -> list[dict]:
    port = free_port()
    (log_dir / "hf").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlx_lm", "server", "--model", str(model_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=subprocess_env({"HF_HUB_CACHE": str(log_dir / "hf")}),
    )
    try:
        time.sleep(3)
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(f"{url}/v1/models", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        out = []
        with httpx.Client() as client:
            for r in reqs:
                out.append(
                    client.post(f"{url}/v1/chat/completions", json=request_body(str(model_path), r), timeout=120).json()
                )
        return out
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny_5bit")
    args = ap.parse_args()
    from pytest_punie.models.cache import BuildCache, default_cache_dir
    from pytest_punie.models.resolve import materialize, resolve_spec

    cache = BuildCache(default_cache_dir(ROOT), log=lambda m: print(m, file=sys.stderr))
    model = materialize(resolve_spec(args.model, ROOT), ROOT, cache, cache.log)
    suite = load_suite(ROOT / "evalsuites" / "phase33.yaml")
    reqs = [ChatRequest(p.id, messages_for(suite, p), suite.sampling_for(p)) for p in suite.prompts]
    results: dict[str, tuple[float, list[dict]]] = {}

    t = time.perf_counter()
    outs = legacy(model.path, reqs, cache.root / "bench")
    results["legacy script (server, sleep 3 s, poll 1 s, sequential)"] = (time.perf_counter() - t, outs)

    # in a fresh process, so model loading is counted like the other two
    t = time.perf_counter()
    code = (
        "import json,sys; from pytest_punie.backends.inprocess import InProcessBackend;"
        "from pytest_punie.backends import ChatRequest; from pytest_punie.suite.model import Sampling;"
        "reqs=[ChatRequest(r['key'], tuple(r['messages']), Sampling(**{**r['sampling'], 'stop': tuple(r['sampling']['stop'])}))"
        " for r in json.load(sys.stdin)];"
        "print(json.dumps([x.response for x in InProcessBackend(sys.argv[1]).complete(reqs)]))"
    )
    import json

    payload = json.dumps([{"key": r.key, "messages": list(r.messages), "sampling": r.sampling.as_dict()} for r in reqs])
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model.path)],
        input=payload,
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    )
    results["pytest-punie in-process (batched)"] = (time.perf_counter() - t, json.loads(proc.stdout))

    t = time.perf_counter()
    server = ManagedServer(model.path, log_dir=cache.root / "bench").start()
    try:
        recs = HttpBackend(server.url, str(model.path)).complete(reqs)
    finally:
        server.stop()
    results["pytest-punie managed server (8 concurrent)"] = (time.perf_counter() - t, [r.response for r in recs])

    base_time, base_out = next(iter(results.values()))
    ref = [normalized(o) for o in base_out]
    print(f"model {model.path} ({model.digest[:19]}), {len(reqs)} prompts, temperature 0")
    print(f"{'method':<58} {'seconds':>8} {'speed-up':>9} {'same outputs':>13}")
    for name, (secs, outs) in results.items():
        same = sum(normalized(o) == r for o, r in zip(outs, ref, strict=True))
        print(f"{name:<58} {secs:>8.2f} {base_time / secs:>8.1f}x {same:>6}/{len(reqs)}")


if __name__ == "__main__":
    main()
