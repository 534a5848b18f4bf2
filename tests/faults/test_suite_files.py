"""Hostile suite files end in a located error, never a traceback, and never
stop the other suites from collecting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_punie.errors import SuiteError
from pytest_punie.suite import load_suite

from ..conftest import PHASE33


def billion_laughs(levels: int = 9) -> str:
    lines = ["suite: bomb", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_alias_expansion_is_bounded(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    with pytest.raises(SuiteError, match="expands to more than 100,000 values"):
        load_suite(bomb)


def test_alias_bomb_under_a_memory_limit_is_a_clean_error(tmp_path):
    """In a process capped at 1 GiB of address space beyond what Python needs:
    the 9-level bomb (9^10 strings) is refused before it grows."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    code = (
        "import resource, sys;"
        "from pytest_punie.suite import load_suite;"
        "from pytest_punie.errors import SuiteError;"
        f"resource.setrlimit(resource.RLIMIT_AS, ({2 << 30}, {2 << 30}));"
        f"\ntry:\n    load_suite({str(bomb)!r})\n"
        "except SuiteError as e:\n    print(e.describe()); sys.exit(0)\nsys.exit(1)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "expands to more than" in done.stdout


def test_a_self_referencing_alias_is_named(tmp_path):
    loop = tmp_path / "loop.yaml"
    loop.write_text("suite: x\nx: &loop [*loop]\n")
    with pytest.raises(SuiteError, match="refers to a node that contains it") as err:
        load_suite(loop)
    assert err.value.line == 2


@pytest.mark.parametrize(("surface", "why"), [("/etc/passwd", "TypeError"), ("/proc/self/environ", "ReaderError")])
def test_a_tool_surface_that_is_not_one_is_a_located_error(tmp_path, surface, why):
    if not Path(surface).is_file():
        pytest.skip(f"{surface} does not exist on this system")
    suite = tmp_path / "s.yaml"
    suite.write_text(PHASE33.read_text().replace("datasets:\n", f"tool_surface: {surface}\ndatasets:\n"))
    with pytest.raises(SuiteError, match=f"is not a tool surface.*{why}") as err:
        load_suite(suite)
    assert err.value.line is not None


def test_max_tokens_is_bounded(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(PHASE33.read_text().replace("  max_tokens: 512", "  max_tokens: 100000000000"))
    with pytest.raises(SuiteError, match="above the maximum 262144"):
        load_suite(suite)


def test_bad_suites_are_items_and_the_good_one_still_runs(eval_project):
    suites = eval_project.path / "evalsuites"
    (suites / "bomb.yaml").write_text(billion_laughs())
    (suites / "loop.yaml").write_text("suite: x\nx: &loop [*loop]\n")
    (suites / "passwd.yaml").write_text(
        PHASE33.read_text().replace("datasets:\n", "tool_surface: /etc/passwd\ndatasets:\n")
    )
    result = eval_project.runpytest("-m", "eval", "--punie-responses=phase33b_responses.jsonl")
    result.assert_outcomes(passed=22, failed=8)  # 5 missed prompts + 3 invalid suites
    result.stdout.fnmatch_lines(
        [
            "*invalid suite: *bomb.yaml:*: the YAML expands to more than 100,000 values through aliases*",
            "*invalid suite: *loop.yaml:2: a YAML alias refers to a node that contains it*",
            "*invalid suite: *passwd.yaml:*[[]tool_surface[]] /etc/passwd is not a tool surface*",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() and "Traceback" not in result.stdout.str()
