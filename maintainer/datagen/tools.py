"""Training examples that call the tools: per tool its queries, its Code Mode program (reading the
result's real fields), the result's repr and a final answer; and multi-tool programs."""

from __future__ import annotations

import json
import random
from typing import Any

from maintainer.datagen.vocabulary import Fill, fill

Example = dict[str, Any]


def code_mode(code: str) -> str:
    """A Code Mode call as the model writes it: execute_code with the program inside."""
    return f"<tool_call><function=execute_code>\n<parameter=code>\n{code}\n</parameter>\n</function></tool_call>"


def tool_response(text: str) -> str:
    """A tool's result as the chat template wraps it."""
    return f"<tool_response>\n{text}\n</tool_response>"


def _domain(tool: str, domain: str, key: str, queries: list[str]) -> dict[str, Any]:
    return {
        "queries": queries,
        "code": lambda f: (
            f'result = {tool}("{f[key]}")\nprint(result.valid)\nfor issue in result.issues:\n'
            f"    print(issue.line, issue.rule, issue.message)"
        ),
        "result": lambda f: (
            f"DomainValidationResult(valid={f['k'] == 0}, domain='{domain}', issues=["
            + ", ".join(
                f"ValidationIssue(rule='{tool}-{i}', severity='error', message='problem {i}', line={f['line'] + i}, "
                "suggestion=None)"
                for i in range(f["k"])
            )
            + "], parse_error=None)"
        ),
        "answer": lambda f: (
            f"{f[key]} passes {tool}." if f["k"] == 0 else f"{f[key]} has {f['k']} issue(s) reported by {tool}."
        ),
    }


