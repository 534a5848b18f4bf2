"""A bare ``pytest`` runs nothing expensive by surprise.

The eval and the pipeline checks load, build or even train a model (minutes on a laptop, hours
at 30B). They run when the command line asks for them: a ``-m`` or ``-k`` expression, paths or
node ids, or an option that names what to evaluate (``--punie-model``, ``--punie-responses``,
``--punie-server-url``, ``--punie-suite``, a sweep, a gate). A bare ``pytest`` runs the rest
(the training-data lint) and says how to ask for them.
"""

from __future__ import annotations

import pytest

ASKING_OPTIONS: dict[str, object] = {  # each option that names what to evaluate, with its value when not given
    "punie_model": None,
    "punie_responses": None,
    "punie_server_url": None,
    "punie_suite": [],
    "punie_checkpoints": None,
    "punie_seeds": None,
    "punie_bits": None,
    "punie_temperatures": None,
    "punie_repeat": 1,
    "punie_base": None,
    "punie_compare": None,
    "punie_save": None,
}
EXPENSIVE_MARKS = ("eval", "pipeline")


def asked_for_models(config: pytest.Config) -> bool:
    """Whether this command line asks for the items that need a model."""
    if config.option.markexpr or config.option.keyword:
        return True
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return True
    return any(config.getoption(name) not in (None, unset) for name, unset in ASKING_OPTIONS.items())


def hold_back(config: pytest.Config, items: list[pytest.Item]) -> dict[str, int]:
    """Deselects what a bare run leaves out (nothing when the command line asked); how many, by marker."""
    if asked_for_models(config):
        return {}
    held: dict[str, int] = {}
    kept, dropped = [], []
    for item in items:
        mark = next((m for m in EXPENSIVE_MARKS if item.get_closest_marker(m)), None)
        if mark is None:
            kept.append(item)
        else:
            dropped.append(item)
            held[mark] = held.get(mark, 0) + 1
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    return held
