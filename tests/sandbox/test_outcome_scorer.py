"""The outcome scorer as users run it: replayed answers are run again in the sandbox (never trusted
from the file), each labelled by what its program did; --punie-scorer=outcome judges with it; the
document keeps every call; a changed workspace changes the score."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_punie.sandbox import workspace_spec
from pytest_punie.scoring.outcome import named_paths

SUITE = """\
suite: sandboxed
description: programs whose behaviour is known
primary_scorer: strict
system_prompt: You are Punie.
sampling: {temperature: 0.0, max_tokens: 64}
sandbox: {workspace: ws, time_limit_s: 1}
overall_threshold: ">= 0.50"
categories:
  c: {threshold: ">= 0.50"}
prompts:
  - {id: right, category: c, query: Run type checking on src/., expect: {tools: [typecheck]}}
  - {id: wrong-path, category: c, query: Run type checking on src/., expect: {tools: [typecheck]}}
  - {id: name-error, category: c, query: Check src/ for linting violations with ruff., expect: {tools: [ruff_check]}}
  - id: no-field
    category: c
    query: How many type errors are in src/?
    expect: {tools: [typecheck], fields: [error_count]}
  - {id: endless, category: c, query: Run the tests in tests/., expect: {tools: [pytest_run]}}
  - {id: opens, category: c, query: Show me src/app.py., expect: {tools: [read_file]}}
  - {id: escapes, category: c, query: Write 'done' to out/summary.txt., expect: {tools: [write_file]}}
