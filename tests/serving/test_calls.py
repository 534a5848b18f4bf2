"""The calls the tool-parser preflight reads: every assistant turn of the data the suites name and
of --punie-data, once per folder, located as a user finds them, then each suite's expected call."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from pytest_punie.serving.calls import call_texts, expected_call
from pytest_punie.suite import load_suite


def _suite(tmp_path: Path, datasets: dict | None = None, tool: str = "git_status") -> Path:
    doc = {
        "suite": "mini",
        "system_prompt": "You are Punie.",
        "overall_threshold": ">= 0.5",
        "categories": {"git": {"threshold": ">= 0.9"}},
        "prompts": [{"id": "g1", "category": "git", "query": "status?", "expect": {"tools": [tool]}}],
    }
    if datasets:
        doc["datasets"] = datasets
    path = tmp_path / "suites" / "mini.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _data(folder: Path, **splits: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, answers in splits.items():
        rows = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": a}]} for a in answers]
        (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


def test_the_expected_call_is_the_wrapper_around_the_first_expected_tool(tmp_path):
    suite = load_suite(_suite(tmp_path, tool="hover"))
    assert expected_call(suite) == (
        "<tool_call><function=execute_code>\n<parameter=code>\n"
        'result = hover("src/")\nprint(result)\n</parameter>\n</function></tool_call>'
    )


def test_data_turns_come_first_located_then_each_suites_format(tmp_path):
    data = _data(tmp_path / "data", train=["t1", "t2"], valid=["v1"], test=["x1"])
    suite_path = _suite(tmp_path, datasets={"embedded": "../data"})
    suite = load_suite(suite_path)
    texts = call_texts([suite], [tmp_path / "data", data / ".." / "data"], root=tmp_path)  # one folder, named thrice
    assert [w for w, _ in texts] == [
        "data/train.jsonl:1 (message 1)",
        "data/train.jsonl:2 (message 1)",
        "data/valid.jsonl:1 (message 1)",
        "data/test.jsonl:1 (message 1)",
        f"{suite_path}: the suite's expected call format",
    ]
    assert [t for _, t in texts][:4] == ["t1", "t2", "v1", "x1"]
    assert texts[-1][1] == expected_call(suite)


def test_paths_outside_the_root_are_shown_whole_and_missing_splits_skipped(tmp_path):
    data = _data(tmp_path / "elsewhere", train=["t1"])
    texts = call_texts([], [data], root=tmp_path / "project")
    assert texts == [(f"{data / 'train.jsonl'}:1 (message 1)", "t1")]
    assert call_texts([], [data]) == texts  # no root: every path whole


def test_suites_given_as_a_generator_are_read_once_for_data_and_format(tmp_path):
    data = _data(tmp_path / "data", train=["t1"])
    suite = load_suite(_suite(tmp_path, datasets={"embedded": "../data"}))
    texts = call_texts((s for s in [suite]), [], root=tmp_path)
    assert [w for w, _ in texts] == [
        "data/train.jsonl:1 (message 1)",
        f"{suite.path}: the suite's expected call format",
    ]
    assert data.is_dir()
