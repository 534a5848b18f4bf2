"""scripts/mutation.py judged as a measuring tool: a child that sits idle past its timeout is
"hung" and never counted as a kill; a busy one is a kill only when the unmutated tests pass in
time; a module is only ever mutated with the tests declared for it."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from ..conftest import ROOT

spec = importlib.util.spec_from_file_location("punie_mutation_script", ROOT / "scripts" / "mutation.py")
assert spec is not None and spec.loader is not None
mutation = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mutation
spec.loader.exec_module(mutation)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the children's CPU time in /proc")


@pytest.fixture
def tests(tmp_path):
    bodies = {
        "idle": "import time\n\ndef test_idle():\n    time.sleep(120)\n",  # a deadlock: no CPU
        "busy": "def test_busy():\n    while True:\n        pass\n",  # a loop: CPU all along
        "ok": "def test_ok():\n    assert 1 + 1 == 2\n",
        "bad": "def test_bad():\n    assert 1 + 1 == 3\n",
    }
    for name, body in bodies.items():
        (tmp_path / f"test_{name}.py").write_text(body)
    return {name: [str(tmp_path / f"test_{name}.py")] for name in bodies}


def test_an_idle_child_is_hung_and_a_busy_one_timed_out(tests):
    jobs = [mutation.Job(name, None, None, paths) for name, paths in tests.items()]
    # the idle child's own start (pytest collecting in it) must end over 2 s before the deadline, the
    # window the tool reads CPU time over: 12 s leaves that even on 2 loaded cores (5 s did not, once)
    out = mutation.run_jobs(jobs, workers=2, timeout=12)
    assert out == {"idle": "hung", "busy": "timeout", "ok": "survived", "bad": "killed"}


def test_a_timeout_is_a_kill_only_when_the_unmutated_tests_pass_in_time(tests):
    outcomes = {"mutant-on-fast-tests": "timeout", "mutant-on-slow-tests": "timeout", "other": "survived"}
    chosen = {"mutant-on-fast-tests": tests["ok"], "mutant-on-slow-tests": tests["busy"], "other": tests["ok"]}
    selected = {key: mutation.Job(key, None, None, paths) for key, paths in chosen.items()}
    mutation._settle_timeouts(outcomes, selected, workers=2, timeout=5)
    assert outcomes == {"mutant-on-fast-tests": "killed", "mutant-on-slow-tests": "hung", "other": "survived"}


def test_every_target_declares_tests_that_exist_and_a_stray_module_is_refused():
    for target, folders in mutation.TARGETS.items():
        assert (ROOT / target).exists(), target
        assert all((ROOT / f).exists() for f in folders), (target, folders)
    assert "tests/datalint" in mutation.TARGETS[mutation.target_of(ROOT / "pytest_punie" / "datalint" / "lint.py")]
    with pytest.raises(SystemExit, match="no tests are declared for it"):
        mutation.target_of(ROOT / "pytest_punie" / "plugin.py")


def test_a_spawned_child_runs_its_tests_on_the_mutated_module_in_a_fresh_interpreter(tmp_path):
    """Tests that run mlx cannot run in a forked child: a spawned one re-executes the mutant itself."""
    test = tmp_path / "test_pct.py"
    test.write_text(
        "from pytest_punie.views.formatting import pct\n\n\ndef test_pct():\n    assert pct(0.5) == '50.0%'\n"
    )
    path = "pytest_punie/views/formatting.py"
    mutant = (ROOT / path).read_text().replace('f"{x * 100:.1f}%"', 'f"{x / 100:.1f}%"')
    jobs = [
        mutation.Job("clean", None, None, [str(test)], spawn=True),
        mutation.Job("mutant", mutant, path, [str(test)], spawn=True),
    ]
    assert mutation.run_jobs(jobs, workers=2, timeout=60) == {"clean": "survived", "mutant": "killed"}
    lines = mutation.traced_spawn([str(test)], [ROOT / path])
    (nodeid,) = lines[(str(ROOT / path), 12)]  # named relative to the rootdir pytest chose, as pytest names it
    assert nodeid.endswith("test_pct.py::test_pct")


def test_a_signature_s_default_is_module_level_and_its_body_is_not(tmp_path):
    """A default value is computed when the ``def`` runs (at import): a mutant there runs every declared test."""
    module = tmp_path / "m.py"
    module.write_text("def f(\n    a: int = 1,\n    b: int = 2,\n) -> int:\n    return a + b\n")
    assert mutation._function_lines(module) == {5}