"""
PROGRAMS = {
    "right": 'r = typecheck("src/")\nprint(r.error_count)',
    "wrong-path": 'r = typecheck("lib/")\nprint(r.error_count)',
    "name-error": 'r = ruff_checker("src/")\nprint(r)',
    "no-field": 'r = typecheck("src/")\nprint(r.type_errors)',
    "endless": 'r = pytest_run("tests/")\nwhile True:\n    pass',
    "opens": 'print(open("src/app.py").read())',
    "escapes": 'write_file("../../summary.txt", "done")',
}
EXPECTED = {
    "right": ("ran-correct", 1),
    "wrong-path": ("wrong-argument", 0),
    "name-error": ("runtime-error", 0),
    "no-field": ("bad-field", 0),
    "endless": ("timeout", 0),
    "opens": ("refused", 0),
    "escapes": ("refused", 0),
}


def answer(code: str) -> dict:
    content = f"<tool_call><function=execute_code>\n<parameter=code>\n{code}\n</parameter>\n</function></tool_call>"
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "evalsuites").mkdir()
    (pytester.path / "evalsuites" / "sandboxed.yaml").write_text(SUITE)
    ws = pytester.path / "evalsuites" / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "app.py").write_text('def f(x: int) -> str:\n    return x\n\ny: int = "a"\n')
    (ws / "tests").mkdir()
    (ws / "tests" / "test_app.py").write_text("def test_ok():\n    assert True\n")
    lines = [json.dumps({"id": pid, "response": answer(code)}) for pid, code in PROGRAMS.items()]
    (pytester.path / "answers.jsonl").write_text("\n".join(lines) + "\n")
    pytester.makeini("[pytest]\n")
    return pytester


def test_replayed_programs_are_run_and_labelled_by_what_they_did(project: pytest.Pytester):
    result = project.runpytest(
        "-m", "eval", "--punie-responses=answers.jsonl", "--punie-json=o.json", "-p", "no:cacheprovider"
    )
    doc = json.loads((project.path / "o.json").read_text())
    rows = {p["id"]: p for p in doc["prompts"]}
    assert {pid: (r["details"]["outcome"]["label"], r["scores"]["outcome"]) for pid, r in rows.items()} == EXPECTED
    # the strict scorer reads text: it credits the program that typechecks the wrong folder
    assert rows["wrong-path"]["scores"]["strict"] == 1
    call = rows["right"]["details"]["execution"][0]["calls"][0]
    assert (call["tool"], call["args"], call["paths"], call["error"]) == ("typecheck", {"path": "src/"}, ["src"], None)
    assert rows["right"]["details"]["execution"][0]["stdout"] == "2\n"  # the two type errors of src/app.py
    assert "NameError" in rows["name-error"]["details"]["execution"][0]["exception"]
    result.stdout.fnmatch_lines(
        ["category * prompts * strict outcome * runs*", "c * 7/7 * 4 * 57.1% * 57.1% * 14.3% * 28.6%*"]
    )


def test_punie_scorer_outcome_judges_with_it_and_labels_the_misses(project: pytest.Pytester):
    result = project.runpytest(
        "-m",
        "eval",
        "--punie-responses=answers.jsonl",
        "--punie-scorer=outcome",
        "--punie-json=o.json",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1, failed=6)
    assert result.ret == 1
    doc = json.loads((project.path / "o.json").read_text())
    assert {p["id"]: p["label"] for p in doc["prompts"]} == {k: v[0] for k, v in EXPECTED.items()}
    result.stdout.fnmatch_lines(
        [
            "wrong-path (c) missed at sandboxed.yaml:12",
            "  program in the sandbox (ws sha256:*): ran, * s",
            "    typecheck(path='lib/') -> TypeCheckResult(success=False, error_count=0*",
            "  outcome: typecheck acted on the wrong thing: typecheck('lib/') (the prompt names 'src')",
        ]
    )


def test_a_changed_workspace_changes_the_replayed_score(project: pytest.Pytester):
    """No tool output is trusted from the file: the same answers against a workspace whose src/ is
    gone act on nothing."""
    shutil.rmtree(project.path / "evalsuites" / "ws" / "src")
    (project.path / "evalsuites" / "ws" / "lib").mkdir()
    project.runpytest("-m", "eval", "--punie-responses=answers.jsonl", "--punie-json=o.json", "-p", "no:cacheprovider")
    doc = json.loads((project.path / "o.json").read_text())
    rows = {p["id"]: p for p in doc["prompts"]}
    assert rows["right"]["details"]["outcome"]["label"] == "wrong-argument"  # src/ is no longer there
    assert rows["wrong-path"]["details"]["outcome"]["label"] == "wrong-argument"


def test_a_missing_workspace_is_an_error_at_its_line(project: pytest.Pytester):
    path = project.path / "evalsuites" / "sandboxed.yaml"
    path.write_text(path.read_text().replace("workspace: ws", "workspace: nowhere"))
    result = project.runpytest("-m", "eval", "--punie-responses=answers.jsonl", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["*invalid suite: evalsuites/sandboxed.yaml:6: ?sandbox.workspace? workspace folder*nowhere does not exist*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_default_workspace_holds_every_path_the_packaged_suites_name():
    from pytest_punie.suite import load_suite
    from pytest_punie.suites import packaged_suites

    root = workspace_spec(None).folder
    for name in ("phase33", "phase26"):
        for prompt in load_suite(packaged_suites()[name]).prompts:
            for path in named_paths(prompt.query):
                if path != "output/summary.txt":  # the one a prompt asks to write
                    assert (root / path).exists(), (name, prompt.id, path)


def test_the_sandbox_is_not_imported_by_the_plugin_until_a_program_runs():
    import subprocess
    import sys

    code = (
        "import pytest_punie.plugin, sys; "
        "print([m for m in sys.modules if 'monty' in m or 'jedi' in m or 'libcst' in m])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert Path(workspace_spec(None).folder).is_dir()


def test_a_tool_this_machine_lacks_leaves_its_prompts_incomplete_named(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    """No git on PATH: the prompt whose program calls git_status is unanswered (the run INCOMPLETE,
    exit 7, naming git and how to fix it), never a zero; the other programs are still run and scored."""
    path = project.path / "evalsuites" / "sandboxed.yaml"
    suite = (
        path.read_text()
        + "  - {id: history, category: c, query: Show the git status., expect: {tools: [git_status]}}\n"
    )
    path.write_text(suite)
    with open(project.path / "answers.jsonl", "a") as fh:
        fh.write(json.dumps({"id": "history", "response": answer('s = git_status(".")\nprint(s.clean)')}) + "\n")
    bin_dir = project.path / "bin-without-git"
    bin_dir.mkdir()
    for exe in ("ty", "ruff"):
        found = shutil.which(exe)
        assert found is not None, exe
        (bin_dir / exe).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    result = project.runpytest_subprocess(
        "-m", "eval", "--punie-responses=answers.jsonl", "--punie-json=o.json", "-p", "no:cacheprovider"
    )
    assert result.ret == 7, result.stdout.str()[-3000:]
    doc = json.loads((project.path / "o.json").read_text())
    assert doc["verdict"] == "INCOMPLETE"
    rows = {p["id"]: p for p in doc["prompts"]}
    assert "git" in rows["history"]["error"] and "install it and rerun" in rows["history"]["error"]
    assert rows["right"]["details"]["outcome"]["label"] == "ran-correct"  # the others were run and scored
    assert rows["right"]["details"]["execution"][0]["stdout"] == "2\n"
    result.stdout.fnmatch_lines(["*VERDICT: INCOMPLETE*"])
    assert "Traceback" not in result.stdout.str()


def test_a_baseline_gates_a_candidate_on_the_outcome_scorer(project: pytest.Pytester):
    """--punie-save and --punie-compare work on the outcome scorer: the flips are counted on what the
    programs did; a baseline saved under another scorer is refused, not compared."""
    common = ["-m", "eval", "-p", "no:cacheprovider", "--punie-scorer=outcome"]
    saved = project.runpytest(*common, "--punie-responses=answers.jsonl", "--punie-save=prod")
    assert saved.ret == 1  # the baseline itself fails its thresholds (1 of 7 ran correct)
    fixed = dict(PROGRAMS, **{"wrong-path": PROGRAMS["right"], "no-field": PROGRAMS["right"]})
    lines = [json.dumps({"id": pid, "response": answer(code)}) for pid, code in fixed.items()]
    (project.path / "better.jsonl").write_text("\n".join(lines) + "\n")
    compared = project.runpytest(
        *common, "--punie-responses=better.jsonl", "--punie-compare=prod", "--punie-json=c.json"
    )
    doc = json.loads((project.path / "c.json").read_text())
    comparison = doc["comparison"]
    flips = {f["id"]: (f["from"], f["to"]) for f in comparison["flips"]}
    assert flips == {"wrong-path": (False, True), "no-field": (False, True)}
    changes = {c["id"]: (c["from"], c["to"]) for c in comparison["label_changes"]}
    assert changes == {"wrong-path": ("wrong-argument", "ran-correct"), "no-field": ("bad-field", "ran-correct")}
    assert comparison["categories"]["c"]["baseline"] == pytest.approx(1 / 7, abs=1e-5)  # what the programs did
    assert comparison["categories"]["c"]["candidate"] == pytest.approx(3 / 7, abs=1e-5)
    compared.stdout.fnmatch_lines(["suite sandboxed *scorer outcome*", "c * 14.3% * 42.9% * +28.6 * 0 * 2 *"])
    assert compared.ret == 1  # the gate fails on the thresholds, not on the comparison
    other = project.runpytest(
        "-m", "eval", "-p", "no:cacheprovider", "--punie-responses=better.jsonl", "--punie-compare=prod"
    )
    assert other.ret != 0
    other.stdout.fnmatch_lines(["*scorer*outcome*strict*"])


def test_the_same_programs_run_once_per_process_and_each_caller_gets_its_own_copy(project, monkeypatch):
    """The live line and the item's own result judge the same answer: its programs run once, on a
    fresh copy of the workspace, and every caller gets the runs as that run left them. Other code,
    other limits, another workspace: run again."""
    import pytest_punie.sandbox as sandbox
    from pytest_punie.sandbox import Limits, run_and_read

    ran: list[str] = []
    real = sandbox.run_program
    monkeypatch.setattr(sandbox, "run_program", lambda code, *a: (ran.append(code), real(code, *a))[1])
    monkeypatch.setattr(sandbox, "_KEPT", type(sandbox._KEPT)())
    ws = str(project.path / "evalsuites" / "ws")
    code = 'r = typecheck("src/")\nprint(r.error_count)\nwrite_file("out.txt", "x")'
    first, read = run_and_read([code], ws, None, Limits(seconds=2), ("out.txt",))
    assert first[0].ran and first[0].stdout == "2\n" and read == {"out.txt": "x"} and len(ran) == 1
    first[0].calls.clear()  # a caller's copy is its own
    again, read_again = run_and_read([code], ws, None, Limits(seconds=2), ("out.txt",))
    assert len(ran) == 1 and again[0].stdout == "2\n"
    assert [c.tool for c in again[0].calls] == ["typecheck", "write_file"]
    assert read_again == {"out.txt": "x"}
    run_and_read([code], ws, None, Limits(seconds=3), ("out.txt",))
    run_and_read([code + "\nprint(1)"], ws, None, Limits(seconds=2), ("out.txt",))
    assert len(ran) == 3
    monkeypatch.setattr(sandbox, "KEPT_RUNS", 1)
    run_and_read(['print("a")'], ws)
    run_and_read([code], ws, None, Limits(seconds=2), ("out.txt",))  # pushed out by the bound: run again
    assert len(ran) == 5 and len(sandbox._KEPT) == 1
