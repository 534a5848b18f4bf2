"""A recipe's stage gate that stopped the build: the users' "exit gate: all checks pass, or STOP"."""

from __future__ import annotations

from pathlib import Path

from pytest_punie.errors import ModelError


class GateStopped(ModelError):
    """A stage gate stopped the recipe: the build goes no further and says which gate and why."""

    def __init__(self, gate: str, path: Path, problems: list[str], remedy: str):
        shown = "; ".join(problems[:3]) + (f"; ... ({len(problems) - 3} more)" if len(problems) > 3 else "")
        super().__init__(
            path, None, f"stage gate '{gate}' stopped the recipe: {len(problems)} problem(s): {shown}. {remedy}"
        )
        self.gate = gate
        self.problems = problems
