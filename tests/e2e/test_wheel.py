"""The plugin from any project: the built wheel, installed into a fresh virtual environment, runs
the README's first command on the embedded model from an empty folder, far from this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ..conftest import ROOT, cache_dir

LEFT_OUT = shutil.ignore_patterns(
    ".git", ".punie", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "tests"
)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def test_the_wheel_runs_the_embedded_model_from_an_empty_folder(tiny_model, tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, symlinks=True, ignore=LEFT_OUT)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)])
    wheel = next((tmp_path / "dist").glob("pytest_punie-*.whl"))
    # the machine's packages (mlx, mlx-lm, ...) are seen; pytest-punie is the wheel's
    run([sys.executable, "-m", "venv", "--system-site-packages", str(tmp_path / "venv")])
    python = str(tmp_path / "venv" / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)])
    empty = tmp_path / "empty"
    empty.mkdir()
    where = run([python, "-c", "import pytest_punie; print(pytest_punie.__file__)"], cwd=empty).stdout.strip()
    assert where.startswith(str(tmp_path / "venv")), where
    env = {**os.environ, "PUNIE_CACHE_DIR": str(cache_dir())}  # the tiny model this run built, not built again
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [python, "-m", "pytest", "--punie-suite=phase33", "--punie-model=tiny_5bit", "-m", "eval"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]  # the tiny model misses the Phase 40 thresholds: FAIL
    assert "VERDICT: FAIL (" in out and "categories below threshold" in out, out[-3000:]
    assert "unknown model" not in out
    report = next((empty / ".punie" / "runs").glob("*-tiny_5bit/report.html"))
    assert '<svg class="chart categories"' in report.read_text()
