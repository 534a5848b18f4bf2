"""A recipe's stage gate that stopped the build: the users' "exit gate: all checks pass, or STOP"."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_punie.errors import ModelError

STOPPED = "stage gate '{gate}' stopped the recipe"
_STOPPED = re.compile(re.escape(STOPPED).replace(re.escape("{gate}"), "([^']+)"))


def gate_that_stopped(message: str | None) -> str | None:
    """The stage gate a ``GateStopped`` message names (a prompt's error, a seed's reason), if any:
    the reports name the gate, and give no "rerun" advice for a stop a rerun meets again."""
    m = _STOPPED.search(message or "")
    return m.group(1) if m else None


class GateStopped(ModelError):
    """A stage gate stopped the recipe: the build goes no further and says which gate and why."""

    def __init__(self, gate: str, path: Path, problems: list[str], remedy: str):
        shown = "; ".join(problems[:3]) + (f"; ... ({len(problems) - 3} more)" if len(problems) > 3 else "")
        super().__init__(path, None, f"{STOPPED.format(gate=gate)}: {len(problems)} problem(s): {shown}. {remedy}")
        self.gate = gate
        self.problems = problems
