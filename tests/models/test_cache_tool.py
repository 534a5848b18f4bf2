"""``python -m pytest_punie cache``: every entry listed with its size and what built it;
prune by age, by keep-last per step, and everything no registered model resolved to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pytest_punie.models.cache import BuildCache
from pytest_punie.models.cachetool import entries, remember_model, to_prune


def _writer(size: int):
    def build(out: Path) -> None:
        (out / "model.safetensors").write_bytes(b"\0" * size)

    return build


def _age(path: Path, days: float) -> None:
    when = time.time() - days * 86400
    os.utime(path / "punie-build.json", (when, when))


def test_list_prune_by_age_keep_last_and_unused(tmp_path):
    cache = BuildCache(tmp_path / "cache")
    old = cache.build("q5", {"model": "sha256:old"}, _writer(1000))
    mid = cache.build("q5", {"model": "sha256:mid"}, _writer(2000))
    new = cache.build("q5", {"model": "sha256:new"}, _writer(3000))
    fused = cache.build("fused", {"adapter": "sha256:1"}, _writer(5000))
    _age(old.path, 30)
    _age(mid.path, 10)
    _age(fused.path, 5)
    assert [e.path for e in entries(cache.root)] == [old.path, mid.path, fused.path, new.path]
    assert [e.path for e in to_prune(cache.root, older_than_days=14)] == [old.path]
    assert [e.path for e in to_prune(cache.root, keep_last=1)] == [old.path, mid.path]
    remember_model(cache.root, "prod", [str(new.path), str(fused.path)])
    remember_model(cache.root, "gone", [str(mid.path)])
    assert [e.path for e in to_prune(cache.root, unused=True, registered={"prod"})] == [old.path, mid.path]
    # retiring an intermediate keeps its record (digest, size, why) and frees its files
    retired = cache.retire(fused, "quantized into q5, verified", {"fused": []})
    assert [p.name for p in fused.path.iterdir()] == ["punie-build.json"]
    assert retired.retired and json.loads((fused.path / "punie-build.json").read_text())["retired"]["bytes"] > 5000
    assert cache.lookup("fused", {"adapter": "sha256:1"}).digest == fused.digest


def test_the_command_lists_and_a_dry_run_removes_nothing(tmp_path):
    cache = BuildCache(tmp_path / ".punie" / "cache")
    built = cache.build("q5", {"model": "sha256:x"}, _writer(1500))
    _age(built.path, 20)
    env = {**os.environ}
    env.pop("PUNIE_CACHE_DIR", None)
    run = [sys.executable, "-m", "pytest_punie", "cache"]
    listed = subprocess.run([*run, "--root", str(tmp_path)], capture_output=True, text=True, env=env, check=True)
    assert "q5" in listed.stdout and "1 entries" in listed.stdout and "20.0 d" in listed.stdout
    dry = [*run, "prune", "--older-than", "14", "--dry-run", "--root", str(tmp_path)]
    said = subprocess.run(dry, capture_output=True, text=True, env=env, check=True).stdout
    assert f"would remove {built.path}" in said and built.path.is_dir()
    real = [*run, "prune", "--older-than", "14", "--root", str(tmp_path)]
    said = subprocess.run(real, capture_output=True, text=True, env=env, check=True).stdout
    assert f"removed {built.path}" in said and not built.path.exists()
    bare = subprocess.run([*run, "prune", "--root", str(tmp_path)], capture_output=True, text=True, env=env)
    assert bare.returncode == 2 and "prune needs --older-than DAYS, --keep-last N or --unused" in bare.stderr
