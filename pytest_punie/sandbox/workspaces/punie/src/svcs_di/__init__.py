"""A stand-in for svcs-di's API: what the workspace's services import."""

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Inject(Generic[T]):
    """Marks a constructor parameter the container fills with a service."""


def injectable(cls: type[T]) -> type[T]:
    """Marks a class as a service the container may build."""
    return cls


def route(pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers a view function for a URL pattern."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn

    return register
