"""Read a suite YAML into a :class:`Suite`, or fail naming file, line and key."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from pytest_punie.resultsformat import RESERVED_NAMES
from pytest_punie.suite.schema import THRESHOLD_PATTERN, check_schema
from pytest_punie.suite.suitetypes import Category, Expectation, Metric, Prompt, Sampling, Suite, Threshold
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


def _reproducibility(doc: LocatedYaml, rule: dict[str, Any] | None) -> dict[str, Any] | None:
    """The pre-registered k-of-n seeds rule, its threshold parsed; k > n is an error at its line."""
    if not rule:
        return None
    if rule["seeds_passing"] > rule["of"]:
        raise doc.error(
            ("reproducibility", "seeds_passing"),
            f"seeds_passing {rule['seeds_passing']} is more than the {rule['of']} seeds of the rule",
        )
    overall = _threshold(doc, rule["overall"], ("reproducibility", "overall"))
    return {"seeds_passing": rule["seeds_passing"], "of": rule["of"], "overall": overall}


def _fraction(value: float | int | None) -> Fraction | None:
    return None if value is None else Fraction(str(value))


def _reserved(what: str, name: str) -> str:
    """Why a category or metric may not be called ``overall``, ``critical``, ``metrics`` or ``format_lock``."""
    return (
        f"{what} {name!r} is a reserved name (the reports and the gate use "
        + ", ".join(repr(n) for n in RESERVED_NAMES)
        + " for their own rows and rules): name it differently"
    )


def _surface(doc: LocatedYaml, base: Path) -> tuple[Any, Path]:
    """The tool surface the suite names (beside it), or the packaged one; a missing or broken file is
    an error at the ``tool_surface`` line."""
    surface_path = doc.data.get("tool_surface")
    surface_file = (base / surface_path) if surface_path else DEFAULT_SURFACE
    if not surface_file.is_file():
        raise doc.error(("tool_surface",), f"tool surface file {surface_file} does not exist")
    try:
        return load_surface(str(surface_file)), surface_file
    except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as exc:
        raise doc.error(
            ("tool_surface",),
            f"{surface_file} is not a tool surface (a YAML with wrapper, tools and types): {type(exc).__name__}",
        ) from None


def _sandbox(doc: LocatedYaml, base: Path) -> dict[str, Any]:
    """The suite's sandbox settings, its workspace resolved beside it; a missing folder is an error at its line."""
    raw = dict(doc.data.get("sandbox") or {})
    if raw.get("workspace"):
        folder = (base / raw["workspace"]).resolve()
        if not folder.is_dir():
            raise doc.error(("sandbox", "workspace"), f"workspace folder {folder} does not exist")
        raw["workspace"] = str(folder)
    return raw


def _categories(doc: LocatedYaml) -> dict[str, Category]:
    """The categories with their pre-registered thresholds; a reserved name is an error at its line."""
    categories: dict[str, Category] = {}
    for name, spec in doc.data["categories"].items():
        if name in RESERVED_NAMES:
            raise doc.error(("categories", name), _reserved("category", name))
        categories[name] = Category(
            name=name,
            threshold=_threshold(doc, spec["threshold"], ("categories", name, "threshold")),
            max_regression=_fraction(spec.get("max_regression")),
            line=doc.line(("categories", name)) or 0,
        )
    return categories


