"""What a person meets: results that never vanish, usage errors that are not
a failed model, suites usable from any project, failures in the user's terms."""

from __future__ import annotations

import json
import shutil

import pytest

from ..conftest import FIXTURES, PHASE33

B33 = "--punie-responses=phase33b_responses.jsonl"


def test_every_run_writes_its_results_and_says_where(eval_project):
    result = eval_project.runpytest("-m", "eval", B33)
    assert result.ret == 0
    runs = list((eval_project.path / ".punie" / "runs").iterdir())
    assert len(runs) == 1 and {p.name for p in runs[0].iterdir()} == {"results.json", "results.md", "report.html"}
    result.stdout.fnmatch_lines([f"results: {runs[0]}/ (results.json, results.md, report.html)"])
    assert json.loads((runs[0] / "results.json").read_text())["verdict"] == "PASS"
    again = eval_project.runpytest("-m", "eval", B33, "--punie-html=r.html", "--punie-json=r.json")
    assert len(list((eval_project.path / ".punie" / "runs").iterdir())) == 2  # never overwritten
    again.stdout.fnmatch_lines(["wrote r.json", "wrote r.html"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--punie-model=tiny5bit"], "*--punie-model tiny5bit: unknown model 'tiny5bit'*"),
        (["--punie-temperatures=0,hot"], "*--punie-temperatures: expected numbers >= 0 like 0,0.7, got '0,hot'"),
        (["--punie-repeat=0"], "*--punie-repeat: expected a whole number >= 1, got 0"),
        (["--punie-seeds=0,0"], "*--punie-seeds: expected distinct whole numbers >= 0 like 0,1,2, got '0,0'"),
        (["--punie-timeout-scale=0"], "*--punie-timeout-scale: expected a number > 0, got 0"),
        (["--punie-max-tokens=many"], "*--punie-max-tokens: expected a whole number >= 1, got many"),
        (["--punie-server-concurrency=0"], "*--punie-server-concurrency: expected a whole number >= 1, got 0"),
        (["--punie-temperature=-1"], "*--punie-temperature: expected a number >= 0, got -1"),
        (["-m", "evl"], "*-m 'evl': no marker 'evl' is registered; did you mean 'eval'?"),
        (
            ["-m", "eval", B33, "--punie-variant=seed=1"],
            "*--punie-variant seed=1: no such variant in this run (its variants: none: give --punie-seeds*",
        ),
        (
            ["--punie-suite=phase99"],
            "*--punie-suite phase99: no packaged suite of that name (packaged: phase26, phase33, tasks)*",
        ),
    ],
)
def test_configuration_errors_are_usage_errors_before_anything_runs(eval_project, args, message):
    result = eval_project.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "passed" not in result.stdout.str() and "failed" not in result.stdout.str()


def test_an_empty_model_directory_is_a_usage_error(eval_project):
    (eval_project.path / "empty").mkdir()
    result = eval_project.runpytest("-m", "eval", "--punie-model=empty")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--punie-model empty: *empty: no config.json: not an mlx-lm model directory"])


def test_a_space_separated_path_value_is_caught_with_the_fix(eval_project, tmp_path):
    data = tmp_path / "elsewhere" / "data"
    data.mkdir(parents=True)
    result = eval_project.runpytest_subprocess("-m", "data", "--punie-data", str(data))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*write --punie-data={data} (with '='): pytest chose its rootdir*"])
    ok = eval_project.runpytest_subprocess("-m", "data", f"--punie-data={data}", "-p", "no:cacheprovider")
    assert ok.ret == 1  # linted (an empty dataset fails), with the project's rootdir and config
    ok.stdout.fnmatch_lines([f"rootdir: {eval_project.path}"])


def test_every_option_that_takes_a_value_is_known_to_the_space_check():
    """Read from options.py's own declarations: an option added there is never missing from the check."""
    from pytest_punie.options import value_options

    names = value_options()
    assert {"--punie-data", "--punie-model", "--punie-tokenizer-family", "--punie-temperatures"} <= set(names)
    assert "--punie-strict" not in names and "--punie-no-cache" not in names  # flags take no value


