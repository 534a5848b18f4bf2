"""Several endpoints serving one model: two real ``mlx_lm server``s on two ports take one run's
requests between them; a third serving a different model makes the run refuse, naming both."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def served_requests(server) -> int:
    """Chat completions the server answered, from its own request log."""
    log = Path(server.log_dir) / f"server-{server.port}.log"
    return len(re.findall(r'"POST /v1/chat/completions HTTP/1\.1" 200', log.read_text(errors="replace")))


def test_two_servers_share_one_run_and_a_third_serving_another_model_is_refused(tiny_project, tiny_model, tmp_path):
    from pytest_punie.backends.http import ManagedServer

    fused = Path(next(b for b in tiny_model.builds if b["step"] == "fused")["path"])
    servers = [ManagedServer(tiny_model.path, log_dir=tmp_path / f"s{i}") for i in range(2)]
    other = ManagedServer(fused, log_dir=tmp_path / "other")
    try:
        for s in [*servers, other]:
            s.start()
        name = str(tiny_model.path.resolve())
        args = [
            "-m", "eval", f"--punie-server-model={name}",
            f"--punie-tokenizer={tiny_model.path}", "--punie-server-concurrency=4", "-p", "no:cacheprovider",
        ]  # fmt: skip
        urls = [f"--punie-server-url={s.url}" for s in servers]
        result = tiny_project.runpytest_subprocess(*urls, *args, "--punie-json=pool.json")
        assert result.ret in (0, 1), result.stdout.str()[-3000:]
        doc = json.loads((tiny_project.path / "pool.json").read_text())
        assert doc["completeness"]["state"] == "whole" and len(doc["prompts"]) == 52  # both suites of the project
        counts = [served_requests(s) for s in servers]  # an answer and a one-token format-lock probe per prompt
        assert sum(counts) == 2 * 52 and min(counts) >= 2, counts  # both servers answered part of the run
        endpoints = [p["response"]["punie"]["endpoint"] for p in doc["prompts"]]
        assert sorted(2 * endpoints.count(s.url) for s in servers) == sorted(counts)
        assert all("first_position" in p["response"]["punie"] for p in doc["prompts"])
        # the servers' top_logprobs give the in-process lock where the opener is among them
        local = tiny_project.runpytest_subprocess(
            "--punie-model=tiny_5bit", "-m", "eval", "-p", "no:cacheprovider", "--punie-json=local.json"
        )
        assert local.ret in (0, 1)
        mine = {
            (p["suite"], p["id"]): p["format_lock"]
            for p in json.loads((tiny_project.path / "local.json").read_text())["prompts"]
        }
        exact = [p for p in doc["prompts"] if "bound" not in p["format_lock"]]
        assert len(exact) >= 40
        for p in exact:
            assert p["format_lock"]["p_opener"] == pytest.approx(mine[p["suite"], p["id"]]["p_opener"], abs=2e-3), p[
                "id"
            ]
        assert [e["url"] for e in doc["provenance"]["model"]["endpoints"]] == [s.url for s in servers]

        refused = tiny_project.runpytest_subprocess(*urls, f"--punie-server-url={other.url}", *args)
        assert refused.ret != 0
        out = refused.stdout.str() + refused.stderr.str()
        assert f"endpoint {other.url} serves '{fused.resolve()}'" in out, out[-3000:]
        assert f"not '{name}', which {servers[0].url}, {servers[1].url} serve" in out
        assert "Traceback" not in out and "INTERNALERROR" not in out
    finally:
        for s in [*servers, other]:
            s.stop()
