"""The conversation after the tool, scored on what the person reads and the state left behind:
replayed transcripts (their programs run again, never trusted from the file) are labelled
answer-wrong, answer-missing and state-wrong by the facts the real tools computed; and the tiny
model, for real, gets its program's printed output back as a <tool_response> turn and continues."""

from __future__ import annotations

import json

import pytest

SUITE = """\
suite: talks
description: conversations whose ends are known
primary_scorer: outcome
max_turns: 3
system_prompt: You are Punie.
sampling: {temperature: 0.0, max_tokens: 64}
sandbox: {workspace: ws}
overall_threshold: ">= 0.50"
categories:
  c: {threshold: ">= 0.50"}
prompts:
  - {id: told, category: c, query: How many type errors are in src/?,
     expect: {tools: [typecheck], answer: {mentions: [typecheck.error_count]}}}
  - {id: told-wrong, category: c, query: How many type errors are in src/?,
     expect: {tools: [typecheck], answer: {mentions: [typecheck.error_count]}}}
  - {id: untold, category: c, query: How many type errors are in src/?,
     expect: {tools: [typecheck], answer: {mentions: [typecheck.error_count]}}}
  - {id: written, category: c, query: Write 'done' to out/summary.txt.,
     expect: {tools: [write_file], state: {file: out/summary.txt, contains: done}}}
  - {id: written-wrong, category: c, query: Write 'done' to out/summary.txt.,
     expect: {tools: [write_file], state: {file: out/summary.txt, contains: done}}}
  - {id: renamed, category: c, query: Rename f to g in src/app.py.,
     expect: {tools: [write_file], state: {file: src/app.py, defines: g, does_not_define: f}}}
  - {id: renamed-in-a-comment, category: c, query: Rename f to g in src/app.py.,
     expect: {tools: [write_file], state: {file: src/app.py, defines: g, does_not_define: f}}}
"""
TYPECHECK = 'r = typecheck("src/")\nprint(r.error_count)'
# (first program, later turns): the tool turns' text is what the file says was sent; it is not trusted
TALKS = {
    "told": (TYPECHECK, [("tool", "2"), ("assistant", "src/ has 2 type errors.")]),
    "told-wrong": (TYPECHECK, [("tool", "3"), ("assistant", "src/ has 3 type errors.")]),
    "untold": (TYPECHECK, [("tool", "2")]),
    "written": ('write_file("out/summary.txt", "done")', [("tool", ""), ("assistant", "Written.")]),
    "written-wrong": ('write_file("out/summary.txt", "not yet")', [("tool", ""), ("assistant", "Written.")]),
    "renamed": (
        'write_file("src/app.py", "def g(x: int) -> str:\\n    return str(x)\\n")',
        [("tool", ""), ("assistant", "Renamed.")],
    ),
    "renamed-in-a-comment": (
        'write_file("src/app.py", "# g replaces f\\ndef f(x: int) -> str:\\n    return str(x)\\n")',
        [("tool", ""), ("assistant", "Renamed.")],
    ),
}
EXPECTED = {
    "told": "ran-correct",
    "told-wrong": "answer-wrong",
    "untold": "answer-missing",
    "written": "ran-correct",
    "written-wrong": "state-wrong",
    "renamed": "ran-correct",
    "renamed-in-a-comment": "state-wrong",  # libcst finds no g defined: a name in a comment is none
}


def transcript(code: str, turns: list[tuple[str, str]]) -> dict:
    content = f"<tool_call><function=execute_code>\n<parameter=code>\n{code}\n</parameter>\n</function></tool_call>"
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "punie": {"raw_text": content, "turns": [{"role": role, "content": text} for role, text in turns]},
    }


@pytest.fixture
def talks(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "evalsuites").mkdir()
    (pytester.path / "evalsuites" / "talks.yaml").write_text(SUITE)
    ws = pytester.path / "evalsuites" / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "app.py").write_text('def f(x: int) -> str:\n    return x\n\ny: int = "a"\n')
    lines = [json.dumps({"id": pid, "response": transcript(*talk)}) for pid, talk in TALKS.items()]
    (pytester.path / "talks.jsonl").write_text("\n".join(lines) + "\n")
    pytester.makeini("[pytest]\n")
    return pytester


