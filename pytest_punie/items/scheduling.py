"""One variant is one unit of work under pytest-xdist.

A variant (a checkpoint, a seed, a temperature) loads or builds its own model
and generates its suites as one batch. Spread by load, every worker that
received one of its prompts would do that whole job again. xdist's own
``LoadScopeScheduling`` sends a scope to one worker; here a prompt item's
scope is its variant (read back from its node id), every other item is its
own scope, and node ids stay what they are without xdist (``--lf``,
``--junitxml`` unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

VARIANT_SCOPE = "punie-variant:"


def variant_scope(nodeid: str, variant_names: Iterable[str]) -> str:
    """The unit of work a node id belongs to: its variant for a prompt of a named variant, else itself."""
    if nodeid.endswith("]") and "::" in nodeid:
        name = nodeid.rsplit("::", 1)[1]
        if "[" in name:
            inside = name[name.index("[") + 1 : -1]
            if inside in set(variant_names) and inside:
                return VARIANT_SCOPE + inside
    return nodeid


def variant_scheduler(config: Any, log: Any, variant_names: Iterable[str]) -> Any:
    """xdist's scope scheduler with the variant as the scope, for a run of named variants (even one:
    a seed trains once) under ``--dist load`` (the default), ``loadgroup`` or ``loadscope`` (whose
    scope is then the variant, not the suite file); None leaves xdist's choice (xdist imported only here)."""
    names = [v for v in variant_names if v]
    if not names or config.getvalue("dist") not in ("load", "loadgroup", "loadscope"):
        return None  # one unnamed variant: prompts spread one by one over a shared server
    from xdist.scheduler import LoadScopeScheduling

    class VariantScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Each variant's prompts go to one worker; other items are spread one by one."""

        def _split_scope(self, nodeid: str) -> str:
            return variant_scope(nodeid, names)

    return VariantScheduling(config, log)
