"""The strict scorer: credit only for tools the sandbox would really run.

A tool counts when it is called inside a wrapper program that parses, calls
no hallucinated names, imports nothing and reads only fields that exist.
Prose, markdown or a string that merely names a tool earns nothing; so does
a direct call without the wrapper (production only runs the wrapper).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from pytest_punie.scoring.parse import ParsedResponse, fenced_call_names
from pytest_punie.scoring.program import ProgramAnalysis, analyze_program
from pytest_punie.suite.suitetypes import Expectation
from pytest_punie.toolsurface import ToolSurface


@dataclass
class StrictResult:
    """The strict scorer's verdict on one answer, with everything it found."""

    score: Fraction
    wrapped_calls: int = 0
    direct_calls: list[str] = field(default_factory=list)
    tools_called: list[str] = field(default_factory=list)
    expected_found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    syntax_error: str | None = None
    unknown_names: list[str] = field(default_factory=list)
    bad_fields: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    incomplete_calls: int = 0
    fenced_calls: list[str] = field(default_factory=list)  # fenced JSON blocks shaped like calls
    fields_missing: list[str] = field(default_factory=list)  # "tool.field" the program should have read


def _arg_matches(analysis: ProgramAnalysis, tool: str, param_index: int, param: str, pattern: str) -> bool:
    for call in analysis.calls:
        if call.name != tool:
            continue
        value = call.kwargs.get(param)
        if value is None and param_index < len(call.args):
            value = call.args[param_index]
        if value is not None and re.fullmatch(pattern, str(value)):
            return True
    return False


def _score_direct(parsed: ParsedResponse, res: StrictResult) -> StrictResult:
    """A direct answer: words, no tool call of any kind. Mentioning ```` ```json ````
    is fine; a fenced block shaped like a call is an attempted call nothing runs."""
    res.direct_calls = [c.name for c in parsed.calls if not c.wrapped]
    res.wrapped_calls = sum(1 for c in parsed.calls if c.wrapped and c.complete)
    res.incomplete_calls = sum(1 for c in parsed.calls if not c.complete)
    res.tools_called = [c.name for c in parsed.calls]
    res.fenced_calls = fenced_call_names(parsed.visible_text)
    if parsed.calls:
        res.problems.append(f"a tool was called where a direct answer was expected: {', '.join(res.tools_called)}")
    if res.fenced_calls:
        res.problems.append(f"wrote a call as a fenced JSON block instead of answering: {', '.join(res.fenced_calls)}")
    if not parsed.visible_text:
        res.problems.append(
            "no answer in words" + (" (the <think> block never closed)" if parsed.think_unclosed else "")
        )
    if not res.problems:
        res.score = Fraction(1)
    return res


def _merged_programs(parsed: ParsedResponse, surface: ToolSurface, res: StrictResult) -> ProgramAnalysis:
    """Every complete wrapper call's program analysed, as one; direct and cut-off calls counted."""
    merged = ProgramAnalysis()
    for call in parsed.calls:
        if not call.complete:
            res.incomplete_calls += 1
            continue
        if call.name != surface.wrapper:
            res.direct_calls.append(call.name)
            continue
        res.wrapped_calls += 1
        analysis = analyze_program(call.code or "", surface)
        if analysis.syntax_error and not merged.syntax_error:
            merged.syntax_error = analysis.syntax_error
        merged.calls.extend(analysis.calls)
        merged.unknown_names.extend(analysis.unknown_names)
        merged.imports.extend(analysis.imports)
        merged.bad_fields.extend(analysis.bad_fields)
        for tool, fields in analysis.fields_read.items():
            merged.fields_read.setdefault(tool, set()).update(fields)
    res.tools_called = merged.tools_called
    res.syntax_error = merged.syntax_error
    res.unknown_names = sorted(set(merged.unknown_names))
    res.bad_fields = sorted(set(merged.bad_fields))
    res.imports = sorted(set(merged.imports))
    return merged


def _program_problems(merged: ProgramAnalysis, surface: ToolSurface, res: StrictResult) -> bool:
    """Says what keeps the programs from running in the sandbox; True when nothing does."""
    if res.incomplete_calls:
        res.problems.append(f"{res.incomplete_calls} tool call(s) ended before </tool_call>")
    if res.direct_calls:
        res.problems.append(f"called without the {surface.wrapper} wrapper: {', '.join(res.direct_calls)}")
    if not res.wrapped_calls:
        res.problems.append(f"no complete {surface.wrapper} call")
        return False
    if merged.syntax_error:
        res.problems.append(f"program does not parse: {merged.syntax_error}")
    if res.unknown_names:
        res.problems.append(f"calls names the sandbox does not have: {', '.join(res.unknown_names)}")
    if merged.imports:
        res.problems.append(f"imports are not allowed in the sandbox: {', '.join(merged.imports)}")
    if res.bad_fields:
        res.problems.append(f"reads fields that do not exist: {', '.join(res.bad_fields)}")
    return not (merged.syntax_error or res.unknown_names or merged.imports or res.bad_fields)


def _expected_tool_ok(
    tool: str, merged: ProgramAnalysis, expect: Expectation, surface: ToolSurface, res: StrictResult
) -> bool:
    """An expected tool the program calls: its arguments match and the result fields it must read are read."""
    spec = surface.tools[tool]
    ok = True
    for param, pattern in expect.args.get(tool, {}).items():
        if not _arg_matches(merged, tool, spec.params.index(param), param, pattern):
            res.problems.append(f"{tool}: argument {param} does not match {pattern!r}")
            ok = False
    result_fields = surface.fields_of(spec.returns) or frozenset()
    wanted = [f for f in expect.fields if f in result_fields]
    read = merged.fields_read.get(tool, set())
    missing = [f for f in wanted if f not in read]
    if wanted and (len(missing) == len(wanted) if expect.fields_match == "any" else missing):
        which = " or ".join(missing) if expect.fields_match == "any" else ", ".join(missing)
        res.problems.append(f"{tool}: result fields not read by the program: {which}")
        res.fields_missing += [f"{tool}.{f}" for f in missing]
        ok = False
    return ok


def score_strict(parsed: ParsedResponse | None, expect: Expectation, surface: ToolSurface) -> StrictResult:
    """The strict score: credit only for what the sandbox would run (the Code Mode program parsed
    with ``ast``, its calls, arguments and result fields checked against the tool surface)."""
    if parsed is None:
        return StrictResult(score=Fraction(0), problems=["no response"])
    res = StrictResult(score=Fraction(0))
    if expect.direct:
        return _score_direct(parsed, res)
    merged = _merged_programs(parsed, surface, res)
    if not _program_problems(merged, surface, res):
        return res
    for tool in expect.tools:
        if tool in res.tools_called and _expected_tool_ok(tool, merged, expect, surface, res):
            res.expected_found.append(tool)
    if expect.match == "all":
        res.score = Fraction(len(res.expected_found), len(expect.tools))
        absent = [t for t in expect.tools if t not in res.expected_found]
        if absent:
            res.problems.append(f"expected all of {', '.join(expect.tools)}; missing {', '.join(absent)}")
    else:
        res.score = Fraction(1) if res.expected_found else Fraction(0)
        if not res.expected_found:
            res.problems.append(f"expected one of {', '.join(expect.tools)}")
    return res
