"""The suite keys reference (docs/suite-keys.md): every key a suite may hold, with its type and meaning,
read from the suite's JSON Schema itself, so the reference cannot drift from what the loader checks
(``python -m pytest_punie suite-keys`` prints it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pytest_punie.suite.schema import suite_schema


def schema_keys(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every key path of the schema (``categories.NAME.threshold``, ``prompts[].expect.tools``), in order."""
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        yield from schema_keys(node["items"], f"{path}[]")
        return
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and "properties" in extra:
        yield from schema_keys(extra, f"{path}.NAME")
    for key, child in node.get("properties", {}).items():
        here = f"{path}.{key}" if path else key
        yield here, child
        yield from schema_keys(child, here)


def _kind(node: dict[str, Any]) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {node.get('items', {}).get('type', 'any')}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict) and "properties" not in node:
        return "mapping: NAME -> " + str(node["additionalProperties"].get("type", "object"))
    return str(kind)


def _bounds(node: dict[str, Any]) -> str:
    words = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="))
    parts = [f"{word} {node[key]}" for key, word in words if key in node]
    return f" ({', '.join(parts)})" if parts else ""


def suite_keys_markdown() -> str:
    """The reference as Markdown: one table row per key path, required keys marked."""
    schema = suite_schema()
    required = set(schema.get("required", []))
    out = [
        "# Suite keys reference",
        "",
        "Every key of a suite (`evalsuites/*.yaml`), generated from the suite's JSON Schema, the one the",
        "loader checks (`python -m pytest_punie suite-keys > docs/suite-keys.md`; a test keeps this file",
        "equal to it). `NAME` stands for a name you choose, `[]` for each item of a list.",
        "",
        "| key | type | meaning |",
        "|---|---|---|",
    ]
    for path, node in schema_keys(schema):
        mark = " (required)" if path in required else ""
        meaning = str(node.get("description", "")).replace("|", "\\|").replace("\n", " ")
        out.append(f"| `{path}`{mark} | {_kind(node)}{_bounds(node)} | {meaning} |")
    return "\n".join(out) + "\n"
