"""The private mlx-lm functions pytest-punie relies on, reached through one door.

mlx-lm may move or rename a function whose name starts with ``_`` in any release. Each one we
use is listed here; reaching one that moved is a ModelError naming it and the installed
mlx-lm version, and tests/models/test_mlxlm_private.py fails loudly on an mlx-lm that moved one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pytest_punie.errors import ModelError

PRIVATE = {
    "_get_classes": "mlx_lm.utils",  # a model class and its args class from a config (the tiny builds)
    "_infer_tool_parser": "mlx_lm.tokenizer_utils",  # the tool parser mlx-lm will serve with
}
TESTED_WITH = "0.32"


def private(name: str) -> Callable[..., Any]:
    """mlx-lm's private function ``name``, or a ModelError saying it moved and what to do."""
    module = PRIVATE[name]
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        from importlib.metadata import version

        raise ModelError(
            None,
            None,
            f"mlx-lm {version('mlx-lm')} has no {module}.{name}, a private function pytest-punie relies on "
            f"(tested with mlx-lm {TESTED_WITH}.x): install mlx-lm=={TESTED_WITH}.* or a pytest-punie made for it",
        ) from None
