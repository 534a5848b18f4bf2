"""The gate's parts one by one, on hand-built documents: what must match for two
runs to be compared, completeness, keys, recomputed scores, each regression
row, saved baselines and what apply_gate refuses."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.gate import baselines
from pytest_punie.gate.compare import (
    ALPHA,
    SuiteChanged,
    _category_key,
    _regression,
    check_same_measurement,
    compare,
    completeness_of,
    restricted_to,
)
from pytest_punie.gate.rungate import GateOptions, apply_gate
from pytest_punie.stats import wilson

from .handbuilt import SUITE, document, write_suite


@pytest.fixture
def mini(tmp_path):
    return write_suite(tmp_path)


def test_what_must_match_to_compare(mini, tmp_path):
    base = document([mini])
    assert check_same_measurement(base, base) == []
    other = json.loads(json.dumps(base))
    other["suites"][0]["scorer"] = "strict"
    other["provenance"]["model"] = {"sampling_overrides": {"temperature": 0.5}}
    other["suites"][0]["digest"] = "sha256:other"
    changed = check_same_measurement(other, base)
    assert [c.split(":")[0] for c in changed] == ["suites", "scorers", "sampling_overrides"]
    assert "baseline [" in changed[1] and "candidate ['strict']" in changed[1]
    # a document from before --punie-repeat existed measured one sample, like repeat=1
    older = json.loads(json.dumps(base))
    del older["provenance"]["repeat"]
    assert check_same_measurement(older, base) == []
    with pytest.raises(SuiteChanged):  # compare refuses unless the change is allowed
        compare(other, base, {})
    assert compare(other, base, {}, allow_change=True).verdict == "PASS"


def test_completeness_recorded_or_judged_by_the_suites(mini):
    assert completeness_of({"completeness": {"state": "interrupted", "reasons": ["Ctrl-C"]}}) == (
        "interrupted",
        ["Ctrl-C"],
    )
    assert completeness_of({"suites": [{"suite": "a", "complete": True}]}) == ("whole", [])
    assert completeness_of({"suites": [{"suite": "a", "complete": False}, {"suite": "b", "complete": False}]}) == (
        "partial",
        ["a, b: not every prompt ran"],
    )
    assert completeness_of({"completeness": {"state": ""}, "suites": [{"suite": "a"}]})[0] == "partial"


def test_category_keys_follow_the_document():
    p = {"category": "git", "suite": "s1.yaml", "variant": "t=0.7"}
    one = {"suites": [{"path": "s1.yaml", "suite": "one"}]}
    variants = {"suites": [{"path": "s1.yaml", "suite": "one"}, {"path": "s1.yaml", "suite": "one"}]}
    several = {"suites": [{"path": "s1.yaml", "suite": "one"}, {"path": "s2.yaml", "suite": "two"}]}
    assert _category_key(one, p) == "git"
    assert _category_key(variants, p) == "t=0.7:git"
    assert _category_key(several, p) == "one:t=0.7:git"
    assert _category_key(several, {**p, "variant": ""}) == "one:git"
    assert _category_key(several, {**p, "suite": "gone.yaml", "variant": ""}) == "gone.yaml:git"


def test_restricted_scores_use_each_documents_metric(mini, tmp_path):
    doc = document([mini], failing={"a1"})
    keys = {(mini.path, "", pid) for pid in ("a1", "a2", "b1")}
    cats, overall = restricted_to(doc, keys)
    assert cats["a"] == {
        "score": 0.5,
        "score_exact": Fraction(1, 2),
        "prompts_run": 2,
        "prompts_passed": 1,
        "metric": "pass_rate",
    }
    assert overall["score_exact"] == Fraction(2, 3) and overall["score"] == 0.666667  # exact, rounded only to show
    assert (overall["prompts_run"], overall["prompts_passed"], overall["metric"]) == (3, 2, "pass_rate")
    mean = write_suite(tmp_path, "mean", threshold_metric="mean_score")
    doc = document([mean], failing={"a1"})
    for p in doc["prompts"]:
        if p["id"] == "a2":  # a partial score that still passes, exact as the document keeps it
            p["score"], p["scores_exact"] = 0.25, {k: "1/4" for k in p["scores_exact"]}
    cats, _ = restricted_to(doc, {(mean.path, "", "a1"), (mean.path, "", "a2")})
    assert cats["a"]["score_exact"] == Fraction(1, 8) and cats["a"]["metric"] == "mean_score"
    assert restricted_to(doc, set()) == ({}, None)  # no prompt in common: no overall row


def row(worse: int, better: int, delta: float, allowed: float | None, n: int = 27):
    fail: list[str] = []
    inconclusive: list[str] = []
    flips = [{"from": True, "to": False}] * worse + [{"from": False, "to": True}] * better
    c = {"score": 0.8 + delta, "prompts_run": n, "prompts_passed": 20}
    b = {"score": 0.8, "prompts_run": n, "prompts_passed": 22}
    return _regression("cat", c, b, flips, allowed, fail, inconclusive), fail, inconclusive


def test_a_regression_row():
    entry, fail, inc = row(5, 0, -0.2, 0.1)
    assert entry["candidate_interval"] == wilson(20, 27) and entry["baseline_interval"] == wilson(22, 27)
    assert (entry["worse"], entry["better"], entry["p_value"], entry["prompts"]) == (5, 0, 0.0625, 27)
    assert fail == [] and len(inc) == 1  # p = 0.0625: not below alpha 0.05
    assert inc[0].startswith("cat: 80.0% -> 60.0% (-20.0%), more than the allowed -10.0%, but 5 worse / 0 better")
    assert inc[0].endswith("with 27 prompts at least 6 one-way flips are needed to show a change")
    _, fail, inc = row(6, 0, -0.2, 0.1)
    assert inc == [] and fail == [
        "cat: 80.0% -> 60.0% (-20.0%), more than the allowed -10.0%; 6 prompts got worse, 0 better "
        "(exact McNemar p=0.031)"
    ]
    assert row(6, 0, -0.2, None)[1:] == ([], [])  # no allowance registered: no rule
    assert row(6, 0, -0.1, 0.1)[1:] == ([], [])  # exactly at the allowance
    assert row(6, 0, -0.1000001, 0.1)[1][0].startswith("cat:")  # just beyond it
    # exact scores: 16 of 20 -> 15 of 20 is a drop of exactly 1/20, the allowance 0.05: at the bound, no FAIL
    at, base = {"score_exact": "3/4", "prompts_run": 20}, {"score_exact": "4/5", "prompts_run": 20}
    flips = [{"from": True, "to": False}] * 8  # p = 0.008: a real change, were it beyond the bound
    fail = []
    _regression("cat", {**at, "score": 0.75}, {**base, "score": 0.8}, flips, 0.05, fail, [])
    assert fail == []
    _regression("cat", {**at, "score": 0.75}, {**base, "score": 0.8}, flips, 0.049, fail, [])
    assert len(fail) == 1
    assert ALPHA == 0.05
    third, _, _ = row(0, 0, -1 / 3, None)
    assert third["delta"] == -0.333333  # rounded to 6 places, not 7
    none = {"score": 0.0, "prompts_run": 5, "prompts_passed": 0}
    none_passed = _regression("x", none, {"score": 0.0}, [], None, [], [])
    assert none_passed["candidate_interval"] == wilson(0, 5) and none_passed["baseline_interval"] is None
    empty = _regression("x", {"score": 1.0}, {"score": 1.0}, [], None, [], [])
    assert empty["candidate_interval"] is None and empty["baseline_interval"] is None and empty["prompts"] == 0
    failed_all = _regression("x", none, {"score": 0.0, "prompts_run": 5, "prompts_passed": 0}, [], None, [], [])
    assert failed_all["baseline_interval"] == wilson(0, 5)  # none passed: 0 of 5, not 1 of 5
    assert row(8, 0, -0.3, 0.1)[0]["p_value"] == 0.007812  # 2 / 2^8 = 0.0078125, rounded to 6 places


def test_the_format_lock_rule_holds_when_any_suite_registers_it():
    from pytest_punie.gate.baselines import rules_of

    suites = [
        {"suite": "a", "path": "a.yaml", "rules": {"format_lock": True}},
        {"suite": "b", "path": "b.yaml", "rules": {"format_lock": False}},
    ]
    assert rules_of({"suites": suites})["format_lock"] is True
    assert rules_of({"suites": suites[::-1]})["format_lock"] is True
    assert rules_of({"suites": suites[1:]})["format_lock"] is False


def test_a_baseline_is_a_name_or_a_json_file_never_another_file(tmp_path):
    from pytest_punie.errors import PunieError
    from pytest_punie.gate.baselines import load

    (tmp_path / "notes.txt").write_text('{"prompts": []}')
    with pytest.raises(PunieError, match="no baseline"):
        load(tmp_path / "baselines", str(tmp_path / "notes.txt"))


def test_label_moves_are_counted(mini):
    base = document([mini])
    cand = document([mini], failing={"a1", "a2"})
    result = compare(cand, base, {})
    assert result.comparison["label_moves"] == {"wrapped-correct -> wrapped-wrong-tool": 2}
    assert [m["id"] for m in result.comparison["label_changes"]] == ["a1", "a2"]


# -- saved baselines ----------------------------------------------------------------------
def test_a_baseline_is_saved_whole_and_loaded_by_name_or_path(tmp_path, mini):
    doc = document([mini])
    path = baselines.save(tmp_path / "b" / "deep", "prod-1.0", doc)  # folders made as needed
    assert path == tmp_path / "b" / "deep" / "prod-1.0.json"
    assert [p.name for p in path.parent.iterdir()] == ["prod-1.0.json"]  # no temporary file left
    assert baselines.load(tmp_path / "b" / "deep", "prod-1.0") == (doc, path)
    assert baselines.save(tmp_path / "b" / "deep", "prod-1.0", doc) == path  # saved again over it
    assert baselines.load(tmp_path / "elsewhere", str(path)) == (doc, path)
    with pytest.raises(PunieError, match="baseline name 'a b'"):
        baselines.save(tmp_path / "b", "a b", doc)
    assert not (tmp_path / "b" / "a b.json").exists()


def test_loading_what_is_not_a_baseline_says_so(tmp_path):
    folder = tmp_path / "b"
    with pytest.raises(PunieError, match=r"no baseline 'x' \(saved: none\)"):
        baselines.load(folder, "x")
    folder.mkdir()
    (folder / "one.json").write_text("{\n  oops")
    (folder / "two.json").write_text("[1, 2]")
    (folder / "three.json").write_text('{"verdict": "PASS"}')
    with pytest.raises(PunieError, match=r"no baseline 'x' \(saved: one, three, two\)"):
        baselines.load(folder, "x")
    with pytest.raises(PunieError, match="not a results document") as info:
        baselines.load(folder, "one")
    assert info.value.line == 2
    for name in ("two", "three"):
        with pytest.raises(PunieError, match=r"not a pytest-punie results document \(no prompts\)"):
            baselines.load(folder, name)


def test_rules_of_one_suite_variants_and_several(tmp_path, mini):
    one = baselines.rules_of(document([mini]))
    assert one == {
        "critical": [],
        "metrics": {"rate": 0.2},
        "a": 0.2,
        "b": None,
        "overall": 0.2,
        "format_lock": False,  # the suite does not gate on its format lock
    }
    doc = document([mini])
    doc["suites"].append({**doc["suites"][0], "variant": "t=0.7"})
    doc["suites"][0]["variant"] = "t=0"
    doc["suites"][0]["rules"] = {**doc["suites"][0]["rules"], "critical": ["a1"]}
    variants = baselines.rules_of(doc)
    assert variants["t=0:a"] == 0.2 and variants["t=0.7:a"] == 0.2 and "overall" not in variants
    assert variants["critical"] == ["a1"] and variants["metrics"] == {"t=0:rate": 0.2, "t=0.7:rate": 0.2}


# -- apply_gate ---------------------------------------------------------------------------
def options(tmp_path, **over) -> GateOptions:
    return GateOptions(
        baseline_dir=tmp_path / "baselines",
        save=over.get("save"),
        compare=over.get("compare"),
        compare_md=over.get("compare_md"),
        allow_suite_change=over.get("allow", False),
    )


def test_apply_gate_saves_compares_and_writes_the_summary(tmp_path, mini, monkeypatch):
    base = document([mini])
    apply_gate(base, options(tmp_path, save="prod"))
    assert base["saved_as"] == str(tmp_path / "baselines" / "prod.json") and "gate" not in base
    summary = tmp_path / "summary.md"
    summary.write_text("before\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    cand = document([mini], failing={"b1", "b2", "b3", "b4"})
    apply_gate(cand, options(tmp_path, compare="prod", compare_md=str(tmp_path / "cmp.md")))
    assert cand["gate"]["verdict"] == "FAIL" and cand["comparison"]["baseline_name"] == "prod"
    assert cand["comparison"]["baseline_path"] == str(tmp_path / "baselines" / "prod.json")
    md = (tmp_path / "cmp.md").read_text()
    assert "FAIL" in md and summary.read_text() == "before\n" + md + "\n"


@pytest.mark.parametrize(
    ("mutate", "opts", "reason"),
    [
        (lambda d: d.update(verdict="INVALID", warnings=[{"message": "calls dropped"}]), {"save": "x"}, "INVALID"),
        (lambda d: d.update(verdict="INVALID"), {"compare": "prod"}, "see the warnings"),
        (lambda d: d.update(completeness={"state": "partial", "reasons": ["-k"]}), {"save": "x"}, "run was partial"),
        (
            lambda d: d.update(completeness={"state": "interrupted", "reasons": ["^C"]}),
            {"compare": "prod"},
            "an interrupted run is not gated (^C)",
        ),
        (
            lambda d: d.update(completeness={"state": "unanswered", "reasons": ["2 lost"]}),
            {"compare": "prod"},
            "an INCOMPLETE run is not gated (2 lost)",
        ),
        (lambda d: None, {"compare": "nothing-saved"}, "no baseline 'nothing-saved'"),
    ],
)
def test_apply_gate_refuses_with_its_reason(tmp_path, mini, mutate, opts, reason):
    apply_gate(document([mini]), options(tmp_path, save="prod"))
    doc = document([mini])
    mutate(doc)
    apply_gate(doc, options(tmp_path, **opts))
    assert doc["gate"]["verdict"] == "REFUSED" and reason in doc["gate"]["reasons"][0]
    assert "saved_as" not in doc and not (tmp_path / "baselines" / "x.json").exists()


def test_a_partial_baseline_or_another_suite_is_refused(tmp_path, mini):
    partial = document([mini], missing={"a1"})
    baselines.save(tmp_path / "baselines", "part", partial)
    doc = document([mini])
    apply_gate(doc, options(tmp_path, compare="part"))
    where = tmp_path / "baselines" / "part.json"
    assert doc["gate"]["reasons"][0].startswith(f"{where}: the baseline was itself partial (-k)")  # the file named
    other = write_suite(tmp_path, "mini", overall_threshold=">= 0.4")
    changed = document([other])
    baselines.save(tmp_path / "baselines", "old", document([mini]))
    apply_gate(changed, options(tmp_path, compare="old"))
    assert changed["gate"]["verdict"] == "REFUSED" and "refusing to gate" in changed["gate"]["reasons"][0]
    allowed = document([other])
    apply_gate(allowed, options(tmp_path, compare="old", allow=True))
    assert allowed["gate"]["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")


def test_the_gate_markdown_says_every_rule(tmp_path, mini, snapshot):
    """The comparison people read in a pull request, pinned line by line."""
    from pytest_punie.views.gateview import render_gate_markdown

    apply_gate(document([mini]), options(tmp_path, save="prod"))
    cand = document([mini], failing={"a1", "a2", "a3", "b1", "b2", "b3"})
    apply_gate(cand, options(tmp_path, compare="prod"))
    cand["comparison"]["baseline_path"] = "baselines/prod.json"  # the tmp path differs per run
    assert render_gate_markdown(cand) == snapshot


def test_runs_with_different_prompts_are_compared_on_the_common_ones(mini, tmp_path):
    """A baseline with prompts the candidate lacks (and the other way round): each side
    recomputed on the prompts both have, said as such, flips only among those."""
    base = document([mini], missing={"b5"}, failing={"a1"})
    cand = document([mini], missing={"a5"}, failing={"b1"})
    comp = compare(cand, base, {}).comparison
    assert comp["scope"] == {"restricted": True, "common_prompts": 8, "candidate_prompts": 9, "baseline_prompts": 9}
    assert comp["categories"]["a"]["prompts"] == 4 and comp["categories"]["b"]["prompts"] == 4
    assert comp["categories"]["a"]["baseline"] == 0.75 and comp["categories"]["a"]["candidate"] == 1.0
    assert [(f["id"], f["from"], f["to"]) for f in comp["flips"]] == [("a1", False, True), ("b1", True, False)]
    assert comp["metrics"]["rate"]["prompts"] == 5


def test_a_category_or_metric_only_one_side_has_gets_no_row(mini, tmp_path):
    prompts = [{**p, "category": "a"} for p in SUITE["prompts"]]
    (tmp_path / "one").mkdir()
    one_category = {"a": {"threshold": ">= 0.6"}}
    other = write_suite(tmp_path / "one", "mini", categories=one_category, metrics={}, prompts=prompts)
    cand, base = document([other]), document([mini])
    for doc in (cand, base):  # the same path: the same prompts, told apart by what changed
        doc["suites"][0]["path"] = "mini.yaml"
        for p in doc["prompts"]:
            p["suite"] = "mini.yaml"
    comp = compare(cand, base, {}, allow_change=True).comparison
    assert "b" not in comp["categories"] and comp["metrics"] == {}
    assert set(comp["categories"]) == {"a", "overall"}
    reverse = compare(base, cand, {}, allow_change=True).comparison  # the baseline lacks b and the metric
    assert set(reverse["categories"]) == {"a", "overall"} and reverse["metrics"] == {}


def test_the_gate_terminal_and_markdown_views(tmp_path, mini, snapshot):
    """What a person reads: the terminal lines and the Markdown, on a restricted
    comparison with label changes and a metric row, pinned."""
    from pytest_punie.views.gateview import render_gate_markdown, render_gate_terminal

    base = document([mini], missing={"b5"})
    cand = document([mini], missing={"a5"}, failing={"a1", "a2", "b1"})
    result = compare(cand, base, {"a": 0.1, "overall": 0.1, "metrics": {"rate": 0.1}})
    cand["gate"], cand["comparison"] = result.to_dict(), {**result.comparison, "baseline_name": "prod"}
    cand["provenance"]["model"] = {"digest": "sha256:" + "c" * 64}
    cand["comparison"]["baseline"]["model"] = {"digest": "sha256:" + "b" * 64}
    cand["provenance"]["time"] = cand["comparison"]["baseline"]["time"] = "2026-11-23T12:00:00"
    assert render_gate_terminal(cand) == snapshot
    assert render_gate_markdown(cand) == snapshot


def test_what_the_compared_sizes_can_show():
    from pytest_punie.views.gateview import what_n_prompts_can_show

    comp = {"categories": {"a": {"prompts": 3}, "b": {"prompts": 8}, "overall": {"prompts": 25}}}
    assert what_n_prompts_can_show(comp).startswith(
        "What 25 prompts can show: one flip moves the overall score by 4.0 points and a 3-prompt category by 33 points;"
    )
    assert what_n_prompts_can_show({"categories": {"overall": {"prompts": 4}}}).startswith(
        "What 4 prompts can show: one flip moves the overall score by 25.0 points;"
    )
    assert what_n_prompts_can_show({"categories": {}}) == "No prompts were compared."


def test_a_truncated_baseline_is_named_with_its_line(tmp_path, mini):
    baselines.save(tmp_path / "baselines", "cut", document([mini]))
    path = tmp_path / "baselines" / "cut.json"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # a copy cut short
    doc = document([mini])
    apply_gate(doc, options(tmp_path, compare="cut"))
    reason = doc["gate"]["reasons"][0]
    assert doc["gate"]["verdict"] == "REFUSED"
    assert reason.startswith(f"{path}:") and "not a results document" in reason
    assert path.read_text() == text[: len(text) // 2]  # never changed


def test_a_baseline_that_cannot_be_written_is_a_refusal_naming_its_path(tmp_path, mini):
    """The baseline folder is a file: no baseline is saved, the refusal names the path and why."""
    (tmp_path / "baselines").write_text("not a folder")
    doc = document([mini])
    apply_gate(doc, options(tmp_path, save="prod"))
    (reason,) = doc["gate"]["reasons"]
    assert doc["gate"]["verdict"] == "REFUSED" and "saved_as" not in doc
    assert reason.startswith(f"baseline 'prod' not saved: could not write {tmp_path / 'baselines' / 'prod.json'}: ")
    assert (tmp_path / "baselines").read_text() == "not a folder"
