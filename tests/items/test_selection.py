"""A bare ``pytest`` runs nothing expensive by surprise: the items that need a model are held back
(deselected, and said), and any command line that asks for them gets them."""

from __future__ import annotations

import pytest


def test_a_bare_run_holds_back_the_items_that_need_a_model(eval_project, tmp_path, monkeypatch):
    empty = tmp_path / "empty-cache"
    monkeypatch.setenv("PUNIE_CACHE_DIR", str(empty))
    eval_project.makeini("[pytest]\ntestpaths = evalsuites\npunie_model = tiny_5bit\n")
    result = eval_project.runpytest("-p", "no:cacheprovider")
    out = result.stdout.str()
    assert (
        "pytest-punie: 27 eval and 8 pipeline items not run (they need a model): "
        "ask with -m eval, -m pipeline or --punie-model=NAME"
    ) in out
    assert "35 deselected" in out
    assert "building" not in out and not (empty.exists() and any(empty.rglob("config.json")))  # nothing built


@pytest.mark.parametrize(
    "asking",
    [
        ("-m", "eval"),
        ("-k", "git"),
        ("evalsuites/phase33.yaml",),
        ("--punie-model=no_such_model",),
    ],
)
def test_any_command_line_that_asks_gets_them(eval_project, asking):
    eval_project.makeini("[pytest]\ntestpaths = evalsuites\npunie_model = no_such_model\n")
    result = eval_project.runpytest("-p", "no:cacheprovider", *asking)
    out = result.stdout.str() + result.stderr.str()
    assert "items not run (they need a model)" not in out
    assert "unknown model 'no_such_model'" in out  # the eval was reached: its model resolved (and not found)
