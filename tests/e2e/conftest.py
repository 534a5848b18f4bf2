"""End-to-end fixtures: the embedded tiny model, built once per cache.

The cache is the project's own (``.punie/cache``, or ``PUNIE_CACHE_DIR``),
so the README's main command, these tests and CI share one build per run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ..conftest import ROOT


def cache_dir() -> Path:
    from pytest_punie.models.cache import default_cache_dir

    return default_cache_dir(ROOT)


@pytest.fixture(scope="session")
def tiny_model():
    """The tiny_5bit model, resolved (and built when missing) exactly as --punie-model does."""
    from pytest_punie.models.cache import BuildCache
    from pytest_punie.models.resolve import materialize, resolve_spec

    cache = BuildCache(cache_dir(), log=lambda m: print(f"[punie] {m}", flush=True))
    return materialize(resolve_spec("tiny_5bit", ROOT), ROOT, cache, cache.log)


@pytest.fixture
def tiny_project(pytester: pytest.Pytester, tiny_model, monkeypatch) -> pytest.Pytester:
    """A user's project: the real pyproject (model registry), suites and data."""
    for name in ("pyproject.toml",):
        shutil.copy(ROOT / name, pytester.path / name)
    shutil.copytree(ROOT / "evalsuites", pytester.path / "evalsuites")
    shutil.copytree(ROOT / "data", pytester.path / "data")
    monkeypatch.setenv("PUNIE_CACHE_DIR", str(cache_dir()))
    os.environ.pop("PYTEST_XDIST_WORKER", None)
    return pytester