TOOLS: dict[str, dict[str, Any]] = {
    "read_file": {
        "queries": [
            "Open {file} and print what is inside it.",
            "I need to see the source of {file}.",
            "Display the text of the file {file}.",
        ],
        "code": lambda f: f'content = read_file("{f["file"]}")\nprint(content)',
        "result": lambda f: "'import os\\n\\n\\ndef main():\\n    return 0\\n'",
        "answer": lambda f: f"{f['file']} defines a main() function that returns 0.",
    },
    "write_file": {
        "queries": [
            "Save the string '{text}' into notes/{n}.txt.",
            "Put the text '{text}' in a new file out/log{n}.txt.",
            "Create notes/{n}.txt containing '{text}'.",
        ],
        "code": lambda f: f'result = write_file("notes/{f["n"]}.txt", "{f["text"]}")\nprint(result)',
        "result": lambda f: f"'Wrote {len(f['text'])} characters to notes/{f['n']}.txt'",
        "answer": lambda f: f"Saved '{f['text']}' to notes/{f['n']}.txt.",
    },
    "run_command": {
        "queries": [
            "Execute the shell command '{cmd}' and tell me the output.",
            "Use the shell to run {cmd} for me.",
            "Run the command {cmd} in the terminal.",
        ],
        "code": lambda f: f'output = run_command("{f["cmd"]}", {json.dumps(f["args"])})\nprint(output)',
        "result": lambda f: "'12 lib/a.py\\n40 lib/b.py\\n'",
        "answer": lambda f: f"The {f['cmd']} command finished; its output is shown above.",
    },
    "typecheck": {
        "queries": [
            "Type-check the code under {dir} and list the errors.",
            "Are there any type errors in {dir}?",
            "Run the type checker over {dir}.",
        ],
        "code": lambda f: (
            f'result = typecheck("{f["dir"]}")\nprint(result.error_count)\n'
            "for error in result.errors:\n    print(error.file, error.line, error.message)"
        ),
        "result": lambda f: (
            f"TypeCheckResult(success={f['k'] == 0}, error_count={f['k']}, warning_count=0, errors=["
            + ", ".join(
                f"TypeCheckError(file='{f['dir']}m{i}.py', line={f['line'] + i}, column=4, severity='error', "
                f"code='arg-type', message='bad argument {i}')"
                for i in range(f["k"])
            )
            + "], parse_error=None)"
        ),
        "answer": lambda f: f"The type checker found {f['k']} error(s) in {f['dir']}.",
    },
    "ruff_check": {
        "queries": [
            "Lint {dir} using ruff and summarise the findings.",
            "What does ruff report for {dir}?",
            "Run ruff over the files in {dir}.",
        ],
        "code": lambda f: (
            f'result = ruff_check("{f["dir"]}")\nprint(result.violation_count, result.fixable_count)\n'
            "for v in result.violations:\n    print(v.file, v.line, v.code, v.message)"
        ),
        "result": lambda f: (
            f"RuffResult(success={f['k'] == 0}, violation_count={f['k']}, fixable_count={f['k'] // 2}, violations=["
            + ", ".join(
                f"RuffViolation(file='{f['dir']}x.py', line={f['line'] + i}, column=1, code='F401', "
                f"message='unused import', fixable=True)"
                for i in range(f["k"])
            )
            + "], parse_error=None)"
        ),
        "answer": lambda f: f"ruff reported {f['k']} violation(s), {f['k'] // 2} of them fixable.",
    },
    "pytest_run": {
        "queries": [
            "Execute the tests in {tests} and give me the pass and fail counts.",
            "Do the tests under {tests} pass?",
            "Run pytest on {tests}.",
        ],
        "code": lambda f: (
            f'result = pytest_run("{f["tests"]}")\nprint(result.passed, result.failed, result.errors)\n'
            "for case in result.tests:\n    if case.outcome == 'failed':\n        print(case.name, case.message)"
        ),
        "result": lambda f: (
            f"TestResult(success={f['k'] == 0}, passed={f['n'] * 3}, failed={f['k']}, errors=0, skipped=1, "
            "duration=1.25, tests=[], parse_error=None)"
        ),
        "answer": lambda f: f"{f['n'] * 3} passed and {f['k']} failed in {f['tests']}.",
    },
    "goto_definition": {
        "queries": [
            "Where is {sym} defined?",
            "Jump to the definition of the class {sym}.",
            "Locate where {sym} is declared.",
        ],
        "code": lambda f: (
            f'result = goto_definition("{f["file"]}", {f["line"]}, 8, "{f["sym"]}")\n'
            "for loc in result.locations:\n    print(loc.file, loc.line, loc.preview)"
        ),
        "result": lambda f: (
            f"GotoDefinitionResult(success=True, symbol='{f['sym']}', locations=[DefinitionLocation(file='{f['file']}',"
            f" line={f['line']}, column=7, end_line={f['line'] + 9}, end_column=1, preview='class {f['sym']}:')], "
            "parse_error=None)"
        ),
        "answer": lambda f: f"{f['sym']} is defined in {f['file']} at line {f['line']}.",
    },
    "find_references": {
        "queries": ["Show every place that uses {sym}.", "Which files reference {sym}?", "List the usages of {sym}."],
        "code": lambda f: (
            f'result = find_references("{f["file"]}", {f["line"]}, 8, "{f["sym"]}")\nprint(result.reference_count)\n'
            "for ref in result.references:\n    print(ref.file, ref.line)"
        ),
        "result": lambda f: (
            f"FindReferencesResult(success=True, symbol='{f['sym']}', reference_count={f['k'] + 1}, references=["
            f"ReferenceLocation(file='{f['file']}', line={f['line']}, column=8, preview='{f['sym']}()')], "
            "parse_error=None)"
        ),
        "answer": lambda f: f"{f['sym']} is referenced {f['k'] + 1} time(s).",
    },
    "hover": {
        "queries": [
            "What is the type signature and doc of {sym}?",
            "Hover over {sym} and tell me what it is.",
            "Give me the docstring of {sym}.",
        ],
        "code": lambda f: (
            f'result = hover("{f["file"]}", {f["line"]}, 8, "{f["sym"]}")\n'
            "print(result.content)\nprint(result.language)"
        ),
        "result": lambda f: (
            f"HoverResult(success=True, symbol='{f['sym']}', content='class {f['sym']}(BaseModel)', "
            "language='python', parse_error=None)"
        ),
        "answer": lambda f: f"{f['sym']} is a class deriving from BaseModel.",
    },
    "document_symbols": {
        "queries": [
            "What symbols does {file} define?",
            "Give me an outline of {file}.",
            "Enumerate the functions and classes declared in {file}.",
        ],
        "code": lambda f: (
            f'result = document_symbols("{f["file"]}")\nprint(result.symbol_count)\n'
            "for sym in result.symbols:\n    print(sym.kind, sym.name, sym.line)"
        ),
        "result": lambda f: (
            f"DocumentSymbolsResult(success=True, file_path='{f['file']}', symbols=[SymbolInfo(name='main', "
            "kind='function', line=4, end_line=5, children=[])], symbol_count=1, parse_error=None)"
        ),
        "answer": lambda f: f"{f['file']} defines one function, main.",
    },
    "workspace_symbols": {
        "queries": [
            "Find a symbol called {sym} anywhere in the project.",
            "Is there a {sym} symbol in the repo?",
            "Look up {sym} across the whole workspace.",
        ],
        "code": lambda f: (
            f'result = workspace_symbols("{f["sym"]}")\nprint(result.symbol_count)\n'
            "for sym in result.symbols:\n    print(sym.name, sym.file, sym.line)"
        ),
        "result": lambda f: (
            f"WorkspaceSymbolsResult(success=True, query='{f['sym']}', symbols=[WorkspaceSymbol(name='{f['sym']}', "
            f"kind='class', file='{f['file']}', line={f['line']}, container_name=None)], symbol_count=1, "
            "parse_error=None)"
        ),
        "answer": lambda f: f"{f['sym']} is in {f['file']}.",
    },
    "git_status": {
        "queries": [
            "Which files are changed according to git status in {dir}?",
            "Is my working tree clean?",
            "Show the git status of the repository.",
        ],
        "code": lambda f: (
            'result = git_status(".")\nprint(result.clean, result.file_count)\n'
            "for item in result.files:\n    print(item.status, item.file)"
        ),
        "result": lambda f: (
            f"GitStatusResult(success=True, clean={f['k'] == 0}, file_count={f['k']}, files=["
            + ", ".join(f"GitFileStatus(file='{f['file']}', status='modified', staged=False)" for _ in range(f["k"]))
            + "], parse_error=None)"
        ),
        "answer": lambda f: "The tree is clean." if f["k"] == 0 else f"{f['k']} file(s) are modified.",
    },
    "git_diff": {
        "queries": [
            "What changed in the working copy? Show me the diff.",
            "Give me the git diff of {dir}.",
            "Print the unstaged git diff.",
        ],
        "code": lambda f: (
            'result = git_diff(".")\nprint(result.file_count, result.additions, result.deletions)\n'
            "for d in result.files:\n    print(d.file, d.additions, d.deletions)"
        ),
        "result": lambda f: (
            f"GitDiffResult(success=True, file_count=1, additions={f['n']}, deletions={f['k']}, files=["
            f"DiffFile(file='{f['file']}', additions={f['n']}, deletions={f['k']}, hunks=[])], parse_error=None)"
        ),
        "answer": lambda f: f"One file changed: +{f['n']} -{f['k']}.",
    },
    "git_log": {
        "queries": [
            "Show the last {n} commits.",
            "What are the latest {n} entries in the git history?",
            "Print the git log, {n} commits.",
        ],
        "code": lambda f: (
            f'result = git_log(".", count={f["n"]})\nfor commit in result.commits:\n'
            "    print(commit.hash, commit.message)"
        ),
        "result": lambda f: (
            "GitLogResult(success=True, commits=[GitCommit(hash='a1b2c3d', message='fix cache', author='dev', "
            "date='2026-11-01')], commit_count=1, parse_error=None)"
        ),
        "answer": lambda f: "The latest commit is a1b2c3d: fix cache.",
    },
    "cst_find_pattern": {
        "queries": [
            "List every class defined in {file}.",
            "Which functions are defined in {file}? Use a pattern search.",
            "Search {file} for decorator usages.",
        ],
        "code": lambda f: (
            f'result = cst_find_pattern("{f["file"]}", "ClassDef")\nprint(result.match_count)\n'
            "for match in result.matches:\n    print(match.line, match.code_snippet)"
        ),
        "result": lambda f: (
            f"CstFindResult(success=True, match_count=1, matches=[CstMatch(line={f['line']}, column=0, "
            f"code_snippet='class {f['sym']}:', node_type='ClassDef')], parse_error=None)"
        ),
        "answer": lambda f: f"Found 1 class, {f['sym']}, at line {f['line']}.",
    },
    "cst_rename": {
        "queries": [
            "Change the name {old} to {new} throughout {file}.",
            "Rename the symbol {old} as {new} in {file}.",
            "In {file}, replace the identifier {old} with {new}.",
        ],
        "code": lambda f: f'result = cst_rename("{f["file"]}", "{f["old"]}", "{f["new"]}")\nprint(result.rename_count)',
        "result": lambda f: (
            f"CstRenameResult(success=True, rename_count={f['k'] + 1}, modified_source='...', parse_error=None)"
        ),
        "answer": lambda f: f"Renamed {f['old']} to {f['new']} in {f['k'] + 1} place(s).",
    },
    "cst_add_import": {
        "queries": [
            "Insert the import '{imp}' at the top of {file}.",
            "{file} needs '{imp}'; add that import.",
            "Add the line '{imp}' to the imports of {file}.",
        ],
        "code": lambda f: f'result = cst_add_import("{f["file"]}", "{f["imp"]}")\nprint(result.import_added)',
        "result": lambda f: (
            "CstAddImportResult(success=True, import_added=True, modified_source='...', parse_error=None)"
        ),
        "answer": lambda f: f"Added '{f['imp']}' to {f['file']}.",
    },
    "validate_component": _domain(
        "validate_component",
        "tdom",
        "view",
        [
            "Is {view} a correct tdom component?",
            "Validate the tdom component in {view}.",
            "Check that {view} follows the tdom component rules.",
        ],
    ),
    "check_render_tree": _domain(
        "check_render_tree",
        "tdom",
        "view",
        [
            "Inspect how components are composed in the render tree of {view}.",
            "Is the render tree in {view} sound?",
            "Check the component render tree of {view}.",
        ],
    ),
    "validate_escape_context": _domain(
        "validate_escape_context",
        "tdom",
        "view",
        [
            "Does {view} escape its html() templates safely with t-strings?",
            "Look for f-strings passed to html() in {view}.",
            "Check the escape context of the templates in {view}.",
        ],
    ),
    "validate_service_registration": _domain(
        "validate_service_registration",
        "svcs",
        "svc",
        [
            "Is the service in {svc} registered correctly?",
            "Validate how {svc} registers its service.",
            "Audit how {svc} wires up its service registration.",
        ],
    ),
    "check_dependency_graph": _domain(
        "check_dependency_graph",
        "svcs",
        "svc",
        [
            "Does {svc} break the allowed service dependency graph?",
            "Look for dependency cycles around {svc}.",
            "Check the service dependency graph of {svc}.",
        ],
    ),
    "validate_injection_site": _domain(
        "validate_injection_site",
        "svcs",
        "svc",
        [
            "Check the Inject[] parameters in {svc}.",
            "Are the injection sites in {svc} valid?",
            "Validate the Inject annotations used by {svc}.",
        ],
    ),
    "validate_middleware_chain": _domain(
        "validate_middleware_chain",
        "tdom-svcs",
        "mw",
        [
            "Is {mw} a well-formed @middleware?",
            "Validate the middleware chain defined in {mw}.",
            "Check the middleware in {mw} against the conventions.",
        ],
    ),
    "check_di_template_binding": _domain(
        "check_di_template_binding",
        "tdom-svcs",
        "view",
        [
            "In {view}, is context= bound on html() calls that render injected components?",
            "Check the DI template bindings of {view}.",
            "Is context= passed where {view} renders injectable components?",
        ],
    ),
    "validate_route_pattern": _domain(
        "validate_route_pattern",
        "tdom-svcs",
        "route",
        [
            "Are the URL routes in {route} well formed?",
            "Check the route definitions of {route}.",
            "Validate every route pattern declared in {route}.",
        ],
    ),
}


