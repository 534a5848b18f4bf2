"""Read a suite YAML into a :class:`Suite`, or fail naming file, line and key."""

from __future__ import annotations

import hashlib
import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from pytest_punie.suite.model import Category, Expectation, Prompt, Sampling, Suite, Threshold
from pytest_punie.suite.schema import THRESHOLD_PATTERN, check_schema
from pytest_punie.suite.yamlsource import KeyPath, LocatedYaml, load_located
from pytest_punie.toolsurface import DEFAULT_SURFACE, load_surface


def canonical_digest(data: Any) -> str:
    """sha256 of the suite's content: comments and layout do not change it."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _threshold(doc: LocatedYaml, text: str, path: KeyPath) -> Threshold:
    m = re.match(THRESHOLD_PATTERN, text)
    assert m is not None  # the schema checked the pattern
    op, number, percent = m.groups()
    value = Fraction(number) / (100 if percent else 1)
    if not 0 <= value <= 1:
        raise doc.error(path, f"threshold {text!r} is out of range: the value must be in [0, 1] (or 0-100%)")
    return Threshold(op=op, value=value, text=text.strip())


def _fraction(value: float | int | None) -> Fraction | None:
    return None if value is None else Fraction(str(value))


def load_suite(path: str | Path, text: str | None = None) -> Suite:
    doc = load_located(path, text)
    check_schema(doc)
    data = doc.data
    base = Path(path).parent

    surface_path = data.get("tool_surface")
    surface_file = (base / surface_path) if surface_path else DEFAULT_SURFACE
    if not surface_file.is_file():
        raise doc.error(("tool_surface",), f"tool surface file {surface_file} does not exist")
    try:
        surface = load_surface(str(surface_file))
    except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as exc:
        raise doc.error(
            ("tool_surface",),
            f"{surface_file} is not a tool surface (a YAML with wrapper, tools and types): {type(exc).__name__}",
        ) from None

    categories: dict[str, Category] = {}
    for name, spec in data["categories"].items():
        categories[name] = Category(
            name=name,
            threshold=_threshold(doc, spec["threshold"], ("categories", name, "threshold")),
            max_regression=_fraction(spec.get("max_regression")),
            line=doc.line(("categories", name)) or 0,
        )

    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data["prompts"]):
        where: KeyPath = ("prompts", i)
        pid = raw["id"]
        if pid in seen:
            raise doc.error(where + ("id",), f"duplicate prompt id {pid!r} (first at line {seen[pid]})")
        seen[pid] = doc.line(where) or 0
        if raw["category"] not in categories:
            import difflib

            close = difflib.get_close_matches(raw["category"], list(categories), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise doc.error(
                where + ("category",),
                f"prompt {pid!r} is in category {raw['category']!r}, which is not declared under categories{hint}",
            )
        exp = raw["expect"]
        for j, tool in enumerate(exp["tools"]):
            if tool not in surface.tools:
                raise doc.error(
                    where + ("expect", "tools", j), f"{tool!r} is not a tool of the surface {surface_file.name}"
                )
        for tool, params in (exp.get("args") or {}).items():
            if tool not in surface.tools:
                raise doc.error(where + ("expect", "args", tool), f"{tool!r} is not a tool of the surface")
            for param, pattern in params.items():
                if param not in surface.tools[tool].params:
                    raise doc.error(
                        where + ("expect", "args", tool, param),
                        f"{tool} has no parameter {param!r} (it takes {', '.join(surface.tools[tool].params)})",
                    )
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise doc.error(where + ("expect", "args", tool, param), f"bad regular expression: {exc}") from None
        prompts.append(
            Prompt(
                id=pid,
                category=raw["category"],
                query=raw["query"],
                expect=Expectation(
                    tools=tuple(exp["tools"]),
                    keywords=tuple(exp.get("keywords") or exp["tools"]),
                    match=exp.get("match", "any"),
                    args={k: dict(v) for k, v in (exp.get("args") or {}).items()},
                    fields=tuple(exp.get("fields") or ()),
                ),
                max_tokens=raw.get("max_tokens"),
                critical=bool(raw.get("critical", False)),
                line=doc.line(where) or 0,
            )
        )

    empty = [name for name in categories if not any(p.category == name for p in prompts)]
    if empty:
        raise doc.error(("categories", empty[0]), f"category {empty[0]!r} has no prompts")

    s = data.get("sampling") or {}
    sampling = Sampling(
        temperature=float(s.get("temperature", 0.0)),
        top_p=float(s.get("top_p", 1.0)),
        max_tokens=int(s.get("max_tokens", 512)),
        stop=tuple(s.get("stop", ())),
        timeout_s=float(s.get("timeout_s", 120.0)),
        seed=s.get("seed"),
    )
    pass_score = _fraction(data.get("pass_score", 0.5))
    assert pass_score is not None
    return Suite(
        name=data["suite"],
        path=str(path),
        digest=canonical_digest(data),
        description=data.get("description", ""),
        system_prompt=data["system_prompt"],
        sampling=sampling,
        primary_scorer=data.get("primary_scorer", "legacy"),
        threshold_metric=data.get("threshold_metric", "mean_score"),
        pass_score=pass_score,
        overall=_threshold(doc, data["overall_threshold"], ("overall_threshold",)),
        overall_max_regression=_fraction(data.get("overall_max_regression")),
        categories=categories,
        prompts=tuple(prompts),
        tool_surface=str(surface_file),
        line_of_overall=doc.line(("overall_threshold",)) or 0,
        extra={"datasets": data.get("datasets") or {}, "pipeline_expect": data.get("pipeline_expect") or {}},
    )
