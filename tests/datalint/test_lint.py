"""Training-data lint: the project's data is clean; every historical defect is
reported at its file and line; the reader survives anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maintainer.datagen import SERVES, generate
from pytest_punie.datalint import LintConfig, lint_dataset

from ..conftest import FIXTURES, ROOT

DEFECTIVE = FIXTURES / "defective"


@pytest.fixture(scope="module")
def suites():
    from pytest_punie.suite import load_suite

    return [load_suite(ROOT / "evalsuites" / f"{name}.yaml") for name in SERVES]


@pytest.fixture(scope="module")
def config(suites):
    """As the data item lints it: against every suite that names the dataset."""
    return LintConfig(
        eval_queries=tuple(p.query for s in suites for p in s.prompts),
        eval_system_prompts=tuple(s.system_prompt for s in suites),
    )


def test_the_data_serves_both_suites_and_each_system_prompt_is_used(suites):
    seen = {json.loads(line)["messages"][0]["content"] for line in (ROOT / "data" / "train.jsonl").open()}
    assert seen == {s.system_prompt for s in suites}


def test_a_system_prompt_no_suite_uses_is_still_reported(tmp_path, suites):
    only_33 = LintConfig(eval_system_prompts=(suites[0].system_prompt,))
    found = [f for f in lint_dataset(ROOT / "data", only_33) if f.check == "system-prompt"]
    assert any("differs from the eval suite's system prompt" in f.message for f in found)
    assert any("2 different system prompts" in f.message for f in found)


def test_project_data_is_clean(config):
    assert lint_dataset(ROOT / "data", config) == []


def test_project_data_is_what_the_generator_makes(suites):
    """data/ is generated, deterministically; regenerate with python -m maintainer.datagen."""
    for split, examples in generate(tuple(s.system_prompt for s in suites)).items():
        committed = (ROOT / "data" / f"{split}.jsonl").read_text().splitlines()
        assert [json.loads(line) for line in committed] == examples


def test_every_defect_is_reported_at_its_file_and_line(config):
    got = {(f.check, Path(f.path).name, f.line) for f in lint_dataset(DEFECTIVE, config)}
    expected = {(e["check"], e["path"], e["line"]) for e in json.loads((DEFECTIVE / "expected.json").read_text())}
    assert expected <= got, sorted(expected - got, key=str)
    unexpected = {g for g in got if g[0] not in ("coverage", "think", "tool-share")} - expected
    assert not unexpected, unexpected


def test_thresholds_are_configurable(config):
    import dataclasses

    loose = dataclasses.replace(config, tool_share=(0.0, 1.0), min_tool_examples=0)
    checks = {f.check for f in lint_dataset(DEFECTIVE, loose)}
    assert "tool-share" not in checks and "coverage" not in checks


def test_length_uses_the_tokenizer(tmp_path, config):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    import dataclasses

    strict = dataclasses.replace(config, tokenizer=str(tmp_path / "tokenizer.json"), max_seq_length=150)
    long = [f for f in lint_dataset(ROOT / "data", strict) if f.check == "length"]
    assert long and all(f.line is not None and "over the training max sequence length 150" in f.message for f in long)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(st.sampled_from(["role", "content", "messages", "text", "x"]), c, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(json_values, min_size=1, max_size=6))
def test_lint_never_crashes_and_names_lines(tmp_path_factory, rows, config):
    d = tmp_path_factory.mktemp("ds")
    lines = [json.dumps(r) for r in rows]
    (d / "train.jsonl").write_text("\n".join(lines) + "\n")
    findings = lint_dataset(d, config)
    for f in findings:
        assert f.line is None or 1 <= f.line <= len(lines)
    assert Path(d / "train.jsonl").read_text() == "\n".join(lines) + "\n"  # never changes the user's data
