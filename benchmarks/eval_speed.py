"""Eval speed on the tiny model, five ways, in one run (prints a table).

1. legacy: what the one-off script did: start ``mlx_lm server``, sleep 3 s,
   poll ``/v1/models`` once a second, then 27 requests one after another;
2. in-process: pytest-punie's default backend, one batched generation;
3. managed server: pytest-punie's server backend (free port, ``/health``
   readiness polled every 0.1 s, 8 concurrent connections);
4. the main job as users run it (``pytest --punie-model=... -m eval -k phase33``),
   warm, generating every response (``--punie-no-cache``);
5. the same command again: an identical rerun, every response from the cache.

Each is timed end to end (start-up included). Outputs must be the same:
compared per prompt as the calls and text a scorer sees.

    python benchmarks/eval_speed.py [--model tiny_5bit]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_punie.backends import ChatRequest  # noqa: E402
from pytest_punie.backends.httpclient import HttpBackend, request_body  # noqa: E402
from pytest_punie.backends.managedserver import ManagedServer, free_port  # noqa: E402
from pytest_punie.blas import subprocess_env  # noqa: E402
from pytest_punie.sources.modelsource import messages_for  # noqa: E402
from pytest_punie.suite import load_suite  # noqa: E402


def client_view(response: dict) -> tuple:
    """What an OpenAI client sees: content, tool calls (name, arguments), finish reason."""
    choice = response["choices"][0]
    msg = choice["message"]
    calls = tuple((c["function"]["name"], c["function"]["arguments"]) for c in msg.get("tool_calls") or [])
    return msg.get("content"), calls, choice["finish_reason"]


def legacy(model_path: Path, reqs: list[ChatRequest], log_dir: Path) -> tuple[list[dict], float]:
    """Returns the responses and the seconds spent generating (after start-up)."""
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
        started = time.perf_counter()
        with httpx.Client() as client:
            for r in reqs:
                out.append(
                    client.post(f"{url}/v1/chat/completions", json=request_body(str(model_path), r), timeout=120).json()
                )
        return out, time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny_5bit")
    ap.add_argument("--rounds", type=int, default=3, help="every method once per round, medians printed")
    args = ap.parse_args()
    from pytest_punie.models.cache import BuildCache, default_cache_dir
    from pytest_punie.models.resolve import materialize, resolve_spec

    cache = BuildCache(default_cache_dir(ROOT), log=lambda m: print(m, file=sys.stderr))
    model = materialize(resolve_spec(args.model, ROOT), ROOT, cache, cache.log)
    suite = load_suite(ROOT / "evalsuites" / "phase33.yaml")
    reqs = [ChatRequest(p.id, messages_for(suite, p), suite.sampling_for(p)) for p in suite.prompts]
    rounds = [one_round(args.model, model, cache, reqs) for _ in range(args.rounds)]
    results = {
        name: (
            statistics.median(r[name][0] for r in rounds),
            statistics.median(r[name][1] for r in rounds),
            rounds[-1][name][2],
        )
        for name in rounds[0]
    }
    base_time, base_gen, base_out = next(iter(results.values()))
    ref = [client_view(o) for o in base_out]
    ids = [o["punie"]["token_ids"] for o in results["pytest-punie in-process (batched)"][2]]
    print(
        f"model {model.path} ({model.digest[:19]}), {len(reqs)} prompts, temperature 0, median of {args.rounds} rounds"
    )
    print(f"{'method':<56} {'end to end':>10} {'ratio':>6} {'generation':>10} {'ratio':>6} {'same':>6} {'ids':>6}")
    for name, (secs, gen, outs) in results.items():
        same = sum(client_view(o) == r for o, r in zip(outs, ref, strict=True))
        same_ids = sum(o.get("punie", {}).get("token_ids") == i for o, i in zip(outs, ids, strict=True))
        generation = "         -      -" if gen != gen else f"{gen:>9.2f}s {base_gen / gen:>5.1f}x"  # nan: not timed
        print(
            f"{name:<56} {secs:>9.2f}s {base_time / secs:>5.1f}x {generation} "
            f"{same:>3}/{len(reqs)} {same_ids if 'punie' in outs[0] else '-':>3}/{len(reqs)}"
        )
    print("each round, end to end:")
    for name in results:
        print(f"  {name:<54} " + ", ".join(f"{r[name][0]:.2f}s" for r in rounds))
    print(
        "same: identical client view (content, tool calls, finish reason) to the legacy run; "
        "ids: identical generated token ids to the in-process run"
    )


def one_round(spec: str, model, cache, reqs: list[ChatRequest]) -> dict[str, tuple[float, float, list[dict]]]:
    """Every method once, in order: name -> (end to end, generation only, outputs)."""
    results: dict[str, tuple[float, float, list[dict]]] = {}
    t = time.perf_counter()
    outs, gen = legacy(model.path, reqs, cache.root / "bench")
    results["legacy script (server, sleep 3 s, poll 1 s, sequential)"] = (time.perf_counter() - t, gen, outs)

    # in a fresh process, so model loading is counted like the other two
    t = time.perf_counter()
    code = (
        "import json,sys;"
        "from pytest_punie.backends.inprocess import InProcessBackend;"
        "from pytest_punie.backends import ChatRequest; from pytest_punie.suite.suitetypes import Sampling;"
        "reqs=[ChatRequest(r['key'], tuple(r['messages']),"
        " Sampling(**{**r['sampling'], 'stop': tuple(r['sampling']['stop'])}))"
        " for r in json.load(sys.stdin)];"
        "import time; b=InProcessBackend(sys.argv[1]); b.load(); t=time.perf_counter(); out=b.complete(reqs);"
        "print(json.dumps({'gen': time.perf_counter()-t, 'out': [x.response for x in out]}))"
    )
    payload = json.dumps([{"key": r.key, "messages": list(r.messages), "sampling": r.sampling.as_dict()} for r in reqs])
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model.path)],
        input=payload,
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    )
    got = json.loads(proc.stdout)
    results["pytest-punie in-process (batched)"] = (time.perf_counter() - t, got["gen"], got["out"])

    t = time.perf_counter()
    server = ManagedServer(model.path, log_dir=cache.root / "bench").start()
    try:
        g = time.perf_counter()
        recs = HttpBackend(server.url, str(model.path), tokenizer_file=model.path / "tokenizer.json").complete(reqs)
        gen = time.perf_counter() - g
    finally:
        server.stop()
    results["pytest-punie managed server (8 concurrent)"] = (time.perf_counter() - t, gen, [r.response for r in recs])

    # the main job as users run it, through pytest (start-up, collection, digest check, scoring,
    # every report): warm (built, imported once before), generating; then an identical rerun
    def main_job(*extra: str) -> tuple[float, list[dict]]:
        out_json = cache.root / "bench" / "main-job.json"
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"--punie-model={spec}",
                "-m",
                "eval",
                "-k",
                "phase33",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--punie-json={out_json}",
                *extra,
            ],
            cwd=ROOT,
            capture_output=True,
            env=subprocess_env(),
            check=False,
        )
        secs = time.perf_counter() - t
        doc = json.loads(out_json.read_text())
        order = {r.key: i for i, r in enumerate(reqs)}
        return secs, [p["response"] for p in sorted(doc["prompts"], key=lambda p: order[p["id"]])]

    main_job("--punie-no-cache")  # warm-up: imports, file caches
    secs, outs = main_job("--punie-no-cache")
    results["pytest -m eval (warm, generating: --punie-no-cache)"] = (secs, float("nan"), outs)
    main_job()  # keeps the responses
    secs, outs = main_job()
    results["pytest -m eval (identical rerun: 27 from the cache)"] = (secs, float("nan"), outs)

    return results


if __name__ == "__main__":
    main()