FACT = re.compile(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*(\[\d+\])?(\.[A-Za-z_]\w*(\[\d+\])?)*$")


def _check_expect(
    doc: LocatedYaml, where: KeyPath, pid: str, exp: dict[str, Any], surface: Any, surface_file: Path
) -> None:
    """A prompt's expectation is one thing (a direct answer, or tool calls), and every tool,
    argument and pattern it names exists on the surface."""
    if exp.get("direct", False):
        clash = [k for k in ("tools", "keywords", "args", "fields", "fields_match", "match") if k in exp]
        if clash:
            raise doc.error(
                where + ("expect", clash[0]),
                f"prompt {pid!r} expects a direct answer (direct: true): {clash[0]!r} describes a tool call",
            )
    elif "tools" not in exp:
        raise doc.error(
            where + ("expect",),
            f"prompt {pid!r}: expect needs 'tools' (the tools a correct answer calls), "
            "or 'direct: true' when no tool call is correct",
        )
    for j, ref in enumerate((exp.get("answer") or {}).get("mentions") or ()):
        if not FACT.match(ref) or ref.split(".", 1)[0] not in surface.tools:
            raise doc.error(
                where + ("expect", "answer", "mentions", j),
                f"{ref!r} is not a reference to a tool's result (TOOL.FIELD, e.g. typecheck.error_count, "
                "ruff_check.violations[0].code, with TOOL a tool of the surface)",
            )
    tools = tuple(exp.get("tools") or ())
    for j, tool in enumerate(tools):
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
    _check_fields(doc, where, surface, surface_file.name, tools, tuple(exp.get("fields") or ()))


def _prompts(doc: LocatedYaml, categories: dict[str, Category], surface: Any, surface_file: Path) -> list[Prompt]:
    """Every prompt, checked: a unique id, a declared category, an expectation the surface can meet;
    a category left with no prompt is an error at its line."""
    data = doc.data
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data["prompts"]):
        where: KeyPath = ("prompts", i)
        pid = raw["id"]
        if pid in seen:
            raise doc.error(where + ("id",), f"duplicate prompt id {pid!r} (first at line {seen[pid]})")
        seen[pid] = doc.line(where) or 0
        if raw["category"] not in categories:
            close = difflib.get_close_matches(raw["category"], list(categories), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise doc.error(
                where + ("category",),
                f"prompt {pid!r} is in category {raw['category']!r}, which is not declared under categories{hint}",
            )
        exp = raw["expect"]
        _check_expect(doc, where, pid, exp, surface, surface_file)
        tools = tuple(exp.get("tools") or ())
        expect = Expectation(
            tools=tools,
            keywords=tuple(exp.get("keywords") or tools),
            match=exp.get("match", "any"),
            args={k: dict(v) for k, v in (exp.get("args") or {}).items()},
            fields=tuple(exp.get("fields") or ()),
            fields_match=exp.get("fields_match", "all"),
            direct=bool(exp.get("direct", False)),
            legacy_rules=data.get("legacy_rules", "phase33"),
            mentions=tuple((exp.get("answer") or {}).get("mentions") or ()),
            state=dict(exp.get("state") or {}),
        )
        prompts.append(
            Prompt(
                id=pid,
                category=raw["category"],
                query=raw["query"],
                expect=expect,
                max_tokens=raw.get("max_tokens"),
                critical=bool(raw.get("critical", False)),
                line=doc.line(where) or 0,
            )
        )
    empty = [name for name in categories if not any(p.category == name for p in prompts)]
    if empty:
        raise doc.error(("categories", empty[0]), f"category {empty[0]!r} has no prompts")
    return prompts


def _sampling(data: dict[str, Any]) -> Sampling:
    """The suite's sampling, with the defaults a suite that says nothing gets."""
    s = data.get("sampling") or {}
    return Sampling(
        temperature=float(s.get("temperature", 0.0)),
        top_p=float(s.get("top_p", 1.0)),
        max_tokens=int(s.get("max_tokens", 512)),
        stop=tuple(s.get("stop", ())),
        timeout_s=float(s.get("timeout_s", 120.0)),
        seed=s.get("seed"),
    )


def load_suite(path: str | Path, text: str | None = None) -> Suite:
    """A suite file read, checked against the schema and the tool surface, every error at its line."""
    doc = load_located(path, text)
    check_schema(doc)
    data = doc.data
    surface, surface_file = _surface(doc, Path(path).parent)
    categories = _categories(doc)
    prompts = _prompts(doc, categories, surface, surface_file)
    metrics = _metrics(doc, data.get("metrics") or {}, prompts, categories)
    pass_score = _fraction(data.get("pass_score", 0.5))
    assert pass_score is not None
    return Suite(
        name=data["suite"],
        path=str(path),
        digest=canonical_digest(data),
        description=data.get("description", ""),
        system_prompt=data["system_prompt"],
        sampling=_sampling(data),
        primary_scorer=data.get("primary_scorer", "legacy"),
        threshold_metric=data.get("threshold_metric", "mean_score"),
        pass_score=pass_score,
        overall=_threshold(doc, data["overall_threshold"], ("overall_threshold",)),
        overall_max_regression=_fraction(data.get("overall_max_regression")),
        categories=categories,
        prompts=tuple(prompts),
        tool_surface=str(surface_file),
        line_of_overall=doc.line(("overall_threshold",)) or 0,
        extra={
            "datasets": data.get("datasets") or {},
            "pipeline_expect": data.get("pipeline_expect") or {},
            "reproducibility": _reproducibility(doc, data.get("reproducibility")),
            "format_lock": data.get("format_lock") or {},
            "system_prompt_variants": list(data.get("system_prompt_variants") or []),
            "sandbox": _sandbox(doc, Path(path).parent),
            "max_turns": int(data.get("max_turns", 1)),
            "tool_response_role": str(data.get("tool_response_role", "user")),
        },
        metrics=metrics,
        legacy_rules=data.get("legacy_rules", "phase33"),
    )


def _check_fields(
    doc: LocatedYaml, where: KeyPath, surface: Any, surface_name: str, tools: tuple[str, ...], fields: tuple[str, ...]
) -> None:
    """Every expected field exists on the result type of one of the expected
    tools: a misspelt field would otherwise never be required."""
    if not fields:
        return
    types = [surface.tools[t].returns for t in tools]
    known = set().union(*(surface.fields_of(t) or () for t in types))
    for j, name in enumerate(fields):
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            owners = ", ".join(sorted(set(types))) or "no typed result"
            raise doc.error(
                where + ("expect", "fields", j),
                f"{name!r} is not a field of the expected tools' results ({owners} in {surface_name}){hint}",
            )


def _metrics(
    doc: LocatedYaml, raw: dict[str, Any], prompts: list[Prompt], categories: dict[str, Category]
) -> dict[str, Metric]:
    """Suite-level metrics: each names categories and/or prompt ids; its prompts are their union, in suite order."""
    out: dict[str, Metric] = {}
    ids = {p.id for p in prompts}
    for name, spec in raw.items():
        at: KeyPath = ("metrics", name)
        if name in RESERVED_NAMES:
            raise doc.error(at, _reserved("metric", name))
        if name in categories:
            raise doc.error(at, f"metric {name!r} has the name of a category: name it differently")
        if "categories" not in spec and "prompts" not in spec:
            raise doc.error(at, f"metric {name!r} names no prompts: give 'categories', 'prompts' or both")
        for j, cat in enumerate(spec.get("categories") or ()):
            if cat not in categories:
                close = difflib.get_close_matches(cat, list(categories), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise doc.error(at + ("categories", j), f"{cat!r} is not a category of this suite{hint}")
        for j, pid in enumerate(spec.get("prompts") or ()):
            if pid not in ids:
                close = difflib.get_close_matches(pid, sorted(ids), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise doc.error(at + ("prompts", j), f"{pid!r} is not a prompt id of this suite{hint}")
        cats, chosen = set(spec.get("categories") or ()), set(spec.get("prompts") or ())
        out[name] = Metric(
            name=name,
            description=spec.get("description", ""),
            prompts=tuple(p.id for p in prompts if p.category in cats or p.id in chosen),
            threshold=_threshold(doc, spec["threshold"], at + ("threshold",)),
            max_regression=_fraction(spec.get("max_regression")),
            line=doc.line(at) or 0,
        )
    return out
