"""The embedded MoE model (Qwen3 MoE, 8 experts, top-2, like the production A3B model): built in its
own cache, so that it needs nothing of the dense model's build and, under ``-n``, is built beside it."""

from __future__ import annotations

import json
import shutil

import pytest

from ..conftest import ROOT


@pytest.fixture
def moe_project(pytester: pytest.Pytester, tiny_moe_model, moe_cache, monkeypatch) -> pytest.Pytester:
    """A user's project (the real pyproject, suites and data) whose cache holds the MoE model."""
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    shutil.copytree(ROOT / "evalsuites", pytester.path / "evalsuites")
    shutil.copytree(ROOT / "data", pytester.path / "data")
    monkeypatch.setenv("PUNIE_CACHE_DIR", str(moe_cache))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    return pytester


def test_the_moe_variant_takes_the_same_path(moe_project):
    """tiny_moe_5bit: a Qwen3 MoE (8 experts, top-2) like the production A3B model,
    built, checked and evaluated by the very same code."""
    result = moe_project.runpytest_subprocess(
        "--punie-model=tiny_moe_5bit",
        "-m",
        "eval or pipeline",
        "--punie-json=moe.json",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*pytest-punie eval*", "overall * 27/27 *"])
    assert "pipeline" not in "".join(line for line in result.stdout.lines if line.startswith("FAILED"))
    doc = json.loads((moe_project.path / "moe.json").read_text())
    model = doc["provenance"]["model"]
    assert model["model_type"] == "qwen3_moe" and model["quantization"]["bits"] == 5
    assert [b["step"] for b in model["builds"]] == ["q4", "adapter", "fused", "q5"]
    assert len([n for n, c in doc["categories"].items() if c["score"] > 0.1]) >= 4