def test_the_packaged_suite_runs_in_a_project_without_one(pytester):
    shutil.copy(FIXTURES / "phase33b_responses.jsonl", pytester.path / "r.jsonl")
    pytester.makeini("[pytest]\n")
    nothing = pytester.runpytest("-m", "eval", "--punie-responses=r.jsonl")
    nothing.stdout.fnmatch_lines(["pytest-punie: no eval suite was collected*--punie-suite phase33*"])
    assert nothing.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result = pytester.runpytest("-m", "eval", "--punie-suite=phase33", "--punie-responses=r.jsonl")
    result.assert_outcomes(passed=22, failed=5)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["overall * 27/27 * 22 *82.4%*PASS", "VERDICT: PASS*"])


def test_a_projects_own_suite_wins_over_the_packaged_one(eval_project):
    result = eval_project.runpytest("-m", "eval", "--punie-suite=phase33", B33)
    result.assert_outcomes(passed=22, failed=5)  # 27 prompts, not 54


def test_punie_suite_selects_the_suite_it_names_among_the_projects_suites(eval_project):
    """In a project whose testpaths collect both suites, ``--punie-suite=phase33`` runs Phase 33
    alone (its 27 prompts), by name or by file, as it does from a project with no suites."""
    from ..conftest import ROOT

    shutil.copy(ROOT / "evalsuites" / "phase26.yaml", eval_project.path / "evalsuites" / "phase26.yaml")
    eval_project.makeini("[pytest]\ntestpaths = evalsuites\n")
    for value in ("phase33", "evalsuites/phase33.yaml"):
        result = eval_project.runpytest("-m", "eval", f"--punie-suite={value}", B33, "--punie-json=one.json")
        result.assert_outcomes(passed=22, failed=5, deselected=25 + 14)
        doc = json.loads((eval_project.path / "one.json").read_text())
        assert [s["suite"] for s in doc["suites"]] == ["phase33"] and len(doc["prompts"]) == 27
        assert all(p["response"] for p in doc["prompts"])


def test_a_miss_shows_what_the_model_wrote_readably(eval_project):
    result = eval_project.runpytest("-m", "eval", B33, "-k", "dom-02")
    result.stdout.fnmatch_lines(
        [
            "dom-02 (domain) missed at phase33.yaml:*",
            "  expected:       validate_service_registration (called through execute_code)",
            "  found tools:    read_file",
            "  served:         raw-unavailable",
            "  the model wrote:",
            "    | <tool_call><function=execute_code>",
            "    | <parameter=code>",
        ]
    )


def test_artifacts_given_directly_do_not_build_the_default_model(tiny_project_no_build, tmp_path):
    log = tmp_path / "train.log"
    log.write_text("Starting training..., iters: 10\nIter 10: Train loss 0.500, Learning Rate 1e-4\n")
    result = tiny_project_no_build.runpytest_subprocess(
        "-m", "pipeline", f"--punie-train-log={log}", "-p", "no:cacheprovider", "-v"
    )
    out = result.stdout.str()
    assert "building" not in out and "pipeline[tiny_5bit]" not in out
    result.stdout.fnmatch_lines(["*pipeline[[]*train.log[]]::training-log FAILED*"])  # no validation lines


@pytest.fixture
def tiny_project_no_build(pytester, monkeypatch, tmp_path):
    """The repo's pyproject (punie_model = tiny_5bit) with an empty cache: building would show."""
    from ..conftest import ROOT

    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    (pytester.path / "evalsuites").mkdir()
    shutil.copy(PHASE33, pytester.path / "evalsuites" / "phase33.yaml")
    monkeypatch.setenv("PUNIE_CACHE_DIR", str(tmp_path / "empty-cache"))
    return pytester
