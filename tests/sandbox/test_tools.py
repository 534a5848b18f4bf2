"""The 26 tools run for real on the packaged workspace: each family's result checked against the
program behind it, run here independently (ty, ruff, pytest, git), or against the workspace's own
text (jedi, libcst). No tool is mocked."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from pytest_punie.sandbox import run_programs, workspace_spec
from pytest_punie.sandbox.resulttypes import TypeCheckResult
from pytest_punie.sandbox.workspace import materialise
from pytest_punie.toolsurface import load_surface


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default workspace made once, as a program's copy is, for the independent runs."""
    return materialise(workspace_spec(None), tmp_path_factory.mktemp("ws") / "punie")


def run(code: str) -> str:
    (result,) = run_programs([code])
    assert result.ending == "ran", (result.ending, result.exception)
    return result.stdout


def test_every_tool_of_the_surface_is_a_sandbox_function_with_the_reference_fields():
    from dataclasses import fields

    from pytest_punie.sandbox import resulttypes
    from pytest_punie.sandbox.toolset import IMPLEMENTATIONS

    surface = load_surface()
    assert set(IMPLEMENTATIONS) == set(surface.tools) and len(IMPLEMENTATIONS) == 26
    for type_name, names in ((t, surface.fields_of(t)) for t in surface.types):
        assert {f.name for f in fields(getattr(resulttypes, type_name))} == set(names or ()), type_name


def test_typecheck_reports_what_the_type_checker_itself_reports(made: Path):
    out = run('r = typecheck("src/")\nprint(r.error_count)\nfor e in r.errors:\n    print(e.file, e.line, e.code)')
    own = subprocess.run(["ty", "check", "--output-format", "concise", "src"], cwd=made, capture_output=True, text=True)
    expected = [m.groups() for m in re.finditer(r"^(\S+?):(\d+):\d+: error\[([^\]]+)\]", own.stdout, re.M)]
    lines = out.splitlines()
    assert int(lines[0]) == len(expected) > 0
    assert [tuple(line.split()) for line in lines[1:]] == [(f, n, c) for f, n, c in expected]


def test_ruff_check_reports_ruffs_own_json(made: Path):
    out = run(
        'r = ruff_check("src/")\nprint(r.violation_count, r.fixable_count)\nprint([v.code for v in r.violations])'
    )
    own = json.loads(
        subprocess.run(
            ["ruff", "check", "--output-format", "json", "--no-cache", "--exit-zero", "src"],
            cwd=made,
            capture_output=True,
            text=True,
        ).stdout
    )
    count, fixable = map(int, out.splitlines()[0].split())
    assert count == len(own) > 0 and fixable == sum(1 for v in own if v["fix"])
    assert out.splitlines()[1] == repr([v["code"] for v in own])


def test_pytest_run_counts_the_workspaces_tests(made: Path):
    out = run(
        'r = pytest_run("tests/")\nprint(r.passed, r.failed, r.success)\n'
        'print([t.name for t in r.tests if t.outcome == "failed"])'
    )
    own = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=made,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    summary = re.search(r"(\d+) failed, (\d+) passed", own.stdout)
    assert summary, own.stdout
    assert out.splitlines()[0] == f"{summary[2]} {summary[1]} False"
    assert "test_scaled_keeps_alpha_ratio" in out.splitlines()[1]


def test_git_tools_read_the_declared_history(made: Path):
    out = run(
        's = git_status(".")\nprint(s.clean, sorted((f.file, f.status) for f in s.files))\n'
        'd = git_diff(".")\nprint(d.file_count, d.additions, d.deletions)\n'
        'l = git_log(".", 3)\nprint(l.commit_count, l.commits[0].message, l.commits[0].author)'
    )
    status, diff, log = out.splitlines()
    assert status == "False [('notes/todo.md', 'untracked'), ('src/punie/training/lora_config.py', 'modified')]"
    numstat = subprocess.run(["git", "diff", "--numstat"], cwd=made, capture_output=True, text=True).stdout.split()
    assert diff == f"1 {numstat[0]} {numstat[1]}"
    assert log == "3 Tests for config and training Ada Reviewer"


