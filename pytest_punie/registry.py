"""Registries of named parts (the scorers a suite may name): a new part is one decorated
function; every list of the names (the suite schema's enum, an option's accepted values) is
read from its registry, never kept by hand.

A registry lives here, below the layers that fill it, and imports its providers (the modules
whose decorators register the built-in parts) by name the first time it is read: the suite
schema may list the scorers without the suite layer importing the scoring layer above it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

F = TypeVar("F", bound=Callable[..., object])


@dataclass(frozen=True)
class Registered(Generic[F]):
    """One registered part."""

    name: str
    """What a suite, an option or a document calls it."""
    description: str
    """What it measures or checks, in the users' terms (shown by the schema and the help)."""
    fn: F
    """The function that does it."""


class Registry(Generic[F]):
    """Parts of one kind by name, in the order they were registered."""

    def __init__(self, kind: str, providers: tuple[str, ...]):
        self.kind = kind
        self._providers = providers  # modules whose decorators register the built-in parts
        self._entries: dict[str, Registered[F]] = {}
        self._loaded = False

    def register(self, name: str, description: str) -> Callable[[F], F]:
        """The decorator that registers a function under ``name`` (a name is registered once)."""

        def add(fn: F) -> F:
            held = self._entries.get(name)
            if held is not None and _where(held.fn) != _where(fn):  # a reloaded module re-registers its own
                raise ValueError(f"a {self.kind} named {name!r} is already registered ({_where(held.fn)})")
            self._entries[name] = Registered(name, description, fn)
            return fn

        return add

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._providers:
                importlib.import_module(module)

    def entries(self) -> list[Registered[F]]:
        """Every registered part, the built-in ones loaded first."""
        self._load()
        return list(self._entries.values())

    def names(self) -> tuple[str, ...]:
        """The registered names: what a suite or an option may say."""
        return tuple(e.name for e in self.entries())

    def get(self, name: str) -> Registered[F]:
        """The part registered as ``name``; KeyError names the ones there are."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no {self.kind} named {name!r} (registered: {', '.join(self.names())})") from None


def _where(fn: Callable[..., object]) -> str:
    """A function's module and qualified name: what tells two registrations of one name apart."""
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


SCORERS: Registry[Callable[..., object]] = Registry("scorer", ("pytest_punie.scoring.scorers",))
"""The scorers a suite may name as its primary one (``primary_scorer``) and every prompt is scored with."""
