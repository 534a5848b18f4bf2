"""Each data-lint finding as a user reads it: its check, severity, file, line and words, for one
defect at a time; each bound holds at the bound; both data formats read the same (these pin what
the mutation run found unguarded: scripts/mutation.py, datalint/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_punie.datalint import LintConfig, lint_dataset
from pytest_punie.datalint.examples import ExampleFormatError, assistant_turns, chatml_messages, first_tool_example
from pytest_punie.datalint.findings import Finding

LOOSE = {"tool_share": (0.0, 1.0), "min_tool_examples": 0}  # one example at a time: no file-level findings


def call(code: str) -> str:
    return f"<tool_call><function=execute_code>\n<parameter=code>\n{code}\n</parameter>\n</function></tool_call>"


def direct(tool: str) -> str:
    return f"<tool_call><function={tool}>\n<parameter=path>\n.\n</parameter>\n</function></tool_call>"


def chat(*turns: tuple[str, str | None]) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


def qa(query: str, answer: str = "Done.") -> dict:
    return chat(("user", query), ("assistant", answer))


def lint(tmp_path: Path, train: list, valid: list | None = None, test: list | None = None, **cfg) -> list[tuple]:
    """(check, severity, file, line, message) of every finding, linting these examples."""
    for name, rows in (("train", train), ("valid", valid), ("test", test)):
        if rows is not None:
            lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
            (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    found = lint_dataset(tmp_path, LintConfig(**{**LOOSE, **cfg}))
    return [(f.check, f.severity, Path(f.path).name, f.line, f.message) for f in found]


@pytest.mark.parametrize(
    ("example", "finding"),
    [
        ([1, 2], ("format", 'expected an object with "messages" (or "text")')),
        ({"messages": []}, ("format", '"messages" must be a non-empty list of objects')),
        ({"messages": ["hello"]}, ("format", '"messages" must be a non-empty list of objects')),
        ({"text": " "}, ("structure", '"text" is empty')),
        (
            {"text": "plain words"},
            ("format", "\"text\" cannot be read as ChatML turns: text outside a turn at character 0: 'plain words'"),
        ),
        (chat(("user", "q"), ("bot", "a")), ("structure", "unknown role 'bot'")),
        (
            chat(("user", "q"), ("system", "s"), ("assistant", "a")),
            ("structure", "a system message after the first message"),
        ),
        (chat(("user", "q")), ("structure", "the last message is 'user', not 'assistant'")),
        (
            chat(("system", "s"), ("assistant", "a")),
            ("structure", "the conversation starts with 'assistant', not 'user'"),
        ),
        (
            chat(("user", "q"), ("assistant", "a"), ("assistant", "b"), ("assistant", "c")),
            ("structure", "two assistant messages in a row"),
        ),
        (chat(("user", "q"), ("assistant", "  ")), ("structure", "message 1 (assistant) has empty content")),
        (chat(("user", "q"), ("assistant", None)), ("structure", "message 1 (assistant) has empty content")),
        (chat(("user", "q"), ("assistant", "<think>hmm")), ("think", "message 1: <think> is never closed")),
        (
            chat(
                ("user", "q"),
                ("assistant", call("print(1)")),
                ("user", "<tool_response>\n[no output]\n</tool_response>"),
                ("assistant", "ok"),
            ),
            ("tool-responses", "message 2: empty or placeholder tool response '[no output]'"),
        ),
        (
            chat(("user", "q"), ("assistant", call("print(1)")), ("tool", " "), ("assistant", "ok")),
            ("tool-responses", "message 2: empty or placeholder tool response ''"),
        ),
        (
            chat(
                ("user", "q"),
                ("assistant", call("print(1)")),
                ("user", "<tool_result>x</tool_result>"),
                ("assistant", "ok"),
            ),
            ("tool-responses", "message 2: <tool_result> is not the training format; use <tool_response>"),
        ),
        (
            chat(("user", "q"), ("assistant", "<think>maybe a <tool_call></think>Done.")),
            ("code-parses", "message 1: <tool_call> marker but no parseable call"),
        ),
        (
            chat(("user", "q"), ("assistant", "<tool_call><function=execute_code>\n<parameter=code>\nprint(1)")),
            ("code-parses", "message 1: tool call is not closed"),
        ),
        (
            chat(("user", "q"), ("assistant", direct("git_status"))),
            ("known-tools", "message 1: direct call of 'git_status' outside execute_code"),
        ),
        (
            chat(("user", "q"), ("assistant", direct("frobnicate"))),
            ("known-tools", "message 1: unknown tool 'frobnicate' outside execute_code"),
        ),
        (chat(("user", "q"), ("assistant", call("x = (1"))), ("code-parses", "message 1: program does not parse: ")),
        (
            chat(("user", "q"), ("assistant", call("r = git_status_direct('.')"))),
            (
                "known-tools",
                "message 1: calls 'git_status_direct', not in the sandbox (the sandbox has no _direct names)",
            ),
        ),
        (
            chat(("user", "q"), ("assistant", call("frob()"))),
            ("known-tools", "message 1: calls 'frob', not in the sandbox"),
        ),
        (
            chat(("user", "q"), ("assistant", call("r = git_status('.')\nprint(r.nope)"))),
            ("known-fields", "message 1: reads GitStatusResult.nope, which does not exist"),
        ),
    ],
)
def test_one_defect_is_one_finding_at_its_line(tmp_path, example, finding):
    found = lint(tmp_path, [qa("first"), example])
    mine = [(c, m) for c, sev, name, line, m in found if line == 2 and sev == "error" and name == "train.jsonl"]
    check, message = finding
    assert any(c == check and m.startswith(message) for c, m in mine), found
    if message.endswith(("'", ")", "row", "message", "'user'", "'assistant'")):
        assert (check, message) in mine, found  # the whole message, not only its start
    assert all(line in (2, None) for _, _, _, line, _ in found), found  # the clean first line has none


def test_only_a_tool_turn_or_a_tool_response_is_read_as_one(tmp_path):
    """A user asking "..." or the assistant writing "..." is not a placeholder tool response."""
    assert lint(tmp_path, [chat(("user", "..."), ("assistant", "..."))]) == []


def test_examples_with_no_user_query_are_never_duplicates_or_leaks(tmp_path):
    """Two examples in train and one in valid that ask nothing: the structure says so, nothing else."""
    no_query = chat(("system", "s"), ("assistant", "a"))
    found = lint(tmp_path, [no_query, no_query], valid=[no_query])
    assert {f[0] for f in found} == {"structure"}, found


def test_an_unknown_role_stops_the_structure_checks_of_that_example(tmp_path):
    found = lint(tmp_path, [chat(("bot", "q"), ("bot", "a"))])
    assert [f for f in found if f[0] == "structure"] == [("structure", "error", "train.jsonl", 1, "unknown role 'bot'")]


def test_the_text_format_reads_as_messages_and_an_unclosed_last_turn_is_said(tmp_path):
    closed = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\nDone.<|im_end|>\n"
    assert lint(tmp_path, [{"text": closed}]) == []
    found = lint(tmp_path, [{"text": closed.rsplit("<|im_end|>", 1)[0]}])
    assert found == [
        (
            "structure",
            "error",
            "train.jsonl",
            1,
            "the last turn (assistant) is not closed with <|im_end|>: the model never learns to stop",
        )
    ]
    both = {"text": "", "messages": qa("q")["messages"]}  # messages win when both are there
    assert lint(tmp_path, [both]) == []


def test_duplicates_leaks_and_contamination_are_said_with_the_query_cut_at_60(tmp_path):
    long = "Show me the git status of the repository please, and also the diff of every file"
    found = lint(
        tmp_path,
        [qa(long), qa(long.upper())],
        valid=[qa(long)],
        test=[qa("What is hover?")],
        eval_queries=("what is HOVER?",),
    )
    cut = repr(long[:60])
    assert (
        "duplicates",
        "error",
        "train.jsonl",
        2,
        f"duplicate query (first at line 1): {long.upper()[:60]!r}",
    ) in found
    assert ("split-leak", "error", "valid.jsonl", 1, f"valid query also in train: {cut}") in found
    assert ("eval-contamination", "error", "test.jsonl", 1, "eval query in training data: 'What is hover?'") in found


@pytest.mark.parametrize(("similarity", "flagged"), [(0.9, True), (0.91, False)])
def test_a_near_copy_is_flagged_at_the_similarity_bound(tmp_path, similarity, flagged):
    found = lint(tmp_path, [qa("abcdefghiX")], eval_queries=("abcdefghij",), similarity=similarity)
    near = [f for f in found if f[0] == "eval-contamination"]
    expected = [
        ("eval-contamination", "error", "train.jsonl", 1, "near-copy (0.90) of eval query 'abcdefghij': 'abcdefghiX'")
    ]
    assert near == (expected if flagged else [])


def test_a_system_prompt_that_differs_is_said_once_with_where_it_differs(tmp_path):
    rows = [chat(("system", "You are Punie, a coding agent."), ("user", f"q{i}"), ("assistant", "a")) for i in range(3)]
    found = lint(tmp_path, rows, eval_system_prompts=("You are Punie, a code agent.",))
    assert found == [
        (
            "system-prompt",
            "error",
            "train.jsonl",
            1,
            "system prompt differs from the eval suite's system prompt: first difference at character 20: "
            "'re Punie, a coding agent.'",
        )
    ]
    short = [chat(("system", "You are Punie"), ("user", "q"), ("assistant", "a"))]
    found = lint(tmp_path, short, eval_system_prompts=("You are Punie, a code agent.", "Other."))
    assert (
        found[0][4]
        == "system prompt differs from the eval suite's system prompts: lengths differ (13 vs 28 characters)"
    )


def test_several_system_prompts_are_counted_and_bounded(tmp_path):
    two = [chat(("system", f"S{i}"), ("user", f"q{i}"), ("assistant", "a")) for i in range(2)]
    assert lint(tmp_path, two) == [
        ("system-prompt", "error", "train.jsonl", None, "2 different system prompts (first used at lines 1, 2)")
    ]
    assert lint(tmp_path, two, eval_system_prompts=("S0", "S1")) == []  # the suites' own variants
    many = [chat(("system", f"S{i}"), ("user", f"q{i}"), ("assistant", "a")) for i in range(70)]
    (finding,) = lint(tmp_path, many)
    assert finding[4].startswith("64+ different system prompts (first used at lines 1, 2, 3,")
    assert finding[4].endswith(", 63, 64)")


def test_the_tool_share_band_holds_at_its_edges(tmp_path):
    tool = chat(("user", "t"), ("assistant", call("print(read_file('a'))")))
    rows = [tool] + [qa(f"q{i}") for i in range(9)]  # 1 of 10 calls a tool
    assert not [f for f in lint(tmp_path, rows, tool_share=(0.10, 0.80)) if f[0] == "tool-share"]
    found = [f for f in lint(tmp_path, rows, tool_share=(0.11, 0.80)) if f[0] == "tool-share"]
    assert found == [
        ("tool-share", "error", "train.jsonl", None, "10.0% of examples call tools (1/10); band is 11%-80%")
    ]
    assert not [f for f in lint(tmp_path, rows, tool_share=(0.0, 0.10)) if f[0] == "tool-share"]


def test_think_blocks_used_in_under_half_the_turns_are_a_warning(tmp_path):
    think = qa("t0", "<think>x</think>Done.")
    assert lint(tmp_path, [think, qa("a"), qa("b")]) == [
        ("think", "warning", "train.jsonl", None, "<think> in 1 of 3 assistant turns: inconsistent")
    ]
    assert lint(tmp_path, [think, qa("a")]) == []  # half: not inconsistent
    assert lint(tmp_path, [think, qa("t1", "<think>y</think>Done.")]) == []  # every turn


def test_field_access_and_per_tool_coverage_in_train(tmp_path):
    reads = chat(("user", "r"), ("assistant", call("r = git_status('.')\nprint(r.clean)")))
    prints = chat(("user", "p"), ("assistant", call("r = git_status('.')\nprint(r)")))
    assert not [f for f in lint(tmp_path, [reads, prints]) if f[0] == "coverage"]  # 1 of 2: the minimum
    found = [f for f in lint(tmp_path, [prints, qa("x")]) if f[0] == "coverage"]
    assert found == [
        (
            "coverage",
            "error",
            "train.jsonl",
            None,
            "only 0/1 typed-tool programs read a result field (minimum 50%): print(result) teaches nothing",
        )
    ]
    assert not [f for f in lint(tmp_path, [qa("x")], valid=[prints]) if f[0] == "coverage"]  # train only
    per_tool = [f for f in lint(tmp_path, [reads], min_tool_examples=1) if f[0] == "coverage"]
    assert ("coverage", "error", "train.jsonl", None, "read_file is called in 0 examples (minimum 1)") in per_tool
    assert not [f for f in per_tool if f[4].startswith("git_status ")]


def test_the_lint_bounds_by_default_are_the_users_own():
    cfg = LintConfig()
    assert (cfg.tool_share, cfg.min_tool_examples, cfg.min_field_access, cfg.similarity, cfg.max_seq_length) == (
        (0.10, 0.80),
        5,
        0.5,
        0.85,
        2048,
    )


def test_a_missing_train_file_empty_files_blank_lines_and_bad_json(tmp_path):
    only_valid, empty, blank = (tmp_path / name for name in ("only-valid", "empty", "blank"))
    for d in (only_valid, empty, blank):
        d.mkdir()
    (only_valid / "valid.jsonl").write_text(json.dumps(qa("q")) + "\n")
    assert lint_dataset(only_valid, LintConfig(**LOOSE)) == [
        Finding("format", "error", str(only_valid / "train.jsonl"), None, "missing: a dataset needs train.jsonl")
    ]
    assert lint(empty, ["", "   "]) == [("format", "error", "train.jsonl", None, "no examples")]
    found = lint(blank, ["", "{not json", json.dumps(qa("q"))])
    assert [(f[0], f[3]) for f in found] == [("format", 2)] and found[0][4].startswith("not valid JSON: ")


def test_the_length_check_counts_tokens_and_four_per_message(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1, "b": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tok" / "tokenizer.json"
    path.parent.mkdir()
    tok.save(str(path))
    data = tmp_path / "data"
    data.mkdir()
    row = chat(("user", "a b a"), ("assistant", "b"))  # (3 + 4) + (1 + 4) = 12 tokens
    assert not [f for f in lint(data, [row], tokenizer=str(path), max_seq_length=12) if f[0] == "length"]
    assert [f for f in lint(data, [row], tokenizer=str(path), max_seq_length=11) if f[0] == "length"] == [
        ("length", "error", "train.jsonl", 1, "12 tokens, over the training max sequence length 11 (truncated)")
    ]


def test_a_finding_says_where_as_editors_link_it():
    assert Finding("format", "error", "data/train.jsonl", 7, "m").where() == "data/train.jsonl:7"
    assert Finding("format", "error", "data/train.jsonl", None, "m").where() == "data/train.jsonl"
    assert Finding("format", "error", "p", 1, "m").to_dict() == {
        "check": "format",
        "severity": "error",
        "path": "p",
        "line": 1,
        "message": "m",
    }


# -- reading examples ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "hello<|im_start|>user\nq<|im_end|>",
            "text outside a turn at character 0: 'hello<|im_start|>user\\nq<|im_end|>'",
        ),
        ("<|im_start|>robot\nq<|im_end|>", "turn 0: <|im_start|> is followed by 'robot', not a role and a newline"),
        ("<|im_start|>user", "turn 0: <|im_start|> is followed by 'user', not a role and a newline"),
        (
            "<|im_start|>user\nq<|im_start|>assistant\na<|im_end|>",
            "turn 0 (user) is not closed with <|im_end|> before the next turn",
        ),
        ("   \n ", "no <|im_start|>role ... <|im_end|> turn in the text"),
    ],
)
def test_chatml_that_cannot_be_read_says_where(text, message):
    with pytest.raises(ExampleFormatError) as info:
        chatml_messages(text)
    assert str(info.value) == message


def test_chatml_turns_read_back_with_their_content_and_closure():
    turns, closed = chatml_messages("<|im_start|>user\nq<|im_end|><|im_start|>assistant\nhalf")
    assert turns == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "half"}] and not closed
    turns, closed = chatml_messages("<|im_start|>user\n\nq\n<|im_end|>")
    assert turns == [{"role": "user", "content": "\nq\n"}] and closed


def test_assistant_turns_are_read_from_both_formats_skipping_what_cannot_be_read(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [
        json.dumps(qa("q", "first")),
        "",
        "{broken",
        json.dumps({"text": "<|im_start|>user\nq<|im_end|><|im_start|>assistant\nsecond<|im_end|>"}),
        json.dumps({"messages": []}),
        json.dumps(chat(("user", "q"), ("assistant", None), ("assistant", "third"))),
    ]
    path.write_text("\n".join(rows) + "\n")
    assert list(assistant_turns(path)) == [(1, 1, "first"), (4, 1, "second"), (6, 2, "third")]


def test_the_first_tool_example_prefers_one_with_a_tool_response(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    bare = chat(("system", "S"), ("user", "q"), ("assistant", call("print(1)")))
    answered = chat(
        ("system", "S"),
        ("user", "q2"),
        ("assistant", call("print(2)")),
        ("user", "<tool_response>\n2\n</tool_response>"),
        ("assistant", "2"),
    )
    short = chat(
        ("user", "q"), ("assistant", call("print(0)"))
    )  # the call is not the first answer after a system prompt
    (a / "train.jsonl").write_text("\n".join(json.dumps(r) for r in (short, bare)) + "\n")
    (b / "train.jsonl").write_text("\n".join(json.dumps(r) for r in (qa("x"), answered)) + "\n")
    assert first_tool_example([tmp_path / "none", a, b]) == answered["messages"]
    assert first_tool_example([a, b], with_response=False) == bare["messages"]
    assert first_tool_example([a]) == bare["messages"]  # none answered: the first call will do
    assert first_tool_example([tmp_path / "none"]) is None


def test_field_access_below_half_is_flagged_however_the_share_is_written(tmp_path):
    reads = chat(("user", "r"), ("assistant", call("r = git_status('.')\nprint(r.clean)")))
    prints = [chat(("user", f"p{i}"), ("assistant", call("r = git_status('.')\nprint(r)"))) for i in range(2)]
    found = [f for f in lint(tmp_path, [reads, *prints]) if f[0] == "coverage"]
    assert [f[4] for f in found] == [
        "only 1/3 typed-tool programs read a result field (minimum 50%): print(result) teaches nothing"
    ]


def test_long_queries_are_cut_at_60_characters_in_every_message(tmp_path):
    long = "Please show me the complete git status of this repository, every file, staged or not"
    near = long[:-1] + "?"
    found = lint(tmp_path, [qa(long), qa(near)], eval_queries=(long,))
    assert ("eval-contamination", "error", "train.jsonl", 1, f"eval query in training data: {long[:60]!r}") in found
    (nearly,) = [f for f in found if f[3] == 2]
    assert nearly[4] == f"near-copy (0.99) of eval query {long!r}: {near[:60]!r}"


def test_a_prefix_exactly_at_the_bound_is_a_near_copy(tmp_path):
    """17 of 23 characters, the rest missing: a ratio of 2 x 17 / 40 = 0.85, the default bound, flagged."""
    found = lint(tmp_path, [qa("abcdefghijklmnopq")], eval_queries=("abcdefghijklmnopqrstuvw",))
    assert [f[4] for f in found if f[0] == "eval-contamination"] == [
        "near-copy (0.85) of eval query 'abcdefghijklmnopqrstuvw': 'abcdefghijklmnopq'"
    ]


def test_a_long_near_copy_is_still_found(tmp_path):
    """difflib's autojunk would treat common characters of a 200+ character query as junk and miss it."""
    original = ("Explain how the dependency injection container resolves services in this project " * 3).strip()
    copy = original.replace("container", "containers", 1)
    assert len(original) > 200
    found = lint(tmp_path, [qa(copy)], eval_queries=(original,))
    assert [f[0] for f in found] == ["eval-contamination"] and found[0][4].startswith("near-copy (1.00)")


