"""Several endpoints serving one model: two real ``mlx_lm server``s on two ports take one run's
requests between them; a third serving a different model makes the run refuse, naming both."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


# the same suites in process, for the lock the servers' answers are compared with (the task suite's
# later turns would add requests the endpoint counts do not hold)
LOCAL_RUN = ("--punie-model=tiny_5bit", "-m", "eval", "-k", "not tasks", "-p", "no:cacheprovider")
LOCAL_RUN += ("--punie-json=local.json",)


def served_requests(server) -> int:
    """Chat completions the server answered, from its own request log."""
    log = Path(server.log_dir) / f"server-{server.port}.log"
    return len(re.findall(r'"POST /v1/chat/completions HTTP/1\.1" 200', log.read_text(errors="replace")))


def test_two_servers_share_one_run_and_a_third_serving_another_model_is_refused(tiny_project, tiny_model, tmp_path):
    from pytest_punie.backends.managedserver import ManagedServer

    fused = Path(next(b for b in tiny_model.builds if b["step"] == "fused")["path"])
    servers = [ManagedServer(tiny_model.path, log_dir=tmp_path / f"s{i}") for i in range(2)]
    other = ManagedServer(fused, log_dir=tmp_path / "other")
    try:
        for s in [*servers, other]:
            s.start()
        name = str(tiny_model.path.resolve())
        args = [
            "-m", "eval", "-k", "not tasks", f"--punie-server-model={name}",
            f"--punie-tokenizer={tiny_model.path}", "--punie-server-concurrency=4", "-p", "no:cacheprovider",
            "--punie-no-cache",  # every request counted at the servers
        ]  # fmt: skip
        urls = [f"--punie-server-url={s.url}" for s in servers]
        result = tiny_project.runpytest_subprocess(*urls, *args, "--punie-json=pool.json")
        assert result.ret in (0, 1), result.stdout.str()[-3000:]
        doc = json.loads((tiny_project.path / "pool.json").read_text())
        assert doc["completeness"]["state"] == "whole" and len(doc["prompts"]) == 52  # both suites of the project
        counts = [served_requests(s) for s in servers]  # one request per prompt: the lock comes with the answer
        assert sum(counts) == 52 and min(counts) >= 2, counts  # both servers answered part of the run
        endpoints = [p["response"]["punie"]["endpoint"] for p in doc["prompts"]]
        assert sorted(endpoints.count(s.url) for s in servers) == sorted(counts)
        assert all("first_position" in p["response"]["punie"] for p in doc["prompts"])
        # the servers' top_logprobs give the in-process lock where the opener is among them
        local = tiny_project.runpytest_subprocess(*LOCAL_RUN)
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


def test_a_pool_that_loses_an_endpoint_mid_run_answers_every_prompt_on_the_other(tiny_project, tiny_model, tmp_path):
    """Two real servers; one is killed (SIGKILL) once it has answered 5 prompts: its unanswered and
    in-flight prompts go to the other, every retry recorded, and the run is whole, prompt for prompt
    the in-process run's (greedy: the same token ids)."""
    from pytest_punie.backends.managedserver import ManagedServer

    servers = [ManagedServer(tiny_model.path, log_dir=tmp_path / f"s{i}") for i in range(2)]
    try:
        for s in servers:
            s.start()
        doomed, survivor = servers
        killed = threading.Event()

        def kill_after_five() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not killed.is_set():
                if served_requests(doomed) >= 5:
                    os.kill(doomed.proc.pid, signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.02)

        watcher = threading.Thread(target=kill_after_five, daemon=True)
        watcher.start()
        result = tiny_project.runpytest_subprocess(
            f"--punie-server-url={doomed.url}", f"--punie-server-url={survivor.url}", "-m", "eval", "-k", "not tasks",
            f"--punie-server-model={tiny_model.path.resolve()}", f"--punie-tokenizer={tiny_model.path}",
            "--punie-server-concurrency=2", "-p", "no:cacheprovider", "--punie-json=pool.json", "--punie-no-cache",
        )  # fmt: skip
        watcher.join(5)
        out = result.stdout.str()
        assert killed.is_set(), "the doomed server never answered 5 prompts"
        assert result.ret in (0, 1), out[-3000:]  # a verdict: the run is whole
        doc = json.loads((tiny_project.path / "pool.json").read_text())
        assert doc["completeness"]["state"] == "whole" and len(doc["prompts"]) == 52
        assert all(p["error"] is None and p["response"]["choices"][0]["message"] for p in doc["prompts"])
        by = [p["response"]["punie"]["endpoint"] for p in doc["prompts"]]
        assert 1 <= by.count(doomed.url) <= 5 and by.count(survivor.url) == 52 - by.count(doomed.url)  # its log may
        # count an answer the client never received whole: that prompt went to the survivor
        retried = [p for p in doc["prompts"] if p["response"]["punie"].get("retries")]
        assert retried and all(p["response"]["punie"]["endpoint"] == survivor.url for p in retried)
        assert all(
            r["endpoint"] == doomed.url and r["reason"] for p in retried for r in p["response"]["punie"]["retries"]
        )
        (lost,) = [e for e in doc["provenance"]["model"]["endpoints"] if e.get("lost")]
        assert lost["url"] == doomed.url
        assert served_requests(survivor) == by.count(survivor.url)  # one request per prompt it answered
        local = tiny_project.runpytest_subprocess(*LOCAL_RUN)
        assert local.ret in (0, 1)
        mine = {(p["suite"], p["id"]): p for p in json.loads((tiny_project.path / "local.json").read_text())["prompts"]}
        for p in doc["prompts"]:
            theirs = mine[p["suite"], p["id"]]
            assert p["response"]["punie"]["token_ids"] == theirs["response"]["punie"]["token_ids"], p["id"]
            assert p["scores"] == theirs["scores"] and p["label"] == theirs["label"], p["id"]
    finally:
        for s in servers:
            s.stop()


