"""The plugin from any project: the built wheel, installed into a fresh virtual environment, runs
the README's "any project" command literally on the embedded model from an empty folder, far from
this checkout, with a cache holding only the pretrained base (the newcomer's cold build covers the
base's own): the gated steps are built cold from the data inside the wheel, with another selection
(the packaged Phase 33 alone, no project suites at all), and must give the same adapter through the
same gate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from ..conftest import LEFT_OUT, ROOT, readme_commands
from .test_readme import adapter_of, adapter_weights, answered, newcomer_first, verdict_printed


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def test_the_wheel_runs_the_embedded_model_from_an_empty_folder_with_an_empty_cache(newcomer, tmp_path):
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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PUNIE_"))}  # the default cache
    cache = empty / ".punie" / "cache"
    for step in ("tokenizer", "base-qwen3", "q4"):  # the pretrained base only, as test_readme's another selection
        shutil.copytree(newcomer.cache / step, cache / step)
    env["PATH"] = f"{tmp_path / 'venv' / 'bin'}{os.pathsep}{env['PATH']}"
    [line] = readme_commands("readme-test: any project")
    done = subprocess.run(["bash", "-c", line], cwd=empty, env=env, capture_output=True, text=True, timeout=1200)
    out = done.stdout + done.stderr
    verdict_printed(done)
    assert "categories below threshold" in out and "unknown model" not in out, out[-3000:]
    run_dir = next((empty / ".punie" / "runs").glob("*-tiny_5bit"))
    assert '<svg class="chart categories"' in (run_dir / "report.html").read_text()
    doc = json.loads((run_dir / "results.json").read_text())
    answered(doc, ["phase33"], 27)
    builds = doc["provenance"]["model"]["builds"]
    assert [b["step"] for b in builds if b["built_now"]] == ["adapter", "fused", "q5"], builds
    assert all(str(cache) in b["path"] for b in builds)
    # the checkout's cold build selected Phase 33 by its path among the project's two suites; this one
    # the packaged Phase 33 alone: the same gate inputs and outcome, the same adapter, the same model
    first = newcomer.document(newcomer_first())
    assert adapter_of(doc)["data_gate"] == adapter_of(first)["data_gate"]
    assert adapter_weights(doc) == adapter_weights(first)  # the train.log holds timings; the weights do not
    assert doc["provenance"]["model"]["digest"] == first["provenance"]["model"]["digest"]
