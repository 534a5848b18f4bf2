"""Content-addressed builds: reuse, atomicity, interruption, concurrency."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_punie.models.cache import MARKER, BuildCache


def _writer(text: str):
    def build(out: Path) -> dict:
        (out / "weights.safetensors").write_text(text)
        (out / "config.json").write_text("{}")
        return {"note": text}

    return build


def test_second_build_reuses(tmp_path):
    cache = BuildCache(tmp_path)
    first = cache.build("q5", {"model": "sha256:a", "bits": 5}, _writer("x"))
    again = cache.build("q5", {"model": "sha256:a", "bits": 5}, _writer("never called"))
    assert first.built and not again.built
    assert again.path == first.path and again.digest == first.digest
    assert (first.path / "weights.safetensors").read_text() == "x"
    assert json.loads((first.path / MARKER).read_text())["note"] == "x"


def test_changed_input_is_a_new_build(tmp_path):
    cache = BuildCache(tmp_path)
    a = cache.build("fused", {"adapter": "sha256:1"}, _writer("one"))
    b = cache.build("fused", {"adapter": "sha256:2"}, _writer("two"))
    assert a.key != b.key and b.built and a.digest != b.digest


def test_failed_build_leaves_nothing(tmp_path):
    cache = BuildCache(tmp_path)

    def broken(out: Path) -> None:
        (out / "weights.safetensors").write_text("half")
        raise RuntimeError("fuse crashed")

    with pytest.raises(RuntimeError):
        cache.build("fused", {"adapter": "sha256:1"}, broken)
    assert cache.lookup("fused", {"adapter": "sha256:1"}) is None
    assert not list((tmp_path / "tmp").iterdir())
    assert not (tmp_path / "fused").exists() or not list((tmp_path / "fused").iterdir())


SLOW_BUILDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pytest_punie.models.cache import BuildCache

    def build(out):
        (out / "weights.safetensors").write_text("partial")
        Path(sys.argv[2]).write_text("started")
        time.sleep(float(sys.argv[3]))
        (Path(sys.argv[2]).parent / "calls").open("a").write("x")
        return None

    BuildCache(Path(sys.argv[1])).build("fused", {"adapter": "sha256:1"}, build)
    """
)


def _spawn(tmp_path: Path, cache: Path, flag: Path, sleep: float) -> subprocess.Popen:
    script = tmp_path / "builder.py"
    script.write_text(SLOW_BUILDER)
    return subprocess.Popen([sys.executable, str(script), str(cache), str(flag), str(sleep)])


def _wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_killed_build_leaves_no_loadable_artifact(tmp_path):
    cache_dir = tmp_path / "cache"
    proc = _spawn(tmp_path, cache_dir, tmp_path / "started", 60)
    _wait_for(tmp_path / "started")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cache = BuildCache(cache_dir)
    assert cache.lookup("fused", {"adapter": "sha256:1"}) is None  # nothing under the final name
    assert list((cache_dir / "tmp").iterdir())  # the half-built directory is only in tmp/
    again = cache.build("fused", {"adapter": "sha256:1"}, _writer("whole"))
    assert again.built and (again.path / "weights.safetensors").read_text() == "whole"
    assert not list((cache_dir / "tmp").iterdir())  # the stale attempt was cleared


def test_concurrent_builders_build_once(tmp_path):
    cache_dir = tmp_path / "cache"
    procs = [_spawn(tmp_path, cache_dir, tmp_path / f"started{i}", 1.0) for i in range(2)]
    for p in procs:
        assert p.wait(60) == 0
    assert (tmp_path / "calls").read_text() == "x"
    assert BuildCache(cache_dir).lookup("fused", {"adapter": "sha256:1"}) is not None


def test_a_run_waiting_on_another_runs_build_says_what_and_whom_it_waits_for(tmp_path):
    """A second run that finds the step's lock held says which step it waits for, which process holds
    it and for how long, every few seconds, and then takes the artifact the other run built."""
    cache_dir = tmp_path / "cache"
    other = _spawn(tmp_path, cache_dir, tmp_path / "started", 7.0)
    _wait_for(tmp_path / "started")
    said: list[str] = []
    started = time.monotonic()
    mine = BuildCache(cache_dir, log=said.append).build("fused", {"adapter": "sha256:1"}, _writer("mine"))
    waited = time.monotonic() - started
    assert other.wait(60) == 0
    waiting = [s for s in said if s.startswith("waiting for fused (")]
    assert len(waiting) >= 2 and waited >= 5, (said, waited)  # said at once, and again while it waited
    assert all(f"another run (pid {other.pid} on " in s and "is building it (" in s for s in waiting), waiting
    assert waiting[0].endswith("(0 s so far)") and waiting[1].endswith("(5 s so far)")
    assert not mine.built and (mine.path / "weights.safetensors").read_text() == "partial"  # the other's build
    assert (tmp_path / "calls").read_text() == "x"  # built once
    assert not list((cache_dir / "locks").glob("*.holder"))  # no holder left behind


def test_an_intermediate_an_entry_keeps_is_never_removed_by_a_build_that_shares_it(tmp_path):
    """A registry entry with keep_intermediates keeps its fuse; a checkpoint sweep fusing the same
    adapter (the same key) and then retiring it left the entry's fused model without its files, so
    the next plain run fused it again. A kept entry stays whole; others are still retired."""
    from pytest_punie.models.cache import BuildCache

    cache = BuildCache(tmp_path / "cache")

    def model(out):
        (out / "model.safetensors").write_bytes(b"w" * 1000)

    kept = cache.keep(cache.build("fused", {"adapter": "sha256:final"}, model))
    assert kept.record["kept"] is True
    again = cache.retire(cache.find("fused", {"adapter": "sha256:final"}), "quantized into q5, verified")
    assert not again.retired and (again.path / "model.safetensors").is_file()
    assert cache.lookup("fused", {"adapter": "sha256:final"}).record["kept"] is True
    other = cache.retire(cache.build("fused", {"adapter": "sha256:ckpt20"}, model), "quantized, verified")
    assert other.retired and not (other.path / "model.safetensors").exists()
