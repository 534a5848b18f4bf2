"""A suite is what it claims to be: each way a suite file can be wrong is a located error with the
words a user reads, each default a user relies on holds, and what a suite loads to is pinned
(these pin what the mutation run found unguarded: scripts/mutation.py, suite/)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from pytest_punie.errors import SuiteError
from pytest_punie.suite import load_suite
from pytest_punie.suite.suitetypes import Expectation, Sampling, Threshold
from pytest_punie.suite.yamlsource import MAX_DEPTH, MAX_VALUES, LocatedYaml, keypath_str, load_located

from ..conftest import ROOT


def suite_dict(**over) -> dict:
    """A small valid suite, with keys replaced or added."""
    doc = {
        "suite": "mini",
        "system_prompt": "You are Punie.",
        "overall_threshold": ">= 0.5",
        "categories": {"git": {"threshold": ">= 0.9"}, "lsp": {"threshold": ">= 0.8"}},
        "prompts": [
            {"id": "g1", "category": "git", "query": "status?", "expect": {"tools": ["git_status"]}},
            {"id": "l1", "category": "lsp", "query": "hover?", "expect": {"tools": ["hover"]}},
        ],
    }
    doc.update(over)
    return doc


def write(tmp_path: Path, doc: dict | str, name: str = "s.yaml") -> tuple[Path, str]:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, text


def error_of(path: Path) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return info.value


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# -- the YAML itself -------------------------------------------------------------------


def test_aliases_expand_to_exactly_the_budget_and_one_more_is_refused_while_a_suites_own_size_is_not(tmp_path):
    """Aliases of aliases could expand without bound: 100,000 values reached again through aliases, to
    the value; a suite written out in full (50,000 prompts hold far more values) is its own size."""
    at = tmp_path / "at.yaml"
    at.write_text("a: &a 0\nb: [" + "*a," * MAX_VALUES + "]\n")
    assert len(load_located(at).data["b"]) == MAX_VALUES
    over = tmp_path / "over.yaml"
    over.write_text("a: &a 0\nb: [" + "*a," * (MAX_VALUES + 1) + "]\n")
    with pytest.raises(SuiteError, match="expands to more than 100,000 values through aliases") as info:
        load_located(over)
    assert info.value.path == str(over) and info.value.line == 1
    plain = tmp_path / "plain.yaml"
    plain.write_text("[" + "0," * (3 * MAX_VALUES) + "]\n")
    assert len(load_located(plain).data) == 3 * MAX_VALUES


def test_a_billion_laughs_is_refused_at_its_line(tmp_path):
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        rows.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    path = tmp_path / "lol.yaml"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(SuiteError, match=r"aliases of aliases\?\): not loaded") as info:
        load_located(path)
    assert info.value.line == 1  # where the expanded node is written


def test_nesting_is_allowed_to_its_depth_and_no_deeper(tmp_path):
    ok = tmp_path / "ok.yaml"
    ok.write_text("[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n")  # the innermost list sits at depth 63
    load_located(ok)
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "\n")
    with pytest.raises(SuiteError, match=f"nested more than {MAX_DEPTH} levels deep: not loaded"):
        load_located(deep)
    edge = tmp_path / "edge.yaml"
    edge.write_text("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n")  # the innermost at depth 64: loads
    load_located(edge)


def test_keys_must_be_strings_and_an_empty_file_is_said(tmp_path):
    path, _ = write(tmp_path, "suite: mini\nprompts:\n  - 1: one\n")
    with pytest.raises(SuiteError, match="keys must be strings") as info:
        load_located(path)
    assert info.value.line == 3 and info.value.key == "prompts[0]"
    empty, _ = write(tmp_path, "\n# only a comment\n", "empty.yaml")
    with pytest.raises(SuiteError, match="the file is empty") as info:
        load_located(empty)
    assert info.value.line == 1


def test_invalid_yaml_names_the_problem_and_where_it_started(tmp_path):
    path, _ = write(tmp_path, "suite: mini\nprompts: [\n  {id: a\n")
    with pytest.raises(SuiteError) as info:
        load_located(path)
    message = info.value.describe()
    assert message.startswith(f"{path}:") and "invalid YAML: " in message
    assert "flow" in message  # the construct that was left open, with its line


def test_a_yaml_error_without_a_context_is_one_clean_sentence(tmp_path):
    path, _ = write(tmp_path, "suite: mini\nsystem_prompt: a: b\n")
    with pytest.raises(SuiteError) as info:
        load_located(path)
    assert info.value.message == "invalid YAML: mapping values are not allowed in this context" and info.value.line == 2


def test_key_paths_read_as_a_person_writes_them_and_lines_fall_back_to_the_parent(tmp_path):
    assert keypath_str(("prompts", 3, "expect", "tools", 0)) == "prompts[3].expect.tools[0]"
    assert keypath_str(("categories", "git", "threshold")) == "categories.git.threshold"
    assert keypath_str(()) == ""
    doc = LocatedYaml({}, {(): 1, ("prompts",): 4, ("prompts", 0): 5}, Path("x.yaml"))
    assert doc.line(("prompts", 0, "expect", "tools")) == 5  # not written itself: its nearest parent's line
    assert doc.line(("prompts", 0, "expect")) == 5  # the parent, not the grandparent (line 4)
    assert doc.line(("nowhere", "at", "all")) == 1
    assert LocatedYaml({}, {}, Path("x.yaml")).line(("a",)) is None


# -- the schema ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "needle", "message"),
    [
        ({"suite": 5}, "suite: 5", "expected string, found int 5"),
        ({"suite": ""}, "suite: ''", "must not be empty"),
        ({"sampling": {"max_tokens": True}}, "max_tokens: true", "expected integer, found bool True"),
        ({"sampling": {"temperature": "hot"}}, "temperature: hot", "expected number, found str 'hot'"),
        ({"sampling": {"temperature": -0.5}}, "temperature: -0.5", "-0.5 is below the minimum 0"),
        ({"sampling": {"top_p": 1.5}}, "top_p: 1.5", "1.5 is above the maximum 1"),
        ({"sampling": {"max_tokens": 0}}, "max_tokens: 0", "0 is below the minimum 1"),
        ({"categories": {}}, "categories: {}", "must not be empty"),
        ({"prompts": []}, "prompts: []", "must not be empty"),
        ({"zzz_unrelated": 1}, "zzz_unrelated", "unknown key 'zzz_unrelated'; allowed: "),
        (
            {"metrics": {"rate": {"categories": [], "threshold": ">= 0.5"}}},
            "categories: []",
            "must not be empty",
        ),
    ],
)
def test_each_schema_rule_is_a_located_error(tmp_path, over, needle, message):
    path, text = write(tmp_path, suite_dict(**over))
    err = error_of(path)
    assert message in err.message, err.describe()
    assert err.line == line_of(text, needle), err.describe()


def test_a_missing_required_key_is_named_at_its_mapping(tmp_path):
    doc = suite_dict()
    del doc["system_prompt"]
    path, _ = write(tmp_path, doc)
    err = error_of(path)
    assert err.message == "missing required key 'system_prompt'" and err.line == 1
    doc = suite_dict()
    del doc["prompts"][1]["query"]
    path, text = write(tmp_path, doc)
    err = error_of(path)
    assert err.message == "missing required key 'query'" and err.line == line_of(text, "- id: l1")


def test_empty_values_are_allowed_where_the_schema_allows_them(tmp_path):
    path, _ = write(tmp_path, suite_dict(description="", datasets={}, pipeline_expect={}))
    suite = load_suite(path)
    assert suite.description == "" and suite.extra["datasets"] == {} and suite.extra["pipeline_expect"] == {}


def test_a_pattern_error_says_what_is_expected_in_words(tmp_path):
    path, text = write(tmp_path, suite_dict(overall_threshold="at least half"))
    err = error_of(path)
    assert err.message == "'at least half' does not match An operator and a value: '>= 0.95', '> 0.60' or '>= 95%'."
    assert err.line == line_of(text, "overall_threshold:")


def test_numbers_may_be_written_as_integers_and_the_bounds_hold_at_the_bound(tmp_path):
    path, _ = write(tmp_path, suite_dict(sampling={"temperature": 1, "top_p": 1, "max_tokens": 1}))
    suite = load_suite(path)
    assert (suite.sampling.temperature, suite.sampling.top_p, suite.sampling.max_tokens) == (1.0, 1.0, 1)


def test_the_committed_schema_is_what_the_module_prints():
    out = subprocess.run(
        [sys.executable, "-m", "pytest_punie.suite.schema"], capture_output=True, text=True, check=True
    ).stdout
    assert out == (ROOT / "evalsuites" / "suite.schema.json").read_text()


# -- what the loader checks --------------------------------------------------------------


def test_a_tool_surface_is_found_beside_the_suite_or_named_when_missing(tmp_path):
    from pytest_punie.toolsurface import DEFAULT_SURFACE

    shutil.copy(DEFAULT_SURFACE, tmp_path / "my-surface.yaml")
    path, _ = write(tmp_path, suite_dict(tool_surface="my-surface.yaml"))
    assert load_suite(path).tool_surface == str(tmp_path / "my-surface.yaml")
    path, text = write(tmp_path, suite_dict(tool_surface="nowhere.yaml"))
    err = error_of(path)
    assert err.message == f"tool surface file {tmp_path / 'nowhere.yaml'} does not exist"
    assert err.line == line_of(text, "tool_surface:")


def test_a_category_with_no_prompts_is_named_at_its_line(tmp_path):
    doc = suite_dict(
        categories={"git": {"threshold": ">= 0.9"}, "lsp": {"threshold": ">= 0.8"}, "cst": {"threshold": ">= 0.9"}}
    )
    path, text = write(tmp_path, doc)
    err = error_of(path)
    assert err.message == "category 'cst' has no prompts" and err.line == line_of(text, "  cst:")


@pytest.mark.parametrize(
    ("args", "needle", "message"),
    [
        ({"hover_it": {"x": "y"}}, "hover_it:", "'hover_it' is not a tool of the surface"),
        ({"hover": {"nope": "y"}}, "nope:", "hover has no parameter 'nope' (it takes "),
        ({"hover": {"file_path": "([unclosed"}}, "file_path:", "bad regular expression: "),
    ],
)
def test_expected_arguments_are_checked_against_the_surface(tmp_path, args, needle, message):
    doc = suite_dict()
    doc["prompts"][1]["expect"]["args"] = args
    path, text = write(tmp_path, doc)
    err = error_of(path)
    assert err.message.startswith(message), err.describe()
    assert err.line == line_of(text, needle)


def test_good_expected_arguments_load(tmp_path):
    doc = suite_dict()
    doc["prompts"][1]["expect"]["args"] = {"hover": {"file_path": r"config\.py$"}}
    path, _ = write(tmp_path, doc)
    assert load_suite(path).prompt("l1").expect.args == {"hover": {"file_path": r"config\.py$"}}


def test_a_reproducibility_rule_may_ask_for_every_seed_but_not_more(tmp_path):
    rule = {"seeds_passing": 3, "of": 3, "overall": ">= 0.5"}
    path, _ = write(tmp_path, suite_dict(reproducibility=rule))
    assert load_suite(path).extra["reproducibility"]["seeds_passing"] == 3
    path, text = write(tmp_path, suite_dict(reproducibility={**rule, "seeds_passing": 4}))
    err = error_of(path)
    assert err.message == "seeds_passing 4 is more than the 3 seeds of the rule"
    assert err.line == line_of(text, "seeds_passing:")


def test_thresholds_reach_one_and_zero_but_not_beyond(tmp_path):
    path, _ = write(
        tmp_path,
        suite_dict(
            overall_threshold=">= 100%", categories={"git": {"threshold": ">= 0"}, "lsp": {"threshold": ">= 1.0"}}
        ),
    )
    suite = load_suite(path)
    assert suite.overall.value == 1 and suite.categories["git"].threshold.value == 0
    path, _ = write(tmp_path, suite_dict(overall_threshold=">= 100.1%"))
    assert "is out of range" in error_of(path).message


def test_what_a_suite_that_says_little_gets_by_default(tmp_path):
    """No sampling, no pass_score, no critical: greedy, 512 tokens, 120 s, a pass at 0.5, nothing critical."""
    path, _ = write(tmp_path, suite_dict())
    suite = load_suite(path)
    assert suite.sampling == Sampling(temperature=0.0, top_p=1.0, max_tokens=512, stop=(), timeout_s=120.0, seed=None)
    assert Sampling() == suite.sampling
    assert suite.pass_score == Fraction(1, 2)
    assert not any(p.critical for p in suite.prompts)
    assert suite.prompt("g1").expect == Expectation(tools=("git_status",), keywords=("git_status",))
    assert suite.extra == {
        "datasets": {},
        "pipeline_expect": {},
        "reproducibility": None,
        "format_lock": {},
        "system_prompt_variants": [],
        "sandbox": {},
        "max_turns": 1,  # the first model turn only
        "tool_response_role": "user",  # the training data's <tool_response> user turn
    }


def test_what_a_suite_says_is_what_it_loads_to_with_its_lines(tmp_path):
    doc = suite_dict(
        datasets={"embedded": "../data"},
        pipeline_expect={"max_final_val_loss": 0.4},
        format_lock={"min_p_opener": 0.9, "gate": True},
        pass_score=0.75,
    )
    doc["prompts"][0]["critical"] = True
    path, text = write(tmp_path, doc)
    suite = load_suite(path)
    assert suite.extra["datasets"] == {"embedded": "../data"}
    assert suite.extra["pipeline_expect"] == {"max_final_val_loss": 0.4}
    assert suite.extra["format_lock"] == {"min_p_opener": 0.9, "gate": True}
    assert suite.pass_score == Fraction(3, 4)
    assert [p.id for p in suite.prompts if p.critical] == ["g1"]
    assert suite.categories["lsp"].line == line_of(text, "  lsp:")
    assert suite.prompt("l1").line == line_of(text, "- id: l1")
    assert suite.line_of_overall == line_of(text, "overall_threshold:")


def test_a_metric_by_category_takes_every_prompt_of_it_and_only_those(tmp_path):
    metrics = {"lsp_rate": {"categories": ["lsp"], "threshold": ">= 0.5"}}
    path, text = write(tmp_path, suite_dict(metrics=metrics))
    suite = load_suite(path)
    assert suite.metrics["lsp_rate"].prompts == ("l1",)
    assert suite.metrics["lsp_rate"].line == line_of(text, "lsp_rate:")


def test_a_metric_naming_a_near_miss_prompt_id_gets_the_hint(tmp_path):
    path, text = write(tmp_path, suite_dict(metrics={"rate": {"prompts": ["g11"], "threshold": ">= 0.5"}}))
    err = error_of(path)
    assert err.message == "'g11' is not a prompt id of this suite; did you mean 'g1'?"
    assert err.line == line_of(text, "- g11")
    path, _ = write(tmp_path, suite_dict(metrics={"rate": {"categories": ["gti"], "threshold": ">= 0.5"}}))
    assert error_of(path).message == "'gti' is not a category of this suite; did you mean 'git'?"


def test_a_field_on_a_tool_whose_result_is_untyped_names_the_result_type(tmp_path):
    doc = suite_dict()
    doc["prompts"][0]["expect"]["tools"] = ["run_command"]
    doc["prompts"][0]["expect"]["fields"] = ["exit_code"]
    path, text = write(tmp_path, doc)
    err = error_of(path)
    assert err.message == "'exit_code' is not a field of the expected tools' results (str in punie_tools.yaml)"
    assert err.line == line_of(text, "- exit_code")


def test_the_digest_is_stable_so_saved_baselines_still_compare(tmp_path):
    """Baselines record a suite's digest: key order and layout must not change it, and its definition
    (sorted keys, compact, UTF-8 as written) must not change between versions."""
    doc = suite_dict(system_prompt="Tu es Punie, l'assistant élégant.")
    a, _ = write(tmp_path, doc, "a.yaml")
    b, _ = write(tmp_path, dict(reversed(list(doc.items()))), "b.yaml")
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    expected = "sha256:" + hashlib.sha256(blob).hexdigest()
    assert load_suite(a).digest == load_suite(b).digest == expected
    assert expected == "sha256:" + hashlib.sha256(blob).hexdigest()


# -- the suite model -----------------------------------------------------------------------


def test_expectations_are_described_in_the_words_a_failure_message_uses():
    assert Expectation(tools=(), keywords=(), direct=True).describe() == "a direct answer in words (no tool call)"
    both = Expectation(tools=("git_status", "git_diff"), keywords=(), match="all")
    assert both.describe() == "git_status and git_diff (called through execute_code)"
    either = Expectation(tools=("git_status", "git_diff"), keywords=())
    assert either.describe("run") == "git_status or git_diff (called through run)"
    reads = Expectation(tools=("hover",), keywords=(), fields=("type_name", "doc"))
    assert reads.describe() == "hover (called through execute_code), its program reading type_name and doc"
    one = Expectation(tools=("hover",), keywords=(), fields=("type_name", "doc"), fields_match="any")
    assert one.describe().endswith("its program reading type_name or doc")


def test_a_query_is_asked_with_the_suites_system_prompt_or_none():
    from pytest_punie.suite.suitetypes import chat_messages

    assert chat_messages("Be brief.", "status?") == (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "status?"},
    )
    assert chat_messages(None, "status?") == ({"role": "user", "content": "status?"},)
    assert chat_messages("", "status?") == ({"role": "user", "content": "status?"},)


def test_sampling_is_recorded_whole():
    assert Sampling(temperature=0.7, seed=3, stop=("<|im_end|>",)).as_dict() == {
        "temperature": 0.7,
        "top_p": 1.0,
        "max_tokens": 512,
        "stop": ["<|im_end|>"],
        "timeout_s": 120.0,
        "seed": 3,
    }


def test_datasets_are_resolved_beside_the_suite(tmp_path):
    path, _ = write(tmp_path, suite_dict(datasets={"embedded": "../data", "here": "d"}))
    assert load_suite(path).datasets() == {"embedded": (tmp_path / "../data").resolve(), "here": tmp_path / "d"}


def test_a_threshold_reads_as_a_percentage():
    assert str(Threshold(">=", Fraction(4, 5), ">= 0.80")) == ">= 80.0%"
    assert str(Threshold("<", Fraction(1, 8), "< 0.125")) == "< 12.5%"


def test_a_prompt_is_found_by_id_and_an_unknown_id_is_a_key_error(tmp_path):
    path, _ = write(tmp_path, suite_dict())
    suite = load_suite(path)
    assert suite.prompt("l1").query == "hover?"
    with pytest.raises(KeyError):
        suite.prompt("nope")
    assert suite.sampling_for(suite.prompt("l1")) is suite.sampling  # no budget of its own
