"""The README's commands are tests: each line of its tested blocks runs literally, as a newcomer
runs it, in a fresh virtual environment on a copy of the checkout whose cache starts empty
(``newcomer`` in tests/conftest.py: its set-up line, then the first one-suite command, cold).
Each run is judged on what it answered (a response on every prompt) and the verdict it printed,
never on its exit status alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import FIRST_BUILD, ROOT, Newcomer, loopback_hosts_held, readme_commands

pytestmark = pytest.mark.slow

ONE_SUITE = [c for c in readme_commands() if c.startswith("pytest ") and ("phase33" in c)]
MAIN_JOB = [c for c in readme_commands() if c.startswith("pytest ") and "phase" not in c]


def output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def answered(doc: dict, suites: list[str], prompts: int) -> None:
    """Every prompt of the suites asked for has a whole response, and the run was judged."""
    assert [s["suite"] for s in doc["suites"]] == suites
    assert len(doc["prompts"]) == prompts
    missing = [p["id"] for p in doc["prompts"] if p.get("error") or not p.get("response")]
    assert missing == [], [p.get("error") for p in doc["prompts"] if p.get("error")][:3]
    assert all(p["response"]["choices"][0]["message"] for p in doc["prompts"])
    assert doc["completeness"]["state"] == "whole" and doc["verdict"] in ("PASS", "FAIL")


def verdict_printed(done: subprocess.CompletedProcess[str]) -> None:
    out = output(done)
    assert "VERDICT: FAIL (" in out or "VERDICT: PASS" in out, out[-3000:]
    assert "stage gate" not in out and "Traceback" not in out and "INTERNALERROR" not in out, out[-3000:]
    # the tiny model misses the Phase 40 thresholds: the verdict is FAIL, and so is the exit status
    assert done.returncode == (1 if "VERDICT: FAIL (" in out else 0), out[-3000:]


def adapter_of(doc: dict) -> dict:
    return next(b for b in doc["provenance"]["model"]["builds"] if b["step"] == "adapter")


def adapter_weights(doc: dict) -> list[str]:
    """The digests of the adapter's weights (final and checkpoints): its train.log holds timings."""
    from pytest_punie.models.digest import path_digest

    files = sorted(Path(adapter_of(doc)["path"]).glob("*adapters.safetensors"))
    assert len(files) == 4, files  # the final adapter and its checkpoints at 20, 40 and 60
    return [f"{f.name}:{path_digest(f)}" for f in files]


def test_the_readme_blocks_hold_the_commands_tested_here():
    commands = readme_commands()
    assert len(MAIN_JOB) == 1 and len(ONE_SUITE) == 3, commands
    assert [c for c in commands if c.startswith("pytest ")] == [*MAIN_JOB, *ONE_SUITE]
    assert sum(FIRST_BUILD in c for c in ONE_SUITE) == 1
    assert any("-k phase33" in c for c in ONE_SUITE) and any("--punie-suite=phase33" in c for c in ONE_SUITE)
    # the README's test command is exactly what .ci/run runs
    tests = [c for c in commands if c.startswith("python -m pytest")]
    assert len(tests) == 1
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests[0].split("#")[0].strip() in [line.strip() for line in ci]


def test_the_set_up_line_installs_the_copy_into_the_fresh_venv(newcomer: Newcomer):
    setup = next(c for c in readme_commands() if " pip install " in f" {c} ")
    assert newcomer.ran[setup].returncode == 0
    where = newcomer.run("python -c 'import pytest_punie; print(pytest_punie.__file__)'")
    assert where.stdout.strip() == str(newcomer.project / "pytest_punie" / "__init__.py"), output(where)
    assert newcomer.run("command -v pytest").stdout.strip() == str(newcomer.venv / "bin" / "pytest")


def test_one_suite_by_its_path_builds_the_embedded_model_cold_and_answers_27(newcomer: Newcomer):
    """The defect of a cold one-suite run: the recipe's data gate linted the embedded data against
    Phase 33 alone and refused it. Built cold here, every step, through the same gate."""
    first = next(c for c in ONE_SUITE if FIRST_BUILD in c)
    done = newcomer.ran[first]
    verdict_printed(done)
    doc = newcomer.document(first)
    answered(doc, ["phase33"], 27)
    builds = doc["provenance"]["model"]["builds"]
    assert [b["step"] for b in builds] == ["q4", "adapter", "fused", "q5"]
    assert all(b["built_now"] for b in builds), builds  # cold: every step built in this run
    assert Path(builds[-1]["path"]).is_relative_to(newcomer.cache)
    for step in ("tokenizer", "base-qwen3", "q4", "adapter", "fused", "q5"):
        assert f"built {step} in" in output(done), step
    gate = adapter_of(doc)["data_gate"]
    assert gate["passed"] and gate["errors"] == 0 and [s["name"] for s in gate["suites"]] == ["phase26", "phase33"]


@pytest.mark.parametrize("line", [c for c in ONE_SUITE if FIRST_BUILD not in c], ids=["-k", "--punie-suite"])
def test_one_suite_by_k_and_by_name_answers_27(newcomer: Newcomer, line: str):
    done = newcomer.run(line)
    verdict_printed(done)
    doc = newcomer.document(line)
    answered(doc, ["phase33"], 27)
    assert not any(b["built_now"] for b in doc["provenance"]["model"]["builds"])
    assert adapter_of(doc)["data_gate"] == adapter_of(newcomer.document(newcomer_first()))["data_gate"]