def test_a_pool_whose_every_endpoint_is_gone_is_incomplete_naming_them(tiny_project, tiny_model, tmp_path, monkeypatch):
    """Both servers killed mid-run: INCOMPLETE, naming them; the answers received are kept (the
    served model is a folder on this machine, digested), so the rerun against two new servers
    sends only the prompts not answered."""
    from pytest_punie.backends.managedserver import ManagedServer

    monkeypatch.setenv("PUNIE_CACHE_DIR", str(tmp_path / "cache"))  # this test's responses only

    servers = [ManagedServer(tiny_model.path, log_dir=tmp_path / f"s{i}") for i in range(2)]
    for s in servers:
        s.start()
    urls = [s.url for s in servers]
    result = None
    try:

        def kill_both() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if sum(served_requests(s) for s in servers) >= 6:
                    for s in servers:
                        os.kill(s.proc.pid, signal.SIGKILL)
                    return
                time.sleep(0.02)

        watcher = threading.Thread(target=kill_both, daemon=True)
        watcher.start()
        result = tiny_project.runpytest_subprocess(
            *(f"--punie-server-url={u}" for u in urls), *pool_args(tiny_model), "--punie-json=gone.json",
        )  # fmt: skip
    finally:
        for s in servers:
            s.stop()
    out = result.stdout.str()
    assert result.ret == 7, out[-3000:]  # INCOMPLETE, never a verdict
    assert "Traceback" not in out and "INTERNALERROR" not in out
    doc = json.loads((tiny_project.path / "gone.json").read_text())
    answered = [p for p in doc["prompts"] if p["error"] is None]
    assert 1 <= len(answered) < 27  # the servers' logs may count an answer the client never got whole
    errors = [p["error"] for p in doc["prompts"] if p["error"]]
    assert all("every endpoint" in e and urls[0] in e and urls[1] in e for e in errors), errors[:3]

    assert doc["response_cache"]["hits"] == 0 and doc["response_cache"]["misses"] == 27
    assert doc["provenance"]["model"]["served_files"]["path"] == str(tiny_model.path.resolve())
    again = [ManagedServer(tiny_model.path, log_dir=tmp_path / f"again{i}") for i in range(2)]
    try:
        for s in again:
            s.start()
        rerun = tiny_project.runpytest_subprocess(
            *(f"--punie-server-url={s.url}" for s in again), *pool_args(tiny_model), "--punie-json=again.json"
        )
        sent = [served_requests(s) for s in again]
    finally:
        for s in again:
            s.stop()
    assert rerun.ret in (0, 1), rerun.stdout.str()[-3000:]
    whole = json.loads((tiny_project.path / "again.json").read_text())
    assert whole["completeness"]["state"] == "whole" and all(p["response"] for p in whole["prompts"])
    assert whole["response_cache"]["hits"] == len(answered) and sum(sent) == 27 - len(answered), sent
    kept = {p["id"]: p["response"]["punie"]["token_ids"] for p in answered}
    assert {p["id"]: p["response"]["punie"]["token_ids"] for p in whole["prompts"] if p["id"] in kept} == kept


def pool_args(tiny_model) -> list[str]:
    """Phase 33 against endpoints serving the tiny model, one request at a time per endpoint."""
    return [
        "-m", "eval", "-k", "phase33", f"--punie-server-model={tiny_model.path.resolve()}",
        f"--punie-tokenizer={tiny_model.path}", "--punie-server-concurrency=1", "-p", "no:cacheprovider",
    ]  # fmt: skip
