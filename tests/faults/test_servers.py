"""Servers that misbehave (fake ones on 127.0.0.1): every reply is a result
or a named error; a foreign server never answers for ours; a request ends
at its deadline and Ctrl-C within seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_punie.backends import ChatRequest
from pytest_punie.backends.httpclient import HttpBackend
from pytest_punie.backends.managedserver import ManagedServer
from pytest_punie.children import child_setup
from pytest_punie.errors import ModelError
from pytest_punie.session import EXIT_INCOMPLETE
from pytest_punie.suite.suitetypes import Sampling

from .fakeserver import fake_server, good_reply, hang, send_json, trickle


def ask(url: str, timeout: float = 10.0, model: str = "m"):
    req = ChatRequest("p#0", ({"role": "user", "content": "q"},), Sampling(max_tokens=8, timeout_s=timeout))
    return HttpBackend(url, model).complete([req])[0]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ([1, 2, 3], "malformed reply (a JSON list, not an object)"),
        ({"choices": [{"message": None}]}, "malformed reply (choices[0].message is null, not an object)"),
        ({"choices": []}, "malformed reply (no choices[0])"),
        ("text", "malformed reply (a JSON str, not an object)"),
    ],
)
def test_a_malformed_reply_is_no_response_not_an_empty_answer(body, why):
    with fake_server(send_json(body)) as (url, _):
        record = ask(url)
    assert record.response is None and record.error is not None and record.error.startswith(why)


def test_a_reply_for_another_model_is_refused():
    with fake_server(send_json(good_reply(model="other"))) as (url, _):
        record = ask(url)
    assert record.response is None and "answered for model 'other', not 'm'" in str(record.error)


def test_a_reply_naming_no_model_is_flagged():
    with fake_server(send_json(good_reply(model=None))) as (url, _):
        record = ask(url)
    assert record.response is not None and record.response["punie"]["unnamed_model"] is True


def test_a_trickling_server_is_cut_off_at_the_deadline():
    with fake_server(trickle(30)) as (url, _):
        started = time.monotonic()
        record = ask(url, timeout=2.0)
        took = time.monotonic() - started
    assert record.response is None and "overall deadline" in str(record.error)
    assert took < 5, took  # httpx alone kept such a request alive for 60 s


def test_a_foreign_server_on_our_port_is_never_used(monkeypatch, tmp_path):
    """A server that takes the port first answers /health at once; the socket
    is not our child's, so it is never talked to."""
    with fake_server(send_json(good_reply())) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        monkeypatch.setattr("pytest_punie.backends.managedserver.free_port", lambda: port)
        server = ManagedServer(tmp_path / "no-model-here", startup_timeout=20)
        with pytest.raises(ModelError, match=f"port {port} is answered by process \\[{os.getpid()}\\]"):
            server.start()
    assert server.proc is None and not server.log_dir.exists()  # stopped, its temp dir removed


def test_ctrl_c_ends_a_run_within_seconds_while_a_request_hangs(eval_project):
    with fake_server(hang(120)) as (url, got):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-m",
                "eval",
                "-p",
                "no:cacheprovider",
                f"--punie-server-url={url}",
                "--punie-server-model=m",
                "--punie-save=never",
            ],
            cwd=eval_project.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=child_setup(),  # as from a terminal, whatever disposition this run inherited
        )
        assert got.wait(60), "the run never sent a request"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    assert took < 10, (took, out[-2000:])
    assert proc.returncode == 2, out[-2000:]
    assert "Traceback" not in out and "INTERNALERROR" not in out
    assert not (Path(eval_project.path) / ".punie" / "baselines" / "never.json").exists()


def test_an_unreachable_server_is_an_error_per_prompt_and_an_incomplete_run(eval_project):
    with fake_server(send_json(good_reply())) as (url, _):
        pass  # closed: nothing listens there now
    result = eval_project.runpytest(
        "-m", "eval", f"--punie-server-url={url}", "--punie-server-model=m", "--punie-json=out.json", "-k", "git"
    )
    assert result.ret == EXIT_INCOMPLETE  # the transport failed, not the model
    doc = json.loads((eval_project.path / "out.json").read_text())
    assert all(p["error"] and p["label"] == "error" for p in doc["prompts"])


def test_an_endpoint_restarted_on_another_model_mid_run_makes_the_run_invalid_naming_it(eval_project):
    """Two endpoints serve model m; after its first answer one says (``/v1/models``) it serves
    another: what it answered cannot be told apart, so the run is INVALID, the endpoint named."""
    answered: list[int] = []

    def counted(h) -> None:
        answered.append(1)
        send_json(good_reply())(h)

    with (
        fake_server(send_json(good_reply())) as (steady, _),
        fake_server(counted, models=lambda: ["m"] if not answered else ["other"]) as (restarted, _),
    ):
        result = eval_project.runpytest(
            "-m", "eval", f"--punie-server-url={steady}", f"--punie-server-url={restarted}",
            "--punie-server-model=m", "--punie-server-concurrency=1", "--punie-json=out.json", "-k", "git or lsp",
        )  # fmt: skip
    assert answered  # it did answer part of the run
    assert result.ret == 6, result.stdout.str()[-2000:]  # INVALID
    doc = json.loads((eval_project.path / "out.json").read_text())
    assert doc["verdict"] == "INVALID"
    (warning,) = [w for w in doc["warnings"] if w["code"] == "endpoint-changed"]
    assert restarted in warning["message"] and steady not in warning["message"], warning
    assert all(p["response"] for p in doc["prompts"])  # every prompt was answered: the measurement is what broke
