"""The plugin as users run it: collection, verdict exit codes, -k/-m/--lf,
junitxml and xdist, all through pytester."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from pytest_punie.session import EXIT_INCOMPLETE

from ..conftest import read_jsonl

B33 = "--punie-responses=phase33b_responses.jsonl"
A43 = "--punie-responses=phase43a_responses.jsonl"


def _strip_timing(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    for key in ("time", "invocation", "workers"):
        doc["provenance"].pop(key)
    doc["provenance"]["model"].pop("workers", None)  # which processes answered: the only difference
    for p in doc["prompts"]:
        p["seconds"] = None
        for run in p["details"].get("execution") or []:  # the sandbox's timings (pytest_run's tests' too),
            run["seconds"] = run["tool_seconds"] = None  # and whether a tool's result was kept by this process
            run["stdout"] = re.sub(r"duration=[0-9.e-]+", "duration=?", run["stdout"])
            for call in run["calls"]:
                call["seconds"], call["cached"] = None, None
                # the repr is cut at 400 characters, where a duration's digits move the cut
                call["result"] = re.sub(r"duration=[0-9.e-]+", "duration=?", call["result"])[:300]
                # the result's values by field path: pytest_run's durations (its own and each test's) too
                call["fields"] = {k: (None if k.split(".")[-1] == "duration" else v) for k, v in call["fields"].items()}
    return doc


def test_collect_only_lists_27_eval_items(eval_project):
    result = eval_project.runpytest("--collect-only", "-q", "-m", "eval")
    result.stdout.fnmatch_lines(
        [
            "evalsuites/phase33.yaml::text-01",
            "evalsuites/phase33.yaml::multi-01",
            "27/41 tests collected (14 deselected)*",
        ]
    )


def test_keyword_selects_a_category(eval_project):
    result = eval_project.runpytest("--collect-only", "-q", "-m", "eval", "-k", "domain")
    result.stdout.fnmatch_lines(["*9/41 tests collected (32 deselected)*"])


def test_markers_are_registered(eval_project):
    result = eval_project.runpytest("--strict-markers", "--collect-only", "-q", "-m", "eval and not data")
    assert result.ret == 0


def test_passing_thresholds_exit_zero_with_missed_prompts_visible(eval_project):
    result = eval_project.runpytest("-m", "eval", B33, "--punie-json=out.json", "--punie-md=out.md")
    result.assert_outcomes(passed=22, failed=5)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*pytest-punie eval*",
            "domain * 9/9 * 5 *60.0%*>= 0.60 * PASS",
            "overall * 27/27 * 22 *82.4%*>= 0.80 * PASS",
            "VERDICT: PASS*",
        ]
    )
    doc = json.loads((eval_project.path / "out.json").read_text())
    assert doc["verdict"] == "PASS"
    assert doc["overall"]["score"] == pytest.approx(0.824074, abs=1e-6)
    assert doc["categories"]["lsp"]["score"] == 0.9
    assert doc["categories"]["lsp"]["interval"] == {
        "over": "prompts",
        "passes": 5,
        "n": 5,
        "pass_rate": 1.0,
        "low": 0.565518,
        "high": 1.0,
    }
    assert len(doc["prompts"]) == 27
    first = doc["prompts"][0]
    assert set(first) >= {"id", "category", "score", "scores", "label", "response"}
    assert set(first["scores"]) == {"legacy", "strict", "outcome"}
    prov = doc["provenance"]
    assert prov["suites"][0]["digest"].startswith("sha256:")
    assert prov["model"]["kind"] == "replay" and prov["model"]["digest"].startswith("sha256:")
    assert prov["sampling"]["default"]["temperature"] == 0.0
    assert prov["versions"]["pytest-punie"]
    assert "| dom-02 | domain | 0.10 | 0.00 | no | wrapped-wrong-tool |" in (eval_project.path / "out.md").read_text()


def test_failing_thresholds_exit_one(eval_project):
    result = eval_project.runpytest("-m", "eval", A43)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["overall * 27/27 *38.9%*FAIL", "VERDICT: FAIL*"])


def test_strict_flag_fails_on_any_miss(eval_project):
    assert eval_project.runpytest("-m", "eval", B33, "--punie-strict").ret == 1


def test_scorer_override_judges_with_strict(eval_project):
    result = eval_project.runpytest("-m", "eval", B33, "--punie-scorer=strict")
    assert result.ret == 1  # strict: 78.7% overall, below 80%
    result.stdout.fnmatch_lines(["*scorer strict*", "overall * 27/27 *78.7%*FAIL"])


def test_failure_explains_in_the_users_terms(eval_project):
    result = eval_project.runpytest("-m", "eval", B33, "-k", "dom-02")
    result.stdout.fnmatch_lines(
        [
            "dom-02 (domain) missed at phase33.yaml:*",
            "  expected:       validate_service_registration (called through execute_code)",
            "  found tools:    read_file",
            "  label:          wrapped-wrong-tool",
            "  scores:         legacy 0.10, outcome 0.00, strict 0.00 (primary legacy, pass at 0.50)",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_partial_run_judges_only_complete_categories(eval_project):
    result = eval_project.runpytest("-m", "eval", B33, "-k", "lsp or text-01", "--punie-json=p.json")
    doc = json.loads((eval_project.path / "p.json").read_text())
    assert doc["categories"]["lsp"]["passed"] is True
    assert doc["categories"]["text_tools"]["passed"] is None  # 1 of 3 prompts: not judged
    assert doc["categories"]["git"]["prompts_run"] == 0
    assert doc["suites"][0]["overall"]["passed"] is None
    result.stdout.fnmatch_lines(["partial run: 6 of 27 prompts*"])
    assert result.ret == 0


def test_missing_recorded_response_is_an_error_item_and_the_run_incomplete(eval_project):
    """A prompt nothing answered is a failed item, and the run INCOMPLETE: never the model's FAIL."""
    rows = [r for r in read_jsonl(eval_project.path / "phase33b_responses.jsonl") if r.get("id") != "git-02"]
    (eval_project.path / "partial.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = eval_project.runpytest("-m", "eval", "--punie-responses=partial.jsonl", "--punie-json=o.json")
    assert result.ret == EXIT_INCOMPLETE
    result.stdout.fnmatch_lines(
        ["*git-02 (git) at phase33.yaml:*: partial.jsonl has no recorded response for 'git-02'*"]
    )
    doc = json.loads((eval_project.path / "o.json").read_text())
    assert doc["suites"][0]["no_response"] == ["git-02"]
    assert doc["verdict"] == "INCOMPLETE" and doc["completeness"]["state"] == "unanswered"
    assert doc["completeness"]["reasons"][0].startswith("1 prompt(s) without a whole response: 1 with no response")


def test_a_transport_error_never_passes_and_makes_the_run_incomplete(eval_project):
    rows = read_jsonl(eval_project.path / "phase33b_responses.jsonl")
    for r in rows:
        if r.get("id") == "text-02":
            r.pop("response")
            r["error"] = "ReadTimeout after 120 s"
            r["retries"] = 2
    (eval_project.path / "err.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = eval_project.runpytest("-m", "eval", "--punie-responses=err.jsonl", "--punie-json=o.json")
    assert result.ret == EXIT_INCOMPLETE
    result.stdout.fnmatch_lines(["VERDICT: INCOMPLETE (1 prompt(s) without a whole response: *ReadTimeout*"])
    doc = json.loads((eval_project.path / "o.json").read_text())
    text02 = next(p for p in doc["prompts"] if p["id"] == "text-02")
    assert (text02["label"], text02["retries"], text02["score"]) == ("error", 2, 0.0)


def test_bad_responses_file_is_a_clean_usage_error(eval_project):
    (eval_project.path / "bad.jsonl").write_text('{"id": "text-01", "response": {"choices": []}}\n{oops\n')
    result = eval_project.runpytest("-m", "eval", "--punie-responses=bad.jsonl")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: bad.jsonl:2: not valid JSON*"])
    assert "Traceback" not in result.stderr.str()


def test_a_bad_suite_does_not_stop_the_others(eval_project):
    (eval_project.path / "evalsuites" / "broken.yaml").write_text("suite: broken\nsystem_prompt: x\nthreshhold: 1\n")
    result = eval_project.runpytest("-m", "eval", B33)
    result.assert_outcomes(passed=22, failed=6)
    result.stdout.fnmatch_lines(["*invalid suite: *broken.yaml:3: [[]threshhold] unknown key 'threshhold'*"])
    assert result.ret == 1
    assert "Traceback" not in result.stdout.str()


def test_no_model_given_fails_with_guidance(eval_project):
    result = eval_project.runpytest("-m", "eval", "-k", "text-01")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*no model to evaluate: pass --punie-model*"])


def test_other_failing_tests_still_fail_the_run(eval_project):
    eval_project.makepyfile(test_other="def test_broken():\n    assert False\n")
    result = eval_project.runpytest(B33)
    assert result.ret == 1


def test_last_failed_reruns_the_misses_with_the_same_results(eval_project):
    first = eval_project.runpytest("-m", "eval", B33, "--punie-json=a.json")
    assert first.ret == 0
    again = eval_project.runpytest("-m", "eval", B33, "--lf", "--punie-json=b.json")
    again.assert_outcomes(failed=5)
    a = {p["id"]: p for p in json.loads((eval_project.path / "a.json").read_text())["prompts"]}
    b = json.loads((eval_project.path / "b.json").read_text())["prompts"]
    assert {p["id"] for p in b} == {"dom-02", "dom-04", "dom-07", "dom-09", "multi-01"}
    for p in b:
        assert (p["scores"], p["label"]) == (a[p["id"]]["scores"], a[p["id"]]["label"])


def test_junitxml_carries_scores_and_labels(eval_project):
    eval_project.runpytest("-m", "eval", B33, "--junitxml=j.xml")
    xml = (eval_project.path / "j.xml").read_text()
    assert '<property name="punie_score_legacy" value="0.1000"' in xml
    assert '<property name="punie_label" value="wrapped-wrong-tool"' in xml


@pytest.mark.parametrize("fixture", [B33, A43])
def test_xdist_gives_the_same_results_as_one_process(eval_project, fixture):
    serial = eval_project.runpytest_subprocess("-m", "eval", fixture, "-n", "0", "--punie-json=s.json")
    parallel = eval_project.runpytest_subprocess("-m", "eval", fixture, "-n", "2", "--punie-json=p.json")
    assert serial.ret == parallel.ret
    s = _strip_timing(json.loads((eval_project.path / "s.json").read_text()))
    p = _strip_timing(json.loads((eval_project.path / "p.json").read_text()))
    assert s == p
    parallel.stdout.fnmatch_lines(["*VERDICT*"])


def test_importing_the_plugin_is_inert():
    code = (
        "import sys, pytest_punie.plugin, pytest_punie.items.prompts, pytest_punie.session;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('mlx', 'mlx_lm', 'transformers', 'httpx')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_options_are_prefixed(pytestconfig):
    group = pytestconfig._parser.getgroup("punie")
    names = [n for opt in group.options for n in opt.names()]
    assert names and all(n.startswith("--punie-") for n in names)


def test_suite_glob_does_not_descend(eval_project):
    """evalsuites/*.yaml takes suites, not the tokenizer specs in evalsuites/tokenizers/."""
    (eval_project.path / "evalsuites" / "tokenizers").mkdir()
    (eval_project.path / "evalsuites" / "tokenizers" / "qwen3.yaml").write_text("family: qwen3\nsingle_tokens: {}\n")
    result = eval_project.runpytest("--collect-only", "-q", "-m", "eval")
    assert "tokenizers" not in result.stdout.str()
    result.stdout.fnmatch_lines(["27/41 tests collected (14 deselected)*"])


def test_repeat_reports_pass_rate_pass_k_and_intervals(eval_project):
    """--punie-repeat with recorded samples "<id>#<i>": per-prompt pass rate and
    pass^k; per category the sample pass rate and pass^k (the mean over prompts),
    and Wilson intervals over prompts, never over samples."""
    rows = [r for r in read_jsonl(eval_project.path / "phase33b_responses.jsonl") if "id" in r]
    bad = {r["id"]: r for r in read_jsonl(eval_project.path / "phase43a_responses.jsonl") if "id" in r}
    lines = []
    for r in rows:
        for i in range(3):  # sample 2 of lsp-01 is the 43a answer (a direct call, 0.5: still a pass)
            resp = bad[r["id"]]["response"] if (r["id"] in ("git-03", "lsp-01") and i == 2) else r["response"]
            lines.append({"id": f"{r['id']}#{i}", "response": resp})
    (eval_project.path / "rep.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = eval_project.runpytest(
        "-m", "eval", "--punie-responses=rep.jsonl", "--punie-repeat=3", "--punie-json=r.json"
    )
    doc = json.loads((eval_project.path / "r.json").read_text())
    git03 = next(p for p in doc["prompts"] if p["id"] == "git-03")
    assert git03["details"]["sample_passes"] == 2 and git03["details"]["pass_rate"] == pytest.approx(2 / 3)
    assert git03["details"]["pass_hat_k"] == {"1": pytest.approx(2 / 3), "2": pytest.approx(1 / 3), "3": 0.0}
    assert git03["score"] == pytest.approx(2 / 3)  # the mean of 1, 1, 0
    git = doc["categories"]["git"]
    assert git["interval"]["over"] == "prompts" and git["interval"]["n"] == 3 and git["interval"]["passes"] == 3
    assert git["samples"] == {"n": 9, "passes": 8, "pass_rate": pytest.approx(8 / 9)}
    assert git["pass_hat_k"]["3"] == pytest.approx((1 + 1 + 0) / 3)  # git-03 never passes three times running
    assert doc["repeats"]["k"] == 3 and doc["repeats"]["identical_prompts"] == 25
    assert doc["provenance"]["repeat"] == 3
    assert result.ret == 1  # git 88.9% < 90%
    iv = doc["categories"]["git"]["interval"]
    result.stdout.fnmatch_lines(  # the repeat statistics are printed, not only in the JSON
        [
            "repeats: 3 samples per prompt (temperature 0: the 3 samples were identical for 25 of 27 prompts;*",
            "  category*samples*pass rate*pass^3*95% interval (prompts)",
            f"  git * 9 * 88.9% * 66.7% * [[]{iv['low']:.3f}, {iv['high']:.3f}[]] over 3 prompts",
        ]
    )


def test_an_unregistered_scorer_on_the_command_line_is_a_usage_error(eval_project):
    """--punie-scorer is checked against the scorer registry while pytest parses the command line."""
    result = eval_project.runpytest("-m", "eval", "--punie-scorer=lenient")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--punie-scorer: 'lenient' is not a registered scorer (legacy, strict, outcome)*"])