def test_replayed_conversations_are_judged_on_the_answer_and_the_state(talks: pytest.Pytester):
    result = talks.runpytest(
        "-m", "eval", "--punie-responses=talks.jsonl", "--punie-json=o.json", "-p", "no:cacheprovider"
    )
    doc = json.loads((talks.path / "o.json").read_text())
    rows = {p["id"]: p for p in doc["prompts"]}
    assert {pid: r["label"] for pid, r in rows.items()} == EXPECTED
    assert rows["told"]["scores"]["outcome"] == 1 and rows["told-wrong"]["scores"]["outcome"] == 0
    # the fact is the value typecheck computed in this run (2 errors in src/app.py), not the file's "3"
    problems = rows["told-wrong"]["details"]["outcome"]["problems"]
    assert problems == ["answer-wrong: the answer does not state typecheck.error_count = 2"], problems
    assert rows["written-wrong"]["details"]["outcome"]["problems"] == [
        "state-wrong: out/summary.txt does not contain 'done'"
    ]
    assert rows["renamed-in-a-comment"]["details"]["outcome"]["problems"] == ["state-wrong: src/app.py defines no 'g'"]
    assert rows["told"]["response"]["punie"]["turns"][1]["content"] == "src/ has 2 type errors."
    result.stdout.fnmatch_lines(
        [
            "told-wrong (c) missed at talks.yaml:*",
            "*  tool response: 3",
            "*  the model: src/ has 3 type errors.",
            "*VERDICT: *",
        ]
    )
    html = talks.runpytest(
        "-m", "eval", "--punie-responses=talks.jsonl", "--punie-html=r.html", "-p", "no:cacheprovider"
    )
    assert html.ret == result.ret
    page = (talks.path / "r.html").read_text()
    assert "the conversation after the tool</summary><pre>tool response: 3\nthe model: src/ has 3 type errors." in page
    assert "Traceback" not in result.stdout.str()


def test_a_fact_that_names_no_tool_of_the_surface_is_an_error_at_its_line(talks: pytest.Pytester):
    path = talks.path / "evalsuites" / "talks.yaml"
    path.write_text(
        path.read_text().replace(
            "mentions: [typecheck.error_count]}}}\n  - {id: told-wrong",
            "mentions: [typo.error_count]}}}\n  - {id: told-wrong",
            1,
        )
    )
    result = talks.runpytest("-m", "eval", "--punie-responses=talks.jsonl", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["*invalid suite: evalsuites/talks.yaml:1?: *'typo.error_count' is not a reference to a tool's result*"]
    )


def test_the_tiny_model_gets_its_tool_response_and_answers_again(tiny_project: pytest.Pytester):
    """For real: the tiny model's programs run, their printed output goes back as a <tool_response>
    user turn, the model writes a second turn; the document keeps each turn; a rerun asks the
    response cache for every turn (its key holds the tool responses) and generates nothing."""
    (tiny_project.path / "evalsuites" / "talks.yaml").write_text(
        SUITE.replace("sandbox: {workspace: ws}\n", "").replace("max_tokens: 64", "max_tokens: 128")
    )
    args = ["--punie-model=tiny_5bit", "-m", "eval", "-k", "talks", "-p", "no:cacheprovider"]
    first = tiny_project.runpytest_subprocess(*args, "--punie-json=a.json")
    assert first.ret in (0, 1), first.stdout.str()[-3000:]
    doc = json.loads((tiny_project.path / "a.json").read_text())
    assert len(doc["prompts"]) == 7 and all(p["error"] is None and p["response"] for p in doc["prompts"])
    talked = [p for p in doc["prompts"] if (p["response"]["punie"].get("turns") or [])]
    assert talked, "no prompt got a tool response"
    from pytest_punie.results import run_for_suite
    from pytest_punie.scoring.parse import programs_in
    from pytest_punie.sources.conversation import output_of
    from pytest_punie.suite import load_suite

    suite = load_suite(tiny_project.path / "evalsuites" / "talks.yaml")
    for p in talked:
        tool, model = p["response"]["punie"]["turns"][:2]
        assert tool["role"] == "tool" and model["role"] == "assistant" and isinstance(model["token_ids"], list)
        codes = programs_in(p["response"]["punie"]["raw_text"], "execute_code")
        assert tool["content"] == output_of(run_for_suite(suite, codes))  # what the program really printed
    assert any(p["response"]["punie"]["turns"][1]["token_ids"] for p in talked)  # a second turn was written
    again = tiny_project.runpytest_subprocess(*args, "--punie-json=b.json")
    redo = json.loads((tiny_project.path / "b.json").read_text())

    def turns(d: dict) -> list:  # each turn as written (how long a turn took is not what it wrote)
        return [[{k: v for k, v in t.items() if k != "seconds"} for t in p["response"]["punie"].get("turns") or []]
                for p in d["prompts"]]  # fmt: skip

    assert turns(redo) == turns(doc)
    assert redo["response_cache"]["misses"] == 0, again.stdout.str()[-2000:]


