"""Which suites training data serves: a property of the data and the project, never of the run's
selection, so the recipe's data gate builds or refuses the same recipe from any selection."""

from __future__ import annotations

import shutil

import pytest

from pytest_punie.errors import ModelError
from pytest_punie.models.dataserves import EMBEDDED_DATA, is_embedded, suites_serving
from pytest_punie.sources.stagegates import stage_gates
from pytest_punie.suite import load_suite
from pytest_punie.suites import packaged_suites

from ..conftest import ROOT


def names(served) -> list[str]:
    return [s.name for s in served.suites]


@pytest.mark.parametrize("selected", [(), ("phase33",), ("phase26",), ("phase26", "phase33")])
def test_the_embedded_data_serves_both_packaged_suites_whatever_was_selected(selected, tmp_path):
    loaded = [load_suite(ROOT / "evalsuites" / f"{n}.yaml") for n in selected]
    for root in (ROOT, tmp_path):  # the checkout, and a project with no suites of its own (the wheel's case)
        served = suites_serving(EMBEDDED_DATA, root, loaded=loaded)
        assert served.rule == "embedded" and names(served) == ["phase26", "phase33"]
        assert len(served.system_prompts) == 2
    # the same suites by content from the checkout and from an empty project: one gate record
    packaged = {p.stem: load_suite(p).digest for p in packaged_suites().values()}
    assert suites_serving(EMBEDDED_DATA, tmp_path).record() == suites_serving(EMBEDDED_DATA, ROOT).record()
    assert [s["digest"] for s in suites_serving(EMBEDDED_DATA, ROOT).record()["suites"]] == [
        packaged["phase26"],
        packaged["phase33"],
    ]


def test_a_project_data_folder_serves_every_suite_that_names_it(tmp_path):
    (tmp_path / "evalsuites").mkdir()
    for n in ("phase26", "phase33"):
        shutil.copy(ROOT / "evalsuites" / f"{n}.yaml", tmp_path / "evalsuites" / f"{n}.yaml")
    shutil.copytree(ROOT / "data", tmp_path / "data")
    assert not is_embedded(tmp_path / "data")
    only33 = [load_suite(tmp_path / "evalsuites" / "phase33.yaml")]
    for loaded in ([], only33):
        served = suites_serving(tmp_path / "data", tmp_path, loaded=loaded)
        assert served.rule == "named" and names(served) == ["phase26", "phase33"]
    # a folder no suite names is held to the project's suites (all of them), never to the selection
    shutil.copytree(ROOT / "data", tmp_path / "other")
    served = suites_serving(tmp_path / "other", tmp_path, loaded=only33)
    assert served.rule == "project" and names(served) == ["phase26", "phase33"]
    # the registry entry's own list wins
    served = suites_serving(tmp_path / "data", tmp_path, ["phase33"])
    assert served.rule == "entry" and names(served) == ["phase33"]
    with pytest.raises(ModelError, match="names 'phase99'"):
        suites_serving(tmp_path / "data", tmp_path, ["phase99"])


@pytest.mark.parametrize("selected", [[], ["phase33"], ["phase26"]])
def test_the_data_gate_passes_the_embedded_data_from_any_selection(selected):
    """The defect of a cold one-suite run: linted against Phase 33 alone, the embedded data (two
    system prompts on purpose) was refused; it serves both packaged suites, whatever is selected."""
    loaded = [load_suite(ROOT / "evalsuites" / f"{n}.yaml") for n in selected]
    outcome = stage_gates({}, "tiny_5bit", loaded, ROOT).data(EMBEDDED_DATA)
    assert outcome.problems == []
    assert outcome.inputs == suites_serving(EMBEDDED_DATA, ROOT).record()
    assert outcome.record(allowed=False) == {**outcome.inputs, "errors": 0, "passed": True, "allowed": False}


def test_an_entry_that_holds_the_data_to_one_suite_is_refused_by_name():
    """``suites = ["phase33"]`` in the entry: the data is held to Phase 33 alone, and Phase 26's
    system prompt in it is an error at its file and line, from any selection."""
    both = [load_suite(ROOT / "evalsuites" / f"{n}.yaml") for n in ("phase26", "phase33")]
    outcome = stage_gates({"suites": ["phase33"]}, "x", both, ROOT).data(EMBEDDED_DATA)
    assert outcome.problems and outcome.inputs["rule"] == "entry"
    assert any("train.jsonl:4: system-prompt" in p for p in outcome.problems), outcome.problems


def test_a_registry_suites_key_that_is_not_a_list_of_names_is_refused(tmp_path):
    from pytest_punie.models.resolve import project_registry

    (tmp_path / "pyproject.toml").write_text('[tool.punie.models.m]\nrecipe = "tiny"\nsuites = "phase33"\n')
    with pytest.raises(ModelError, match="suites must be a list"):
        project_registry(tmp_path)