def test_a_long_near_copy_of_common_words_is_found_whole(tmp_path):
    """A 220-character query of common words with one word changed everywhere: difflib's autojunk
    would drop its popular characters and see a ratio of 0.68; the lint compares every character (0.96)."""
    original = (
        "branch diff write log tree parse tree type file log tree git type check git parse write read log run git "
        "git git git type file check git node read parse tree read lint read read parse test git check log commit "
        "test log run"
    )
    copy = original.replace("git", "got")
    found = lint(tmp_path, [qa(copy)], eval_queries=(original,))
    assert [f[0] for f in found] == ["eval-contamination"] and found[0][4].startswith("near-copy (0.96)")


def test_where_two_system_prompts_differ_is_shown_from_their_start_or_15_characters_before(tmp_path):
    row = [
        chat(
            ("system", "Be X and keep answers short, always, whatever is asked of you"),
            ("user", "q"),
            ("assistant", "a"),
        )
    ]
    found = lint(tmp_path, row, eval_system_prompts=("Be Y and keep answers short, always, whatever is asked of you",))
    assert found[0][4].endswith("first difference at character 3: 'Be X and keep answers short,'")


def test_a_dataset_given_as_a_string_path_is_linted_the_same(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps(qa("q")) + "\n")
    assert lint_dataset(str(tmp_path), LintConfig(**LOOSE)) == lint_dataset(tmp_path, LintConfig(**LOOSE)) == []


