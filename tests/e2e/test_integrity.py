"""Run integrity on the real tiny model: a damaged cached model is found by
its digest (verified every run, never remembered) and built again; a damaged
base fails once, named, before any fuse; children die with the run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_punie.children import child_setup

pytestmark = pytest.mark.slow


def register(project, name: str, base: str | Path, adapter: str | Path) -> None:
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + f'\n[tool.punie.models.{name}]\nbase = "{base}"\nadapter = "{adapter}"\nbits = 5\ngroup_size = 64\n'
    )


def build_path(model, step: str) -> str:
    return next(b["path"] for b in model.builds if b["step"] == step)


def run_eval(project, model: str, out: str):
    return project.runpytest_subprocess(
        f"--punie-model={model}", "-m", "eval", "-k", "git", f"--punie-json={out}", "-p", "no:cacheprovider"
    )


def test_a_damaged_cached_model_is_found_by_its_digest_and_rebuilt(tiny_project, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("PUNIE_CACHE_DIR", str(tmp_path / "cache"))  # its own cache: fused and q5 built here
    register(tiny_project, "fused_5bit", build_path(tiny_model, "q4"), build_path(tiny_model, "adapter"))
    first = run_eval(tiny_project, "fused_5bit", "first.json")
    assert first.ret in (0, 1), first.stdout.str()[-2000:]
    model = json.loads((tiny_project.path / "first.json").read_text())["provenance"]["model"]
    assert model["digest"] == tiny_model.digest and model["digest_verified"].startswith("every file hashed")

    weights = Path(model["path"]) / "model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as fh:  # a quarter of the weights overwritten in place, size unchanged
        fh.seek(size // 2)
        fh.write(os.urandom(size // 4))
    assert weights.stat().st_size == size

    again = run_eval(tiny_project, "fused_5bit", "again.json")
    out = again.stdout.str()
    assert again.ret in (0, 1), out[-2000:]
    assert f"damaged cache entry {model['path']} (its files hash to sha256:" in out
    assert "building q5" in out
    rebuilt = json.loads((tiny_project.path / "again.json").read_text())["provenance"]["model"]
    assert rebuilt["digest"] == tiny_model.digest  # the right model, verified in this run
    moved = list((tmp_path / "cache" / "damaged").iterdir())
    assert len(moved) == 1 and (moved[0] / "model.safetensors").stat().st_size == size  # kept, never loaded


def test_a_damaged_base_fails_once_named_before_any_fuse(tiny_project, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("PUNIE_CACHE_DIR", str(tmp_path / "cache"))
    base = tmp_path / "base-q4"
    shutil.copytree(build_path(tiny_model, "q4"), base)
    weights = base / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a GPU timeout's truncated shard
    before = sorted((p.name, p.stat().st_size) for p in base.iterdir())
    register(tiny_project, "broken", base, build_path(tiny_model, "adapter"))
    result = tiny_project.runpytest_subprocess("--punie-model=broken", "-m", "eval", "-p", "no:cacheprovider")
    out = result.stdout.str()
    assert result.ret == 1
    assert "building fused" not in out  # not 27 fuses of a broken base: none at all
    assert out.count("truncated or padded") >= 1 and f"{weights}" in out
    assert "INTERNALERROR" not in out and "Traceback" not in out
    assert sorted((p.name, p.stat().st_size) for p in base.iterdir()) == before  # the user's files untouched


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _gone(pid: int, within: float) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            state = (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's")
def test_a_managed_server_dies_with_a_killed_run(tiny_model, tmp_path):
    script = textwrap.dedent(
        f"""
        import time
        from pytest_punie.backends.managedserver import ManagedServer
        server = ManagedServer({str(tiny_model.path)!r}).start()
        print(server.proc.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)  # as a SIGKILLed pytest: nothing of ours runs after this
    parent.wait()
    assert _gone(server_pid, within=15), "mlx_lm server outlived the run that started it"


def test_a_run_started_with_sigint_ignored_still_starts_interruptible_servers(tiny_model):
    """A shell's background job starts with SIGINT ignored; the managed server must not inherit
    that, or a Ctrl-C meant for it (or for the run, once restored) leaves it running."""
    from pytest_punie.backends.managedserver import ManagedServer

    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server = ManagedServer(tiny_model.path).start()
    finally:
        signal.signal(signal.SIGINT, inherited)
    try:
        assert server.proc is not None
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(15) is not None, "SIGINT did not end the managed server"
    finally:
        server.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_a_running_mlx_lm_step(tiny_model, tmp_path):
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from pytest_punie.models.steps import mlx_lm
        mlx_lm(["server", "--model", {str(tiny_model.path)!r}, "--port", "0"], Path({str(tmp_path / "cmd.log")!r}),
               print)
        """
    )
    parent = subprocess.Popen(  # as from a terminal, whatever disposition this run inherited
        [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=child_setup()
    )
    deadline = time.monotonic() + 60
    kids: list[int] = []
    while not kids and time.monotonic() < deadline:
        kids = _children(parent.pid)
        time.sleep(0.2)
    assert kids, "the step never started"
    time.sleep(1.0)
    parent.send_signal(signal.SIGINT)  # to pytest only, not to its process group
    parent.wait(30)
    assert all(_gone(k, within=5) for k in kids), "the mlx_lm step outlived a Ctrl-C"


def test_in_process_generation_honours_the_deadline(tiny_model):
    """timeout_s bounds each prompt's own in-process generation: what has not finished is cut,
    its text so far kept and marked, never passed off as a whole answer."""
    from pytest_punie.backends import ChatRequest
    from pytest_punie.backends.inprocess import InProcessBackend
    from pytest_punie.suite.suitetypes import Sampling

    backend = InProcessBackend(tiny_model.path)
    messages = ({"role": "user", "content": "Show the git status."},)
    fast = backend.complete([ChatRequest("a", messages, Sampling(max_tokens=16, stop=("<|im_end|>",)))])[0]
    assert fast.error is None
    slow = Sampling(max_tokens=512, stop=(), timeout_s=0.001)  # the deadline passes during the first step
    started = time.monotonic()
    record = backend.complete([ChatRequest("b", messages, slow)])[0]
    assert time.monotonic() - started < 5
    assert str(record.error).startswith("timeout: this prompt's own generation reached timeout_s=0.001 s")
    assert record.response is not None and record.response["choices"][0]["finish_reason"] == "timeout"
    assert record.response["punie"]["cut"] == record.error
