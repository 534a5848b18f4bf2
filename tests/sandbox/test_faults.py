"""Programs with known behaviour end as labelled outcomes within their limits, the host untouched:
endless loops, huge allocations, endless recursion, forbidden builtins, escapes from the workspace,
forbidden commands, a hung tool and a missing one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pytest_punie.sandbox import Limits, run_programs, workspaces_folder
from pytest_punie.sandbox.workspace import WorkspaceTemplates

FAST = Limits(seconds=1.0, memory_bytes=64 * 1024 * 1024, recursion_depth=100, tool_timeout_s=3.0)


def host_files() -> dict[str, float]:
    """What a program that escaped would change: the folder the workspace copies live in (``../..``
    of a copy) and the project's own files, with their mtimes (other processes may write /tmp: the
    paths the programs aim at there are checked one by one)."""
    out: dict[str, float] = {}
    root = workspaces_folder()  # this process's: a copy's ../.. (only templates live there between runs)
    out.update({str(p): p.stat().st_mtime for p in root.iterdir() if not p.name.startswith("run-")})
    for dirpath, dirnames, filenames in os.walk(Path.cwd()):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".punie", "__pycache__", ".mypy_cache", ".ruff_cache")]
        for name in filenames:
            p = os.path.join(dirpath, name)
            out[p] = os.stat(p).st_mtime
    return out


@pytest.mark.parametrize(
    ("code", "ending", "says"),
    [
        ("undefined_tool('src/')", "runtime-error", "NameError"),
        ("r = typecheck('src/')\nprint(r.type_errors)", "runtime-error", "AttributeError"),
        ("while True:\n    pass", "timeout", "TimeoutError"),
        ("x = [0] * (10 ** 10)", "timeout", "MemoryError"),
        ("def f(n):\n    return f(n + 1)\nf(0)", "timeout", "RecursionError"),
        ("print(open('/etc/passwd').read())", "refused", "open"),
        ("import os\nos.system('touch /tmp/pwned')", "refused", "import os"),
        ("__import__('os').system('touch /tmp/pwned')", "refused", "__import__"),
        ("eval('1 + 1')", "refused", "eval"),
        ("exec('x = 1')", "refused", "exec"),
        ("print(().__class__.__mro__[1].__subclasses__())", "refused", "walking an object's internals"),
        ("write_file('../../outside.txt', 'x')", "refused", "outside the workspace"),
        ("write_file('/tmp/absolute.txt', 'x')", "refused", "absolute path"),
        ("print(read_file('../../../etc/passwd'))", "refused", "outside the workspace"),
        ("run_command('rm', ['-rf', '/'])", "refused", "'rm' is not allowed"),
        ("run_command('ls', ['/'])", "refused", "outside the workspace"),
        ("run_command('find', ['.', '-delete'])", "refused", "-delete"),
        ("run_command('curl http://example.com')", "refused", "'curl' is not allowed"),
        ("try:\n    write_file('../x', 'y')\nexcept Exception:\n    print('caught')", "refused", "outside"),
    ],
)
def test_a_program_ends_as_a_labelled_outcome_and_the_host_is_untouched(code: str, ending: str, says: str):
    run_programs(["x = 1"], limits=FAST)  # the process's workspace template made first
    before = host_files()
    start = time.monotonic()
    (run,) = run_programs([code], limits=FAST)
    took = time.monotonic() - start
    assert (run.ending, says in (run.exception or "")) == (ending, True), (run.ending, run.exception)
    assert took < 10, took  # within its limits (1 s of execution, a worker's grace)
    assert host_files() == before
    assert not any(Path(p).exists() for p in ("/tmp/pwned", "/tmp/absolute.txt", "/tmp/outside.txt", "/tmp/x"))


def test_a_hung_tool_is_stopped_at_its_own_limit(tmp_path: Path):
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_hang.py").write_text("import time\n\ndef test_hangs():\n    time.sleep(600)\n")
    start = time.monotonic()
    (run,) = run_programs(["r = pytest_run('tests/')\nprint(r.passed)"], workspace=str(ws), limits=FAST)
    assert run.ending == "timeout" and "pytest_run ran past its 3 s limit" in (run.exception or "")
    assert time.monotonic() - start < 30


def test_a_tool_missing_on_the_machine_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # a PATH without git (the workspace has no history to make, so only the tool needs it)
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "a.py").write_text("x = 1\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    (run,) = run_programs(["print(git_status('.').clean)"], workspace=str(tmp_path / "ws"), limits=FAST)
    assert run.ending == "tool-missing" and "'git' is not installed" in (run.exception or "")


def test_a_workspace_copy_is_removed_after_its_program():
    templates = WorkspaceTemplates()
    from pytest_punie.sandbox import workspace_spec

    copy = templates.fresh_copy(workspace_spec(None))
    assert (copy / "src/punie/agent/config.py").is_file() and (copy / ".git").is_dir()
    templates.discard(copy)
    assert not copy.exists()
    templates.close()


def test_a_workspace_whose_history_names_a_missing_path_is_an_error_naming_its_file(tmp_path: Path):
    from pytest_punie.sandbox import WorkspaceError, workspace_spec

    (tmp_path / "ws" / "src").mkdir(parents=True)
    (tmp_path / "ws" / "src" / "a.py").write_text("x = 1\n")
    (tmp_path / "ws" / "workspace.yaml").write_text(
        "git:\n  commits:\n"
        "    - {message: m, author: 'A <a@b.c>', date: '2026-01-01T00:00:00+00:00', add: [src, tests]}\n"
    )
    with pytest.raises(
        WorkspaceError, match=r"workspace.yaml: git.commits\[0\].add names what the folder does not hold"
    ):
        workspace_spec(str(tmp_path / "ws"))
