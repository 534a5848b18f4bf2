"""The users' real shape, end to end: the real Qwen3 tokenizer, chat template and 151,936-token
vocabulary, random weights (almost every answer runs to max_tokens: the worst case a harness
meets), registered as a user registers theirs (``base`` + ``adapter`` + ``bits = 5``) and run
with ``pytest --punie-model=NAME -m eval``. No prompt is lost to another's slowness; a time
limit too short for the machine makes the run INCOMPLETE, never FAIL; SIGTERM is Ctrl-C."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_punie.models.cache import BuildCache
from pytest_punie.session import EXIT_INCOMPLETE

from ..conftest import ROOT, live_log, shared_temp

pytestmark = pytest.mark.slow
MAX_TOKENS = "--punie-max-tokens=24"  # the cap these tests name: random weights run every answer to it


@pytest.fixture(scope="session")
def real_shape(pytestconfig, tmp_path_factory) -> tuple[Path, Path]:
    """(4-bit base, LoRA adapter) of the real shape, built once per run in a cache of its own (every
    worker's: it needs nothing of the tiny model's build), the build said live."""
    from maintainer import realshape

    say = live_log(pytestconfig, "real shape")
    folder = shared_temp(tmp_path_factory) / "realshape-cache"
    folder.mkdir(parents=True, exist_ok=True)
    cache = BuildCache(folder, log=say)
    base = realshape.build_base(cache, log=say)
    adapter = realshape.build_adapter(cache, base, ROOT / "data", log=say)
    return base.path, adapter.path


@pytest.fixture
def real_project(pytester: pytest.Pytester, real_shape, tmp_path_factory, monkeypatch) -> pytest.Pytester:
    """A user's project: the Phase 33 suite, the data, and the real-shape model registered
    as base + adapter; its own build cache, so what one build leaves there can be seen."""
    base, adapter = real_shape
    (pytester.path / "evalsuites").mkdir()
    shutil.copy(ROOT / "evalsuites" / "phase33.yaml", pytester.path / "evalsuites" / "phase33.yaml")
    shutil.copytree(ROOT / "data", pytester.path / "data")
    pytester.makepyprojecttoml(
        f"""
[tool.pytest.ini_options]
testpaths = ["evalsuites"]