def test_one_example_of_either_format_or_neither_reads_as_messages_or_says_why():
    from pytest_punie.datalint.examples import example_messages

    messages = qa("q")["messages"]
    assert example_messages({"messages": messages}) == messages
    assert example_messages({"text": "<|im_start|>user\nq<|im_end|>"}) == [{"role": "user", "content": "q"}]
    assert example_messages({"messages": messages, "text": ""}) == messages  # messages win
    for obj, message in (
        ({"messages": []}, '"messages" must be a non-empty list of objects'),
        ({"messages": "q"}, '"messages" must be a non-empty list of objects'),
        ({"messages": [messages[0], "x"]}, '"messages" must be a non-empty list of objects'),
        ({"text": "  "}, '"text" is empty'),
        ({"text": 3}, '"text" is empty'),
        (["messages"], 'expected an object with "messages" (or "text")'),
        ({"other": 1}, 'expected an object with "messages" (or "text")'),
    ):
        with pytest.raises(ExampleFormatError) as info:
            example_messages(obj)
        assert str(info.value) == message


def test_chatml_edge_turns_read_as_written():
    assert chatml_messages("<|im_start|>user\n<|im_end|>") == ([{"role": "user", "content": ""}], True)
    long = "x" * 50 + "<|im_start|>user\nq<|im_end|>"
    with pytest.raises(ExampleFormatError) as info:
        chatml_messages(long)
    assert str(info.value) == f"text outside a turn at character 0: {long[:40]!r}"
    with pytest.raises(ExampleFormatError) as info:
        chatml_messages("<|im_start|>" + "r" * 30)
    assert str(info.value) == f"turn 0: <|im_start|> is followed by {'r' * 20!r}, not a role and a newline"