def test_a_managed_server_carries_the_conversation_with_the_tool_role_as_in_process(tiny_project: pytest.Pytester):
    """The same conversations through a managed ``mlx_lm server`` with ``tool_response_role: tool``: the
    server renders the tool message with the model's own template, so every turn's tokens are those
    that the in-process backend wrote from the training data's user turn."""
    suite = SUITE.replace("sandbox: {workspace: ws}\n", "").replace("max_tokens: 64", "max_tokens: 128")
    (tiny_project.path / "evalsuites" / "talks.yaml").write_text(suite)
    args = ["--punie-model=tiny_5bit", "-m", "eval", "-k", "talks", "-p", "no:cacheprovider"]
    local = tiny_project.runpytest_subprocess(*args, "--punie-json=a.json")
    (tiny_project.path / "evalsuites" / "talks.yaml").write_text(suite + "tool_response_role: tool\n")
    served = tiny_project.runpytest_subprocess(*args, "--punie-backend=server", "--punie-json=b.json")
    assert local.ret in (0, 1) and served.ret == local.ret, served.stdout.str()[-3000:]
    a, b = (json.loads((tiny_project.path / f"{n}.json").read_text()) for n in ("a", "b"))
    assert b["provenance"]["model"]["server"] and b["response_cache"]["hits"] == 0  # generated by the server
    assert all(p["error"] is None for p in a["prompts"] + b["prompts"])

    def turns(d: dict) -> dict:
        def of(p: dict) -> list:
            return [(t["role"], t["content"], t.get("token_ids")) for t in p["response"]["punie"].get("turns") or []]

        return {p["id"]: of(p) for p in d["prompts"]}

    assert any(len(t) >= 2 for t in turns(a).values()), "no prompt got a second model turn"
    assert turns(b) == turns(a)


# a right program for each packaged task: run, its facts resolved, they make a right transcript
REFERENCE = {
    "task-text-01": 'write_file("output/summary.txt", "Phase 33 complete")\nprint("written")',
    "task-text-02": 'print(read_file("notes/todo.md"))',
    "task-text-03": 'text = read_file("notes/todo.md")\nwrite_file("notes/todo.md", text + "reviewed\\n")\nprint("ok")',
    "task-valid-01": 'r = typecheck("src/")\nprint(r.error_count)',
    "task-valid-02": 'r = ruff_check("src/")\nprint(r.violation_count, r.violations[0].code)',
    "task-valid-03": 'r = pytest_run("tests/")\nprint(r.passed, r.failed)',
    "task-valid-04": 'r = typecheck("src/services/")\nprint(r.errors[0].file)',
    "task-git-01": 'r = git_status(".")\nprint(r.file_count)',
    "task-git-02": 'r = git_log(".", count=1)\nprint(r.commits[0].author, r.commits[0].message)',
    "task-git-03": 'r = git_diff(".")\nprint(r.additions)',
    "task-cst-01": 'r = cst_find_pattern("src/punie/agent/toolset.py", "FunctionDef")\nprint(r.match_count)',
    "task-cst-02": 'f = "src/punie/training/lora_config.py"\nr = cst_rename(f, "LoRAConfig", "AdapterConfig")\n'
    "write_file(f, r.modified_source)\nprint(r.rename_count)",
    "task-cst-03": 'f = "src/services/user_service.py"\nr = cst_add_import(f, "import logging")\n'
    "write_file(f, r.modified_source)\nprint(r.import_added)",
    "task-lsp-01": 'r = document_symbols("src/punie/agent/config.py")\nprint(r.symbol_count)',
    "task-lsp-02": 'r = find_references("src/punie/training/lora_config.py", 7, 6, "LoRAConfig")\n'
    "print(r.reference_count)",
    "task-lsp-03": 'r = workspace_symbols("LoRAConfig")\nprint(r.symbol_count)',
    "task-lsp-04": 'r = goto_definition("src/punie/training/train_runner.py", 19, 25, "LoRAConfig")\n'
    "print(r.locations)",
    "task-dom-01": 'r = validate_component("src/views/error_page.py")\nprint(r.valid, r.issues[0].rule)',
    "task-dom-02": 'r = validate_escape_context("src/views/registration.py")\nprint(r.issues[0].rule)',
    "task-dom-03": 'r = validate_route_pattern("src/routes/api.py")\nprint(r.valid)',
    "task-dom-04": 'r = validate_middleware_chain("src/middleware/circuit_breaker.py")\nprint(r.valid)',
    "task-dom-05": 'r = check_dependency_graph("src/services/report_service.py")\nprint(r.issues[0].rule)',
}


