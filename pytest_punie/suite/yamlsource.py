"""YAML to plain Python, remembering the line of every key path.

Errors in suites must point at the YAML line, so we compose the node tree
ourselves instead of calling ``safe_load`` and losing positions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_punie.errors import SuiteError

KeyPath = tuple[str | int, ...]


def keypath_str(path: KeyPath) -> str:
    """A key path as a person writes it: categories.git.threshold."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class LocatedYaml:
    """A loaded YAML document and a map from key path to 1-based line."""

    def __init__(self, data: Any, lines: dict[KeyPath, int], path: Path):
        self.data = data
        self.lines = lines
        self.path = path

    def line(self, keypath: KeyPath) -> int | None:
        """The line a key path was written at (or its nearest parent's)."""
        while keypath:
            if keypath in self.lines:
                return self.lines[keypath]
            keypath = keypath[:-1]
        return self.lines.get(())

    def error(self, keypath: KeyPath, message: str) -> SuiteError:
        """A suite error located at a key path's line."""
        return SuiteError(self.path, self.line(keypath), message, keypath_str(keypath))


_SCALARS = yaml.SafeLoader("")  # one constructor for every scalar (making one per value cost more than the value)


def _scalar(node: yaml.ScalarNode) -> Any:
    try:
        return _SCALARS.construct_object(node, deep=True)
    finally:
        _SCALARS.constructed_objects.clear()


MAX_VALUES = 100_000  # values reached again through aliases: a suite's own size is not bounded, their expansion is
MAX_DEPTH = 64


class _Budget:
    """Bounds alias expansion: values converted so far and the nodes on the current path."""

    def __init__(self) -> None:
        self.values = 0  # values converted a second time or more (through an alias)
        self.seen: set[int] = set()
        self.active: set[int] = set()


def _convert(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], file: Path, budget: _Budget) -> Any:
    line = node.start_mark.line + 1
    if id(node) in budget.seen:
        budget.values += 1
    budget.seen.add(id(node))
    if budget.values > MAX_VALUES:
        raise SuiteError(
            file,
            line,
            f"the YAML expands to more than {MAX_VALUES:,} values through aliases (aliases of aliases?): not loaded",
        )
    if id(node) in budget.active:
        raise SuiteError(file, line, "a YAML alias refers to a node that contains it: the value would be infinite")
    if len(path) > MAX_DEPTH:
        raise SuiteError(file, line, f"nested more than {MAX_DEPTH} levels deep: not loaded")
    budget.active.add(id(node))
    try:
        return _convert_node(node, path, lines, file, budget)
    finally:
        budget.active.discard(id(node))


def _convert_node(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], file: Path, budget: _Budget) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise SuiteError(file, key_node.start_mark.line + 1, "keys must be strings", keypath_str(path))
            if key in out:
                raise SuiteError(
                    file, key_node.start_mark.line + 1, f"duplicate key {key!r}", keypath_str(path + (key,))
                )
            out[key] = _convert(value_node, path + (key,), lines, file, budget)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, path + (i,), lines, file, budget) for i, child in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node)


# libyaml's parser where PyYAML was built with it (node marks carry the same lines), ~10x faster
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_located(path: str | Path, text: str | None = None) -> LocatedYaml:
    """YAML read with every key's line kept, duplicate keys refused."""
    file = Path(path)
    try:
        if text is None:
            text = file.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_LOADER)
    except UnicodeDecodeError as exc:
        raise SuiteError(file, None, f"not UTF-8 text ({exc.reason})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        context = ""
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            context = f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise SuiteError(file, line, f"invalid YAML: {exc.problem or exc.context}{context}") from None
    except yaml.YAMLError as exc:
        raise SuiteError(file, None, f"invalid YAML: {exc}") from None
    if node is None:
        raise SuiteError(file, 1, "the file is empty")
    lines: dict[KeyPath, int] = {}
    try:
        data = _convert(node, (), lines, file, _Budget())
    except yaml.YAMLError as exc:
        raise SuiteError(file, None, f"invalid YAML: {exc}") from None
    return LocatedYaml(data, lines, file)