def test_lsp_tools_answer_from_jedi_on_the_workspaces_files(made: Path):
    out = run(
        'g = goto_definition("src/punie/agent/__init__.py", 3, 0, "AgentConfig")\n'
        "print(g.locations[0].file, g.locations[0].line)\n"
        'r = find_references("src/punie/agent/toolset.py", 6, 4, "execute_code")\nprint(r.reference_count)\n'
        'h = hover("src/punie/training/lora_config.py", 7, 6, "LoRAConfig")\n'
        'print("alpha size the adapter" in h.content)\n'
        'd = document_symbols("src/punie/training/lora_config.py")\nprint([s.name for s in d.symbols])\n'
        'w = workspace_symbols("TrainingResult")\nprint([(s.file, s.line) for s in w.symbols])'
    )
    goto, refs, hov, doc, ws = out.splitlines()
    text = (made / "src/punie/agent/config.py").read_text().splitlines()
    assert goto == f"src/punie/agent/config.py {text.index('class AgentConfig:') + 1}"
    uses = sum(  # the name as code, not inside strings or docstrings
        1
        for p in (made / "src").rglob("*.py")
        for tok in tokenize.generate_tokens(io.StringIO(p.read_text()).readline)
        if tok.type == tokenize.NAME and tok.string == "execute_code"
    )
    assert int(refs) == uses
    assert hov == "True"
    assert doc == "['dataclass', 'LoRAConfig', 'default_config', 'scaled']"
    runner = (made / "src/punie/training/train_runner.py").read_text().splitlines()
    assert ws == repr([("src/punie/training/train_runner.py", runner.index("class TrainingResult:") + 1)])


def test_cst_tools_find_rename_and_add_without_writing(made: Path):
    out = run(
        'f = cst_find_pattern("src/punie/http/websocket.py", "ClassDef")\nprint(f.match_count)\n'
        'r = cst_rename("src/punie/training/train_runner.py", "TrainingResult", "FineTuneResult")\n'
        'print(r.rename_count, "FineTuneResult" in r.modified_source)\n'
        'a = cst_add_import("src/punie/http/websocket.py", "from collections import defaultdict")\n'
        'print(a.import_added, "from collections import defaultdict" in a.modified_source)\n'
        'print("FineTuneResult" in read_file("src/punie/training/train_runner.py"))'
    )
    classes = len(re.findall(r"^class ", (made / "src/punie/http/websocket.py").read_text(), re.M))
    uses = len(re.findall(r"\bTrainingResult\b", (made / "src/punie/training/train_runner.py").read_text()))
    assert out.splitlines() == [str(classes), f"{uses} True", "True True", "False"]


def test_domain_validators_answer_as_the_workspace_declares():
    out = run(
        'r = validate_route_pattern("src/routes/api.py")\nprint(r.valid, r.domain, [i.rule for i in r.issues])\n'
        'print(validate_component("src/views/home.py").valid)\nprint(validate_component("nope.py").parse_error)'
    )
    assert out.splitlines() == [
        "False tdom-svcs ['unbalanced-brace', 'leading-slash']",
        "True",
        "no such file in the workspace: 'nope.py'",
    ]


def test_print_of_a_result_is_its_repr_as_in_production():
    out = run('print(typecheck("src/punie/training/"))')
    assert out.startswith("TypeCheckResult(success=True, error_count=0, warning_count=0, errors=[], parse_error=None)")


def test_writes_never_leak_between_programs_and_the_same_call_runs_once():
    first = run_programs(
        ['write_file("output/summary.txt", "Phase 33 complete")\nprint(read_file("output/summary.txt"))']
    )
    assert first[0].stdout == "Phase 33 complete\n"
    (second,) = run_programs(['print(read_file("output/summary.txt"))'])
    assert second.ending == "runtime-error" and second.exception_type == "FileNotFoundError"
    # two programs making the same call (the same program twice is one run: the sandbox keeps it)
    a, b = (run_programs([f'r = ruff_check("src/views/")\nprint({i})'])[0] for i in range(2))
    assert not a.calls[0].cached or b.calls[0].cached  # the first may have run in an earlier test
    assert b.calls[0].cached and b.calls[0].result == a.calls[0].result


def test_a_suites_own_toolset_module_replaces_ours_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "my_toolset.py").write_text(
        "from pytest_punie.sandbox.resulttypes import TypeCheckResult\n"
        "def typecheck(path):\n    return TypeCheckResult(True, 0, 41, [], None)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    (res,) = run_programs(
        ['print(typecheck("src/").warning_count, ruff_check("src/").violation_count > 0)'], tools_module="my_toolset"
    )
    assert res.stdout == "41 True\n"
    from pytest_punie.sandbox import tool_provenance
    from pytest_punie.sandbox.toolset import load_user_tools

    prov = tool_provenance(load_user_tools("my_toolset"), "my_toolset")
    assert prov["typecheck"] == "the suite's toolset my_toolset"
    assert (
        prov["ruff_check"].startswith("computed by ruff ") and prov["validate_component"] == "declared by the workspace"
    )
    assert isinstance(TypeCheckResult(True, 0, 0), TypeCheckResult)
