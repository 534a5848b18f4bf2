"""What pipeline and tokenizer check items share: a named check with a
one-line purpose, failing with its problems listed in the user's terms."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.registry import Registry


class CheckProblems(Exception):
    """A check's problems, raised so the item fails with them in the user's terms."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class CheckItem(pytest.Item):
    """An item named after its check; ``REGISTRY`` holds each check with what it ensures and its function."""

    REGISTRY: ClassVar[Registry[Any]] = Registry("check", ())
    MARK: ClassVar[str] = ""

    def __init__(self, *, check: str, **kw: Any):
        super().__init__(**kw)
        self.check = check
        self.add_marker(self.MARK)

    def fail_on(self, problems: list[str]) -> None:
        """Fails the item when there are problems."""
        if problems:
            raise CheckProblems(problems)

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        """The check's purpose and each problem, never a traceback."""
        if isinstance(excinfo.value, CheckProblems):
            purpose = self.REGISTRY.get(self.check).description
            return "\n".join([f"{self.check}: {purpose}", *(f"  {p}" for p in excinfo.value.problems)])
        if isinstance(excinfo.value, PunieError):
            return f"{self.check}: {excinfo.value.describe()}"
        return super().repr_failure(excinfo, style=style)