[tool.punie.models.real]
base = "{base}"
adapter = "{adapter}"
bits = 5
group_size = 64
parity_gate = false  # the parity gates at the real vocabulary cost minutes a build on this CPU (lab notebook)
"""
    )
    monkeypatch.setenv("PUNIE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    return pytester


def cache_of(project: pytest.Pytester) -> Path:
    import os

    return Path(os.environ["PUNIE_CACHE_DIR"])


def test_every_prompt_gets_its_own_response_and_the_run_says_its_estimate(real_project):
    """Random weights, the real vocabulary, each prompt's own limit 45 s (120 s x 0.375): every prompt
    answered whole (its own text, none lost to another's slowness or cut), the scheduler's plan said
    once and the ETA while it runs, the dequantized fuse removed after the 5-bit model was verified,
    the preflight's fix in the registry entry."""
    result = real_project.runpytest_subprocess(
        "--punie-model=real", "-m", "eval", MAX_TOKENS, "--punie-timeout-scale=0.375", "--punie-json=out.json"
    )
    out = result.stdout.str()
    assert result.ret == 1, out[-3000:]  # a real (random) model, measured whole: FAIL, not INCOMPLETE
    doc = json.loads((real_project.path / "out.json").read_text())
    assert doc["verdict"] == "FAIL" and doc["completeness"]["state"] == "whole"
    assert len(doc["prompts"]) == 27 and all(p["error"] is None and p["response"] for p in doc["prompts"])
    assert all(p["response"]["usage"]["completion_tokens"] >= 1 for p in doc["prompts"])
    assert out.count("generating 27 prompts (up to 24 tokens each)") == 1 and "ETA " in out, out[-3000:]
    assert "of its own 45 s limit" in out and not [p for p in doc["prompts"] if p["label"] == "timeout"]
    # the cache after one build: the 5-bit model whole, the fuse's record and digest only
    cache = cache_of(real_project)
    fused = [p for p in (cache / "fused").iterdir()]
    assert len(fused) == 1 and [f.name for f in fused[0].iterdir()] == ["punie-build.json"]
    record = json.loads((fused[0] / "punie-build.json").read_text())
    assert record["retired"]["bytes"] > 0 and record["retired"]["checks"]["adapter-applied"] == []
    assert next(iter((cache / "q5").iterdir())).joinpath("model.safetensors").is_file()
    assert "removed the intermediate fused" in out
    # the real template makes mlx-lm pick json_tools: the fix names the registry entry, not a cached file
    fix = doc["provenance"]["model"]["tool_parser"]["fix"]
    assert fix.startswith('tool_parser_type = "qwen3_coder" to [tool.punie.models.real]'), fix
    assert str(cache) not in fix
    # `cache` lists it; the pipeline's fused checks read what was recorded before the removal
    listed = subprocess.run(
        [sys.executable, "-m", "pytest_punie", "cache", "--root", str(real_project.path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "removed: quantized into" in listed and "entries" in listed
    pipeline = real_project.runpytest_subprocess("--punie-model=real", "-m", "pipeline", "-k", "fused or applied")
    pipeline.assert_outcomes(passed=2)


def test_applying_the_preflight_fix_in_the_registry_passes_without_a_rebuild_of_damage(real_project):
    """The fix, followed as written: the build writes the key into the model it makes."""
    pyproject = real_project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().rstrip() + '\ntool_parser_type = "qwen3_coder"\n')
    result = real_project.runpytest_subprocess(
        "--punie-model=real", "-m", "tokenizer or eval", "-k", "lsp-01", MAX_TOKENS, "--punie-json=out.json"
    )
    out = result.stdout.str()
    assert "tool-parser preflight: mlx-lm's qwen3_coder parser reads all" in out, out[-3000:]
    assert "damaged cache entry" not in out
    doc = json.loads((real_project.path / "out.json").read_text())
    assert doc["provenance"]["model"]["tool_parser"]["passed"] is True
    assert doc["provenance"]["model"]["builds"][-1]["digest"] == doc["provenance"]["model"]["digest"]


def test_a_time_limit_too_short_for_the_machine_is_incomplete_and_a_rerun_finishes(real_project):
    """Every prompt cut by its own limit keeps its text (label timeout); the run is INCOMPLETE
    with the reason and how to finish, nothing saved; the rerun with time enough completes."""
    short = real_project.runpytest_subprocess(
        "--punie-model=real",
        "-m",
        "eval",
        MAX_TOKENS,
        "--punie-timeout-scale=0.00001",
        "--punie-json=short.json",
        "--punie-save=prod",
    )
    out = short.stdout.str()
    assert short.ret == EXIT_INCOMPLETE, out[-3000:]
    doc = json.loads((real_project.path / "short.json").read_text())
    assert doc["verdict"] == "INCOMPLETE" and doc["completeness"]["state"] == "unanswered"
    assert len(doc["completeness"]["unanswered"]) == 27
    assert {p["label"] for p in doc["prompts"]} == {"timeout"}
    assert "VERDICT: INCOMPLETE (27 prompt(s) without a whole response: 27 cut by their own time limit" in out
    assert "--punie-timeout-scale=2" in out and "saved baseline" not in out
    again = real_project.runpytest_subprocess("--punie-model=real", "-m", "eval", MAX_TOKENS, "--punie-json=out.json")
    assert again.ret == 1, again.stdout.str()[-3000:]
    assert json.loads((real_project.path / "out.json").read_text())["completeness"]["state"] == "whole"


def test_sigterm_mid_generation_is_incomplete_and_keeps_what_was_answered(real_project):
    """SIGTERM (CI's cancel) ends the run like Ctrl-C: INCOMPLETE, the completed responses kept;
    the rerun takes them from the cache and generates only the rest."""
    cmd = [sys.executable, "-m", "pytest", "--punie-model=real", "-m", "eval", MAX_TOKENS, "--punie-json=out.json"]
    proc = subprocess.Popen(cmd, cwd=real_project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 600
    for line in proc.stdout:
        lines.append(line)
        if "[3/27]" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=120)
    out = "".join(lines) + rest
    assert proc.returncode == 2, out[-3000:]  # pytest's own status for an interruption, not 143
    assert "VERDICT: INCOMPLETE" in out and "Traceback" not in out and "INTERNALERROR" not in out
    resumed = real_project.runpytest_subprocess("--punie-model=real", "-m", "eval", MAX_TOKENS)
    resumed.stdout.fnmatch_lines(["*responses from cache (phase33*to generate*"])
