"""The tool surface a Punie model is trained on, loaded from data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_SURFACE = Path(__file__).with_name("punie_tools.yaml")


@dataclass(frozen=True)
class ToolSpec:
    """One tool of the sandbox: its parameters and what it returns."""

    name: str
    params: tuple[str, ...]
    required: int
    returns: str
    group: str


@dataclass(frozen=True)
class ToolSurface:
    """Which names a sandboxed program may call and which fields results have."""

    wrapper: str
    wrapper_argument: str
    tools: dict[str, ToolSpec]
    types: dict[str, frozenset[str]]
    elements: dict[tuple[str, str], str]
    builtins: frozenset[str]

    def fields_of(self, type_name: str) -> frozenset[str] | None:
        """The fields of a result type, or None when it is not a typed result."""
        return self.types.get(type_name)

    def element_type(self, type_name: str, field: str) -> str | None:
        """The element type of a result's list field."""
        return self.elements.get((type_name, field))

    def is_known_callable(self, name: str) -> bool:
        """Whether the sandbox has this name (a tool or an allowed builtin)."""
        return name in self.tools or name in self.builtins


def _parse(raw: dict) -> ToolSurface:
    tools = {
        name: ToolSpec(
            name=name,
            params=tuple(spec["params"]),
            required=int(spec.get("required", len(spec["params"]))),
            returns=spec["returns"],
            group=spec.get("group", ""),
        )
        for name, spec in raw["tools"].items()
    }
    elements = {}
    for key, elem in (raw.get("elements") or {}).items():
        owner, field = key.split(".", 1)
        elements[(owner, field)] = elem
    return ToolSurface(
        wrapper=raw["wrapper"],
        wrapper_argument=raw.get("wrapper_argument", "code"),
        tools=tools,
        types={k: frozenset(v) for k, v in raw["types"].items()},
        elements=elements,
        builtins=frozenset(raw.get("builtins") or ()),
    )


@lru_cache(maxsize=8)
def load_surface(path: str | Path = DEFAULT_SURFACE) -> ToolSurface:
    """The sandbox's tool surface, read from its YAML."""
    with open(path, encoding="utf-8") as fh:
        return _parse(yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))  # libyaml's, where built
