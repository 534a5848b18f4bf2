"""What a run of thousands of prompts changes in pytest's own output: pytest's failure sections
look up each failure's teardown reports by scanning every report of the session (failures x
reports: minutes at 50,000 prompts, pytest-dev/pytest#13360), so above ``MANY_PROMPTS`` prompt
items, with no ``--tb`` given, each miss is one line (``--tb=line``), said once."""

from __future__ import annotations

import pytest

from pytest_punie.items.prompts import PromptItem

MANY_PROMPTS = 2000


def one_line_misses(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    """Above ``MANY_PROMPTS`` prompt items and with pytest's default ``--tb``, misses are listed one
    line each; the line that says so (none otherwise). A ``--tb`` given is kept as given."""
    prompts = sum(isinstance(i, PromptItem) for i in items)
    if prompts <= MANY_PROMPTS or config.option.tbstyle != "auto":
        return []
    config.option.tbstyle = "line"
    return [
        f"pytest-punie: {prompts:,} prompts: each miss is one line (--tb=line): pytest's full failure sections "
        "cost failures x reports at this size; every miss's details are in the report (give --tb=short for them)"
    ]