MULTI_QUERIES = [
    "Locate {sym}, open its file, check it as a tdom component and then run the tests in {tests}.",
    "Go to where {sym} is defined, read that module, validate the component, and run pytest on {tests}.",
    "Type-check {dir} and then run the tests in {tests}.",
    "Lint {dir} with ruff, then type-check it.",
    "Show git status and then the diff.",
]


def multi_code(query_index: int, f: Fill) -> tuple[list[str], str]:
    """(tools, program) of one multi-tool example: the plan its query names, each result's fields read."""
    plans = [
        ["goto_definition", "read_file", "validate_component", "pytest_run"],
        ["goto_definition", "read_file", "validate_component", "pytest_run"],
        ["typecheck", "pytest_run"],
        ["ruff_check", "typecheck"],
        ["git_status", "git_diff"],
    ]
    tools = plans[query_index]
    lines = []
    if tools[0] == "goto_definition":
        lines += [
            f'definition = goto_definition("{f["view"]}", {f["line"]}, 8, "{f["sym"]}")',
            "location = definition.locations[0]",
            "source = read_file(location.file)",
            "print(source)",
            "check = validate_component(location.file)",
            "print(check.valid)",
            f'tests = pytest_run("{f["tests"]}")',
            "print(tests.passed, tests.failed)",
        ]
    elif tools == ["typecheck", "pytest_run"]:
        lines += [
            f'types = typecheck("{f["dir"]}")',
            "print(types.error_count)",
            f'tests = pytest_run("{f["tests"]}")',
            "print(tests.passed, tests.failed)",
        ]
    elif tools == ["ruff_check", "typecheck"]:
        lines += [
            f'lint = ruff_check("{f["dir"]}")',
            "print(lint.violation_count)",
            f'types = typecheck("{f["dir"]}")',
            "print(types.error_count)",
        ]
    else:
        lines += [
            'status = git_status(".")',
            "print(status.file_count)",
            'diff = git_diff(".")',
            "print(diff.additions, diff.deletions)",
        ]
    return tools, "\n".join(lines)


def tool_example(rng: random.Random, system: str, tool: str, multi_turn: bool) -> Example:
    """One example calling ``tool`` (with its response and a final answer when ``multi_turn``)."""
    spec = TOOLS[tool]
    f = fill(rng)
    query = rng.choice(spec["queries"]).format(**f)
    msgs = [
        {"role": "system", "content": system},
        {"role": "user", "content": query},
        {"role": "assistant", "content": code_mode(spec["code"](f))},
    ]
    if multi_turn:
        msgs.append({"role": "user", "content": tool_response(spec["result"](f))})
        msgs.append({"role": "assistant", "content": spec["answer"](f)})
    return {"messages": msgs}


def multi_example(rng: random.Random, system: str) -> Example:
    """One example whose program calls several tools in turn."""
    f = fill(rng)
    i = rng.randrange(len(MULTI_QUERIES))
    _, code = multi_code(i, f)
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": MULTI_QUERIES[i].format(**f)},
            {"role": "assistant", "content": code_mode(code)},
        ]
    }
