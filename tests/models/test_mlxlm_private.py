"""The private mlx-lm functions we rely on: present in the installed mlx-lm, callable as we call
them; one that moved is a clear error naming it and the version, never an AttributeError."""

from __future__ import annotations

import inspect

import pytest

from pytest_punie.errors import ModelError
from pytest_punie.models import mlxlm_private
from pytest_punie.models.mlxlm_private import PRIVATE, private

CALLED_WITH = {"_get_classes": ["config"], "_infer_tool_parser": ["tokenizer"]}  # how our code calls each


@pytest.mark.parametrize("name", sorted(PRIVATE))
def test_each_private_function_we_rely_on_is_where_we_call_it(name):
    """Fails loudly on an mlx-lm that moved, renamed or re-signed one (then update models/mlxlm_private.py)."""
    found = private(name)
    params = list(inspect.signature(found).parameters)
    assert params[: len(CALLED_WITH[name])] == CALLED_WITH[name], (name, params)


def test_a_moved_private_function_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(mlxlm_private.PRIVATE, "_gone", "mlx_lm.utils")
    with pytest.raises(ModelError) as info:
        private("_gone")
    message = info.value.describe()
    assert "has no mlx_lm.utils._gone, a private function pytest-punie relies on" in message
    assert "install mlx-lm==0.32.*" in message
