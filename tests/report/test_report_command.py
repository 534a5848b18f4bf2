"""``python -m pytest_punie report``: a saved run drawn again, compared with a baseline, and bad
input named in one line; the documents it reads are never changed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from types import SimpleNamespace

from pytest_punie.cli.reportcmd import main


def report(cwd, *args: str) -> SimpleNamespace:
    """The command run in this process (as ``python -m pytest_punie report`` runs it): exit status and output."""
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(here)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def report_command(cwd, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_punie", "report", *args], cwd=cwd, capture_output=True, text=True
    )


def test_a_saved_run_and_a_comparison_are_rendered_again(eval_project):
    saved = eval_project.runpytest("-m", "eval", "--punie-responses=phase33b_responses.jsonl", "--punie-save=prod")
    assert saved.ret in (0, 1)
    run = eval_project.runpytest("-m", "eval", "--punie-responses=phase43a_responses.jsonl", "--punie-json=cand.json")
    assert run.ret in (0, 1)
    before = (eval_project.path / "cand.json").read_text()
    plain = report_command(eval_project.path, "cand.json")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "wrote cand.html"
    assert "<h1>Eval results:" in (eval_project.path / "cand.html").read_text()
    gated = report(eval_project.path, "cand.json", "--compare", "prod")
    assert gated.returncode == 0, gated.stderr
    page = (eval_project.path / "cand-vs-prod.html").read_text()
    assert "Regression gate: FAIL" in page  # 43a against 33b: the prompts that flipped are listed
    assert page.count('<tr class="answer') == 27 and "<pre class=diff>" in page  # both answers, side by side
    baseline = report(eval_project.path, ".punie/baselines/prod.json", "--out", "prod.html")
    assert baseline.returncode == 0, baseline.stderr  # a saved baseline, drawn as any run
    assert '<svg class="chart categories"' in (eval_project.path / "prod.html").read_text()
    assert (eval_project.path / "cand.json").read_text() == before  # only read
    folder = next((eval_project.path / ".punie" / "runs").iterdir())
    again = report(eval_project.path, str(folder), "--out", "again.html")
    assert again.returncode == 0 and (eval_project.path / "again.html").is_file()


def test_bad_input_is_one_line_naming_the_file(eval_project):
    cut = eval_project.path / "cut.json"
    cut.write_text('{"prompts": [{"id": "text-01", "suite')
    out = report(eval_project.path, "cut.json")
    assert out.returncode == 2 and out.stderr.startswith("pytest-punie report: cut.json:")
    assert "not a results document" in out.stderr and "Traceback" not in out.stderr
    missing = report(eval_project.path, "nowhere")
    assert missing.returncode == 2 and "nowhere/results.json" not in missing.stdout
    assert "no results document here" in missing.stderr


def test_what_cannot_be_drawn_or_written_is_one_line(eval_project, tmp_path):
    run = eval_project.runpytest("-m", "eval", "--punie-responses=phase33b_responses.jsonl", "--punie-json=run.json")
    assert run.ret in (0, 1)
    lint_only = eval_project.path / "lint.json"
    lint_only.write_text(json.dumps({"prompts": [], "findings": []}))
    out = report(eval_project.path, "lint.json")
    assert out.returncode == 2 and out.stderr == (
        "pytest-punie report: lint.json: a document with nothing judged (data lint or checks only): no report to draw\n"
    )
    same = report(eval_project.path, "run.json", "--out", "run.json")
    assert same.returncode == 2 and "the report would overwrite the results document it is drawn from" in same.stderr
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    written = report(eval_project.path, "run.json", "--out", str(a_file / "r.html"))  # its folder is a file
    assert written.returncode == 2 and written.stderr.startswith("pytest-punie report: ")
    assert f"{a_file}: not written: File exists" in written.stderr and "Traceback" not in written.stderr
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "results.json").write_text((eval_project.path / "run.json").read_text())
    drawn = report(eval_project.path, str(folder))
    assert drawn.returncode == 0 and drawn.stdout == f"wrote {folder / 'report.html'}\n"
    named = report(eval_project.path, str(folder / "results.json"), "--compare", str(folder / "results.json"))
    assert named.returncode == 0 and (folder / "results-vs-results.html").is_file()


def test_open_asks_the_browser_for_the_written_page(eval_project, monkeypatch):
    import webbrowser

    run = eval_project.runpytest("-m", "eval", "--punie-responses=phase33b_responses.jsonl", "--punie-json=run.json")
    assert run.ret in (0, 1)
    asked: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: asked.append(url) or False)
    out = report(eval_project.path, "run.json", "--open")
    page = eval_project.path / "run.html"
    assert out.returncode == 0 and asked == [page.resolve().as_uri()]
    assert out.stdout == "wrote run.html\n" and out.stderr == "no browser here: open the file above\n"
    monkeypatch.setattr(webbrowser, "open", lambda url: True)
    assert report(eval_project.path, "run.json", "--open").stderr == ""