def test_every_packaged_task_can_be_done_right_and_is_scored_so(pytester: pytest.Pytester):
    """The packaged tasks suite (--punie-suite=tasks, in a project without one) is sound: for each
    task a right program runs on the packaged workspace, every fact it refers to resolves to what the
    tool computed, every state check can be met; such transcripts score 1, and the same programs with
    an answer that states nothing score answer-wrong where facts are asked for."""
    from pytest_punie.sandbox import run_programs
    from pytest_punie.scoring.outcome import resolve_fact
    from pytest_punie.suite import load_suite
    from pytest_punie.suites import packaged_suites

    suite = load_suite(packaged_suites()["tasks"])
    assert len(suite.prompts) >= 20 and suite.primary_scorer == "outcome" and suite.extra["max_turns"] > 1
    assert {p.category for p in suite.prompts} == {"text_tools", "validation", "git", "cst", "lsp", "domain"}
    right, vague = [], []
    for p in suite.prompts:
        (run,) = run_programs([REFERENCE[p.id]])
        facts = [resolve_fact(ref, run.calls) for ref in p.expect.mentions]
        assert run.ran and all(found for found, _ in facts), (p.id, run.exception, facts)
        answer = "Done: " + ", ".join(str(v) for _, v in facts) + "."
        right.append(
            json.dumps(
                {"id": p.id, "response": transcript(REFERENCE[p.id], [("tool", run.stdout), ("assistant", answer)])}
            )
        )
        vague.append(
            json.dumps(
                {"id": p.id, "response": transcript(REFERENCE[p.id], [("tool", run.stdout), ("assistant", "Done.")])}
            )
        )
    (pytester.path / "right.jsonl").write_text("\n".join(right) + "\n")
    (pytester.path / "vague.jsonl").write_text("\n".join(vague) + "\n")
    pytester.makeini("[pytest]\n")
    common = ["-m", "eval", "--punie-suite=tasks", "-p", "no:cacheprovider"]
    done = pytester.runpytest(*common, "--punie-responses=right.jsonl", "--punie-json=r.json")
    doc = json.loads((pytester.path / "r.json").read_text())
    assert {p["id"]: p["label"] for p in doc["prompts"] if p["label"] != "ran-correct"} == {}
    assert done.ret == 0 and doc["verdict"] == "PASS"
    pytester.runpytest(*common, "--punie-responses=vague.jsonl", "--punie-json=v.json")
    labels = {p["id"]: p["label"] for p in json.loads((pytester.path / "v.json").read_text())["prompts"]}
    asked = {p.id for p in suite.prompts if p.expect.mentions}
    assert {i for i, label in labels.items() if label == "answer-wrong"} == asked
    # one task, one item: a baseline gates tasks as it gates prompts, and -n 2 judges each as one process
    pytester.runpytest(*common, "--punie-responses=right.jsonl", "--punie-save=prod")
    gated = pytester.runpytest_subprocess(
        *common, "--punie-responses=vague.jsonl", "--punie-compare=prod", "--punie-json=g.json", "-n", "2"
    )
    g = json.loads((pytester.path / "g.json").read_text())
    assert {f["id"]: (f["from"], f["to"]) for f in g["comparison"]["flips"]} == dict.fromkeys(asked, (True, False))
    changes = {c["id"]: (c["from"], c["to"]) for c in g["comparison"]["label_changes"]}
    assert changes == dict.fromkeys(asked, ("ran-correct", "answer-wrong"))
    overall = g["comparison"]["categories"]["overall"]
    assert overall["worse"] == len(asked) and overall["better"] == 0 and overall["p_value"] < 0.001
    gated.stdout.fnmatch_lines(["*2 workers*"])
    serial = {p["id"]: (p["scores"], p["label"]) for p in json.loads((pytester.path / "v.json").read_text())["prompts"]}
    assert {p["id"]: (p["scores"], p["label"]) for p in g["prompts"]} == serial


def test_the_chat_templates_tool_role_renders_as_the_training_datas_user_turn(qwen3_tokenizer):
    """``tool_response_role: tool`` sends the output as a message of the template's tool role; the real
    Qwen3 template wraps it in the same <tool_response> user turn as the training data: the same tokens."""
    from mlx_lm.tokenizer_utils import load as load_tokenizer

    from pytest_punie.sources.conversation import tool_response_turn

    tokenizer = load_tokenizer(qwen3_tokenizer)
    start = [{"role": "system", "content": "You are Punie."}, {"role": "user", "content": "How many type errors?"}]
    said = {"role": "assistant", "content": "<tool_call>...</tool_call>"}
    rendered = {
        role: tokenizer.apply_chat_template([*start, said, tool_response_turn("2\n", role)], add_generation_prompt=True)
        for role in ("user", "tool")
    }
    assert tool_response_turn("2\n", "tool") == {"role": "tool", "content": "2"}
    assert rendered["tool"] == rendered["user"]
    assert "<|im_start|>user\n<tool_response>\n2\n</tool_response><|im_end|>" in tokenizer.decode(rendered["tool"])