def newcomer_first() -> str:
    return next(c for c in ONE_SUITE if FIRST_BUILD in c)


def test_the_main_job_answers_every_suite(newcomer: Newcomer):
    done = newcomer.run(MAIN_JOB[0])
    verdict_printed(done)
    answered(newcomer.document(MAIN_JOB[0]), ["phase26", "phase33", "tasks"], 74)
    for suite in ("phase26", "phase33", "tasks"):
        assert f"suite verdict {suite}: " in output(done)


SCALE_OUT = readme_commands("doc-test: scaleout", "docs/howto/scale-out.md")


def test_the_scale_out_section_word_for_word_gives_the_serial_document(newcomer: Newcomer):
    """The scale-out how-to's lines (docs/howto/scale-out.md), literally, in the newcomer's checkout: two ssh hosts on
    loopback addresses, the seed sweep serially and over the hosts (a seed each), the documents
    the same prompt for prompt, and the hosts stopped with nothing left listening."""
    from .test_ssh_hosts import listening_on

    assert len(SCALE_OUT) == 6 and SCALE_OUT[-1].endswith("stop /tmp/punie-hosts"), SCALE_OUT
    with loopback_hosts_held():
        shutil.rmtree("/tmp/punie-hosts", ignore_errors=True)
        try:
            for line in SCALE_OUT:
                done = newcomer.run(line)
                ok = (0, 1) if line.startswith("pytest ") else (0,)
                assert done.returncode in ok, (line, output(done)[-3000:])
                assert "Traceback" not in output(done) and "INTERNALERROR" not in output(done), output(done)[-3000:]
        finally:
            newcomer.run(SCALE_OUT[-1])
        assert listening_on(2222) == []
    serial, hosts = (json.loads((newcomer.project / f"{n}.json").read_text()) for n in ("serial", "hosts"))
    for doc in (serial, hosts):
        assert len(doc["prompts"]) == 54 and all(p["response"] and not p["error"] for p in doc["prompts"])
    assert "the same: 54 answered prompts" in newcomer.ran[SCALE_OUT[4]].stdout
    where = {v: hosts["provenance"]["variants"][v]["hosts"] for v in ("seed=0", "seed=1")}
    assert sorted(h for names in where.values() for h in names) == [
        f"{os.uname().nodename} (ssh 127.0.0.2)",
        f"{os.uname().nodename} (ssh 127.0.0.3)",
    ], where
    assert hosts["response_cache"]["hits"] == 0  # the hosts answered every prompt themselves


def test_the_gate_lines_save_a_baseline_and_gate_against_it(newcomer: Newcomer):
    """The README's two gate lines, literally: a baseline saved from answered prompts, then the
    same model gated against it: PASS on the thresholds is not asked of the tiny model, so the gate
    is judged by what it compared (27 answered prompts, none flipped)."""
    save, compare = readme_commands("readme-test: gate")
    done = newcomer.run(save)
    verdict_printed(done)
    answered(newcomer.document(save), ["phase33"], 27)
    assert (newcomer.project / ".punie" / "baselines").is_dir()
    done = newcomer.run(compare)
    assert "Traceback" not in output(done) and done.returncode == 1, output(done)[-3000:]
    doc = newcomer.document(compare)
    answered(doc, ["phase33"], 27)
    assert doc["gate"]["verdict"] in ("FAIL", "INCONCLUSIVE", "PASS"), doc["gate"]  # never REFUSED
    comparison = doc["comparison"]
    assert comparison["scope"]["common_prompts"] == 27 and comparison["baseline_name"] == "prod"
    assert comparison["flips"] == [] and comparison["label_changes"] == []  # the same model, greedy


def test_the_suite_to_copy_runs_as_the_readme_says(newcomer: Newcomer):
    """The README's suite, saved where it says, answered by the line it gives (its two prompts)."""
    from ..conftest import marked_block

    suite = newcomer.project / "evalsuites" / "my_tools.yaml"
    suite.write_text("\n".join(marked_block("readme-suite")) + "\n")
    try:
        line = "pytest --punie-model=tiny_5bit -m eval -k my_tools"
        assert f"`{line}`" in (ROOT / "README.md").read_text().replace("\n", " ")
        done = newcomer.run(line)
        verdict_printed(done)
        answered(newcomer.document(line), ["my_tools"], 2)
    finally:
        suite.unlink()


def test_the_picture_line_draws_the_report_of_the_newest_run(newcomer: Newcomer):
    [line] = readme_commands("readme-test: picture")
    picture = newcomer.project / "docs" / "_static" / "report.png"
    picture.unlink()
    done = newcomer.run(line)
    assert done.returncode == 0, output(done)[-2000:]
    assert picture.stat().st_size < 200_000 and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    committed = ROOT / "docs" / "_static" / "report.png"
    assert committed.stat().st_size < 200_000  # small enough to commit


def test_the_docs_build_with_warnings_as_errors_as_ci_builds_them(tmp_path):
    """The README's docs line is the one .ci/run runs; built here into a temporary folder."""
    [line] = readme_commands("readme-docs")
    ci = [x.strip() for x in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert line.split("#")[0].strip() in ci
    argv = line.split("#")[0].split()
    assert argv[-1] == "docs/_build"
    done = subprocess.run(
        [sys.executable, *argv[1:-1], str(tmp_path / "html")], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "html" / "index.html").is_file()
    assert (tmp_path / "html" / "glossary.html").is_file() and (tmp_path / "html" / "suite-keys.html").is_file()
