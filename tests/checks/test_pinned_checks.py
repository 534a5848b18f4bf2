"""The pipeline checks, pinned where a crashed, cut-off or wrong-bits artifact must be caught: each
problem an adapter or model directory can have is its own message naming the file; each bound holds
at the bound; the tokenizer preflight's spec errors are located (these pin what the mutation run
found unguarded: scripts/mutation.py, checks/)."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from pytest_punie.checks.artifacts import check_adapter, check_model
from pytest_punie.checks.eos import _ids, check_eos, end_of_turn, eos_token_id
from pytest_punie.checks.expectations import (
    DEFAULT_MIN_BITS,
    PipelineExpectations,
    check_bits,
    expectations,
    planned_from_adapter,
)
from pytest_punie.checks.tokenizerfiles import check_example_encoding, check_single_tokens, load_spec, load_tokenizer
from pytest_punie.errors import SuiteError


def safetensors(path: Path, names: list[str], cut: int = 0) -> Path:
    """A minimal safetensors file with one float32 per tensor (``cut`` bytes short when asked)."""
    header = {n: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i, n in enumerate(names)}
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * (4 * len(names) - cut))
    return path


def adapter(tmp_path: Path, config: dict | str | None = None, weights: list[str] | None = None) -> Path:
    folder = tmp_path / "adapter"
    folder.mkdir(parents=True, exist_ok=True)
    if config is not None:
        text = config if isinstance(config, str) else json.dumps(config)
        (folder / "adapter_config.json").write_text(text)
    if weights is not None:
        safetensors(folder / "adapters.safetensors", weights)
    return folder


LORA = {"fine_tune_type": "lora", "lora_parameters": {"rank": 8, "scale": 20.0}}
TENSORS = ["model.layers.0.self_attn.q_proj.lora_a", "model.layers.0.self_attn.q_proj.lora_b"]


# -- adapters ------------------------------------------------------------------------------


def test_a_whole_adapter_passes_with_its_checkpoints_in_order(tmp_path):
    folder = adapter(tmp_path, {**LORA, "iters": 20, "save_every": 10}, TENSORS)
    for it in (20, 10):
        safetensors(folder / f"{it:07d}_adapters.safetensors", TENSORS)
    safetensors(folder / "00010_adapters.safetensors", ["x"])  # not a checkpoint name: ignored
    assert check_adapter(folder) == ([], ["0000010_adapters.safetensors", "0000020_adapters.safetensors"])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "adapter_config.json: missing"),
        ("{not json", "adapter_config.json: invalid JSON: "),
        (
            {"fine_tune_type": "lora", "lora_parameters": {"r": 8, "lora_alpha": 16}},
            "adapter_config.json: lora_parameters must have rank and scale (mlx-lm format), "
            "found {'r': 8, 'lora_alpha': 16}",
        ),
        (
            {"fine_tune_type": "dora", "lora_parameters": {"rank": 0, "scale": 1.0}},
            "adapter_config.json: lora_parameters.rank must be a positive integer, found 0",
        ),
        (
            {"lora_parameters": {"rank": "8", "scale": 1.0}},
            "adapter_config.json: lora_parameters.rank must be a positive integer, found '8'",
        ),
    ],
)
def test_a_bad_adapter_config_is_named(tmp_path, config, message):
    folder = adapter(tmp_path, config, TENSORS)
    problems, _ = check_adapter(folder)
    assert any(
        p.startswith(f"{folder / 'adapter_config.json'}") and message.split(": ", 1)[1] in p for p in problems
    ), problems


def test_full_fine_tuning_needs_no_lora_parameters(tmp_path):
    folder = adapter(tmp_path, {"fine_tune_type": "full"}, TENSORS)
    assert check_adapter(folder) == ([], [])


def test_missing_cut_and_lora_less_weights_are_each_named(tmp_path):
    folder = adapter(tmp_path, LORA)
    assert check_adapter(folder) == ([f"{folder / 'adapters.safetensors'}: missing"], [])
    safetensors(folder / "adapters.safetensors", ["model.embed_tokens.weight"])
    assert check_adapter(folder)[0] == [f"{folder / 'adapters.safetensors'}: no lora_a / lora_b tensors"]
    safetensors(folder / "adapters.safetensors", TENSORS, cut=2)
    (problem,) = check_adapter(folder)[0]
    assert problem.startswith(f"{folder / 'adapters.safetensors'}: truncated or padded")
    safetensors(folder / "adapters.safetensors", TENSORS)
    safetensors(folder / "0000010_adapters.safetensors", TENSORS, cut=4)
    (problem,) = check_adapter(folder)[0]
    assert problem.startswith(f"{folder / '0000010_adapters.safetensors'}: truncated or padded")


def test_checkpoints_a_crashed_run_never_saved_are_listed(tmp_path):
    folder = adapter(tmp_path, {**LORA, "iters": 30, "save_every": 10}, TENSORS)
    safetensors(folder / "0000010_adapters.safetensors", TENSORS)
    problems, found = check_adapter(folder)
    assert found == ["0000010_adapters.safetensors"]
    assert problems == [
        f"{folder}: checkpoints missing for save_every=10, iters=30: "
        "0000020_adapters.safetensors, 0000030_adapters.safetensors"
    ]
    no_saves = adapter(tmp_path / "b", {**LORA, "iters": 30, "save_every": 0}, TENSORS)
    assert check_adapter(no_saves) == ([], [])
    every_step = adapter(tmp_path / "c", {**LORA, "iters": 2, "save_every": 1}, TENSORS)  # the smallest interval
    safetensors(every_step / "0000001_adapters.safetensors", TENSORS)
    assert check_adapter(every_step)[0] == [
        f"{every_step}: checkpoints missing for save_every=1, iters=2: 0000002_adapters.safetensors"
    ]


# -- model directories ---------------------------------------------------------------------


@pytest.fixture
def model_copy(tiny_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model.path, copy)
    return copy


def _edit(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    path.write_text(json.dumps(data))


def test_a_whole_model_passes_and_its_bits_are_held_to_what_was_asked(model_copy):
    assert check_model(model_copy, bits=5, group_size=64) == []
    assert check_model(model_copy, bits=4) == [f"{model_copy / 'config.json'}: quantization bits 5, expected 4"]
    assert check_model(model_copy, group_size=32) == [
        f"{model_copy / 'config.json'}: quantization group_size 64, expected 32"
    ]


def test_a_model_without_eos_or_template_or_with_a_stray_eos_is_named(model_copy):
    config = model_copy / "config.json"
    eos = json.loads(config.read_text())["eos_token_id"]
    _edit(model_copy / "generation_config.json", eos_token_id=12345)
    assert check_model(model_copy) == [
        f"{model_copy / 'generation_config.json'}: eos_token_id 12345 not in config.json's {eos}"
    ]
    _edit(model_copy / "generation_config.json", eos_token_id=None)
    _edit(config, eos_token_id=[])
    assert check_model(model_copy) == [f"{config}: no eos_token_id"]
    _edit(config, eos_token_id=eos)
    (model_copy / "chat_template.jinja").unlink()
    _edit(model_copy / "tokenizer_config.json", chat_template=None)
    assert check_model(model_copy) == [f"{model_copy}: no chat template (chat_template.jinja or tokenizer_config.json)"]
    (model_copy / "config.json").unlink()
    (problem,) = check_model(model_copy)
    assert problem.startswith(str(model_copy)) and "config.json" in problem


def test_the_eos_check_names_each_config_that_misses_the_end_of_turn(model_copy):
    token, eot = eos_token_id(model_copy)
    assert token == "<|im_end|>" and isinstance(eot, int)
    assert check_eos(model_copy) == []
    _edit(model_copy / "config.json", eos_token_id=[0])
    (model_copy / "generation_config.json").unlink()
    (problem,) = check_eos(model_copy, source="the test")
    assert problem.startswith(f"{model_copy / 'config.json'}: eos_token_id is 0 ")
    assert problem.endswith(
        f"not the end-of-turn '<|im_end|>' ({eot}, from the test): generation would run past the end of every answer"
    )
    assert eos_token_id(model_copy, "<|endoftext|>")[0] == "<|endoftext|>"


def test_eos_ids_are_read_from_either_form():
    assert _ids(7) == [7] and _ids([7, "x", 8]) == [7, 8] and _ids(None) == [] and _ids("7") == []


def test_a_template_that_writes_nothing_after_an_answer_has_no_end_of_turn():
    class Plain:
        def apply_chat_template(self, messages, tokenize=False):
            return "".join(m["content"] for m in messages)

        def get_added_vocab(self):
            return {"<|im_end|>": 1}

    class Broken(Plain):
        def apply_chat_template(self, messages, tokenize=False):
            raise ValueError("no template")

    assert end_of_turn(Plain()) is None and end_of_turn(Broken()) is None


# -- expectations ----------------------------------------------------------------------------


def test_later_layers_win_and_each_bound_keeps_its_source():
    expect = expectations(
        ({"min_bits": 6, "max_final_val_loss": 0.5, "not_a_key": 1}, "suite a"),
        ({"min_bits": 8, "eos_token": "<|endoftext|>"}, "registry b"),
        (None, "nothing"),
    )
    assert expect.min_bits == 8 and expect.eos_token == "<|endoftext|>" and expect.loss.max_final_val == 0.5
    assert expect.source("min_bits") == "registry b" and expect.loss.source("max_final_val") == "suite a"
    assert expect.source("low_bits_on_purpose") == "default: the users' own checks"
    assert PipelineExpectations().min_bits == DEFAULT_MIN_BITS == 5


def test_bits_are_held_at_the_bound_unless_low_on_purpose():
    expect = expectations(({"min_bits": 5}, "registry"))
    assert check_bits(5, expect, "m") == [] and check_bits(None, expect, "m") == []
    (problem,) = check_bits(4, expect, "m/config.json")
    assert problem.startswith("m/config.json: quantized to 4 bits, expected at least 5 (registry): ")
    assert check_bits(4, expectations(({"low_bits_on_purpose": True}, "r")), "m") == []


def test_the_planned_iterations_come_from_the_adapters_own_config(tmp_path):
    assert planned_from_adapter(adapter(tmp_path, {**LORA, "iters": 60})) == {"planned_iters": 60}
    for bad in ({**LORA, "iters": 0}, {**LORA, "iters": "60"}, LORA, "{broken"):
        assert planned_from_adapter(adapter(tmp_path, bad)) == {}
    assert planned_from_adapter(tmp_path / "nowhere") == {}


# -- tokenizer preflight -------------------------------------------------------------------------


def test_a_tokenizer_spec_is_read_with_its_lines_and_its_errors_are_located(tmp_path):
    spec = tmp_path / "fam.yaml"
    spec.write_text("family: fam\nsingle_tokens:\n  '<a>': 5\n  '<b>': 6\n")
    assert load_spec(spec) == ("fam", {"<a>": 5, "<b>": 6}, {"<a>": 3, "<b>": 4})
    spec.write_text("single_tokens:\n  '<a>': 5\n")
    assert load_spec(spec)[0] == "fam"  # the file's name when the family is not written
    for text, line, message in (
        ("family: fam\n", 1, "a tokenizer spec needs family and single_tokens"),
        ("family: fam\nsingle_tokens: {}\nextra: 1\n", 3, "unknown key 'extra'"),
        ("family: fam\nsingle_tokens:\n  '<a>': -1\n", 3, "'<a>': the id must be a non-negative integer"),
        ("family: fam\nsingle_tokens:\n  '<a>': true\n", 3, "'<a>': the id must be a non-negative integer"),
    ):
        spec.write_text(text)
        with pytest.raises(SuiteError) as info:
            load_spec(spec)
        assert info.value.line == line and info.value.message.startswith(message)


def test_single_tokens_and_special_positions_against_a_real_tokenizer(tiny_model, tmp_path):
    tok = load_tokenizer(tiny_model.path)
    end = tok.convert_tokens_to_ids("<|im_end|>")
    spec = tmp_path / "tiny.yaml"
    spec.write_text(f"family: tiny\nsingle_tokens:\n  '<|im_end|>': {end}\n  '<|im_start|>': {end}\n")
    (problem,) = check_single_tokens(tok, spec)
    assert problem.startswith(f"{spec}:4: '<|im_start|>' encodes to id ")
    assert problem.endswith(f", expected the single id {end} (tiny)")
    spec.write_text("family: tiny\nsingle_tokens:\n  'no such token here': 3\n")
    (problem,) = check_single_tokens(tok, spec)
    assert " pieces [" in problem
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    specials = ["<|im_start|>", "<|im_end|>"]
    assert check_example_encoding(tok, tok, messages, specials) == []


# -- training logs: each bound at the bound -------------------------------------------------------


def legacy_log(tmp_path: Path, train: list[float], val: list[float] = (), planned: int | None = -1) -> Path:
    """An mlx-lm (legacy format) log: its plan (the iterations it reaches, unless given; None: no plan)
    on line 1, one train line per 10 iterations, validation lines after."""
    planned = 10 * max(len(train), len(val)) if planned == -1 else planned
    rows = [f"Starting training..., iters: {planned}"] if planned else ["a log that states no plan"]
    rows += [f"Iter {10 * (i + 1)}: Train loss {x:.3f}, Learning Rate 1.000e-04" for i, x in enumerate(train)]
    rows += [f"Iter {10 * (i + 1)}: Val loss {x:.3f}, Val took 1.0s" for i, x in enumerate(val)]
    path = tmp_path / "train.log"
    path.write_text("\n".join(rows) + "\n")
    return path


def judged(path: Path, **bounds) -> tuple[list[str], list[str]]:
    from pytest_punie.checks.trainlog import LossExpectations, judge_training_log, parse_training_log

    return judge_training_log(parse_training_log(path), LossExpectations(**bounds))


def test_the_log_format_is_recognised(tmp_path):
    from pytest_punie.checks.trainlog import parse_training_log

    assert parse_training_log(legacy_log(tmp_path, [1.0])).format == "legacy"
    table = tmp_path / "table.log"
    table.write_text("  iter   train_loss\n    10    1.250 \u25bc    150   1.9k\n    10    val 1.100    2.0s\n")
    assert parse_training_log(table).format == "table"


def test_the_train_loss_decrease_holds_at_its_bound(tmp_path):
    assert judged(legacy_log(tmp_path, [1.0, 0.9], [0.5]), min_decrease=0.1)[0] == []
    (problem,) = judged(legacy_log(tmp_path, [1.0, 0.901], [0.5]), min_decrease=0.1)[0]
    assert problem.endswith(
        "train loss fell by less than 0.1 (1.000 at 10 -> 0.901 at 20; bound: default: the users' own checks)"
    )
    assert judged(legacy_log(tmp_path, [1.0], [0.5]), min_decrease=0.1)[0] == []  # one line: no trend to judge


def test_the_final_train_loss_bound_and_the_warning(tmp_path):
    assert judged(legacy_log(tmp_path, [2.0, 1.0], [0.5]), max_final_train=1.0) == ([], [])
    (problem,) = judged(legacy_log(tmp_path, [2.0, 1.001], [0.5]), max_final_train=1.0)[0]
    assert problem == f"{tmp_path / 'train.log'}:3: final train loss 1.001 is above 1 (default: the users' own checks)"
    assert judged(legacy_log(tmp_path, [3.0, 2.0], [0.5]))[1] == []  # at the warning bound: no warning
    (warning,) = judged(legacy_log(tmp_path, [3.0, 2.001], [0.5]))[1]
    assert warning == f"{tmp_path / 'train.log'}:3: final train loss 2.001 is above 2"


def test_validation_must_be_there_fall_and_meet_its_bounds(tmp_path):
    log = tmp_path / "train.log"
    assert judged(legacy_log(tmp_path, [1.0, 0.5])) == (
        [f"{log}: no validation-loss lines: validation was off or the log is cut"],
        [],
    )
    assert judged(legacy_log(tmp_path, [1.0, 0.5], [1.0, 0.5]), max_final_val=0.5) == ([], [])
    (problem,) = judged(legacy_log(tmp_path, [1.0, 0.5], [1.0, 0.501]), max_final_val=0.5)[0]
    assert problem == f"{log}:5: final validation loss 0.501 is above 0.5 (default: the users' own checks)"
    (problem,) = judged(legacy_log(tmp_path, [1.0, 0.5], [1.0, 1.0]))[0]
    assert problem == f"{log}:5: validation loss did not decrease (1.000 -> 1.000)"
    assert judged(legacy_log(tmp_path, [1.0, 0.5], [1.0]))[0] == []  # one validation line: no trend


def test_the_validation_reduction_holds_at_its_bound(tmp_path):
    log = tmp_path / "train.log"
    assert judged(legacy_log(tmp_path, [1.0, 0.5], [1.0, 0.75]), min_val_reduction=0.25)[0] == []
    (problem,) = judged(legacy_log(tmp_path, [1.0, 0.5], [1.0, 0.76]), min_val_reduction=0.25)[0]
    assert (
        problem == f"{log}:5: validation loss fell 24% (1.000 -> 0.760), less than 25% (default: the users' own checks)"
    )
    assert judged(legacy_log(tmp_path, [1.0, 0.5], [0.0, 0.0]), min_val_reduction=0.25)[0] == [
        f"{log}:5: validation loss did not decrease (0.000 -> 0.000)"
    ]  # a first loss of 0: no reduction can be computed, and none is claimed


def test_losses_must_be_finite_and_not_negative(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(
        "Starting training..., iters: 20\n"
        "Iter 10: Train loss 1.000, Learning Rate 1e-4\nIter 20: Train loss 0.000, Learning Rate 1e-4\n"
        "Iter 20: Val loss 0.500, Val took 1.0s\n"
    )
    assert judged(log)[0] == []  # zero is a loss
    log.write_text(
        "Starting training..., iters: 20\n"
        "Iter 10: Train loss 1.000, Learning Rate 1e-4\nIter 20: Train loss nan, Learning Rate 1e-4\n"
        "Iter 20: Val loss 0.500, Val took 1.0s\n"
    )
    problems = judged(log)[0]
    assert problems == [f"{log}:3: loss is nan at iteration 20"]  # no decrease claimed over a nan


def test_the_planned_count_from_the_recipe_applies_only_when_the_log_says_none(tmp_path):
    from pytest_punie.checks.trainlog import LossExpectations, judge_training_log, parse_training_log

    said = parse_training_log(legacy_log(tmp_path, [1.0, 0.5], [1.0, 0.5], planned=20))
    assert judge_training_log(said, LossExpectations(planned_iters=60))[0] == []  # the log's own plan wins
    silent = parse_training_log(legacy_log(tmp_path, [1.0, 0.5], [1.0, 0.5], planned=None))
    (problem,) = judge_training_log(silent, LossExpectations(planned_iters=60))[0]
    assert "60" in problem and "(default: the users' own checks)" in problem  # the recipe's 60, and where from


def test_the_last_iteration_is_the_furthest_any_line_reached(tmp_path):
    from pytest_punie.checks.trainlog import parse_training_log

    assert parse_training_log(legacy_log(tmp_path, [1.0, 0.9], [1.0, 0.8, 0.7])).last_iter == 30
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n")
    assert parse_training_log(empty).last_iter == 0


# -- more of the artifacts, and the tokenizer comparisons -------------------------------------------


def test_rank_one_and_saves_every_iteration_are_whole(tmp_path):
    folder = adapter(tmp_path, {"lora_parameters": {"rank": 1, "scale": 1.0}, "iters": 3, "save_every": 1}, TENSORS)
    for it in (1, 2, 3):
        safetensors(folder / f"{it:07d}_adapters.safetensors", TENSORS)
    assert check_adapter(folder)[0] == []
    assert planned_from_adapter(adapter(tmp_path / "one", {**LORA, "iters": 1})) == {"planned_iters": 1}


def test_missing_weights_are_the_only_problem_said(tmp_path):
    folder = adapter(tmp_path, {**LORA, "iters": 20, "save_every": 10})
    assert check_adapter(folder) == ([f"{folder / 'adapters.safetensors'}: missing"], [])


def test_a_broken_tokenizer_config_means_no_template_there(model_copy):
    (model_copy / "chat_template.jinja").unlink()
    (model_copy / "tokenizer_config.json").write_text("{broken")
    problems = check_model(model_copy)
    assert f"{model_copy}: no chat template (chat_template.jinja or tokenizer_config.json)" in problems


def test_the_end_of_turn_is_the_longest_added_token_the_template_writes():
    class Tok:
        def apply_chat_template(self, messages, tokenize=False):
            return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)

        def get_added_vocab(self):
            return {"<|im": 1, "<|im_end|>": 2, "<|im_start|>": 3}

    assert end_of_turn(Tok()) == "<|im_end|>"


def test_without_an_end_of_turn_the_eos_check_says_so(model_copy, monkeypatch):
    from pytest_punie.checks import eos

    monkeypatch.setattr(eos, "end_of_turn", lambda tok: None)
    assert check_eos(model_copy) == [
        f"{model_copy}: the chat template writes no special token after an assistant turn: no end of turn"
    ]
    assert eos_token_id(model_copy) == (None, None)


class FakeTok:
    """Just enough of a tokenizer for the template comparisons: each word one id, specials included."""

    def __init__(self, template: str = "{role}: {content}\n", split: set[str] | None = None):
        self.template, self.split = template, split or set()
        self.vocab: dict[str, int] = {}

    def _id(self, word: str) -> int:
        return self.vocab.setdefault(word, len(self.vocab))

    def encode(self, text, add_special_tokens=False):
        return [self._id(w) for w in (list(text) if text in self.split else text.split())]

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False, return_dict=False):
        text = "".join(self.template.format(**m) for m in messages) + ("assistant:" if add_generation_prompt else "")
        return self.encode(text) if tokenize else text

    def convert_ids_to_tokens(self, ids):
        names = {v: k for k, v in self.vocab.items()}
        return [names[i] for i in ids]


def test_chat_templates_are_compared_with_the_generation_prompt_and_a_diff():
    from pytest_punie.checks.tokenizerfiles import chat_template_text, check_chat_template

    assert chat_template_text(FakeTok(), "S", "U") == "system: S\nuser: U\nassistant:"
    assert check_chat_template(FakeTok(), FakeTok(), "S", "U") == []
    (problem,) = check_chat_template(FakeTok("[{role}] {content}\n"), FakeTok(), "S", "U")
    assert problem.startswith("chat templates render [system, user] differently:\n--- reference\n+++ candidate\n")
    assert "-system: S" in problem and "+[system] S" in problem


def test_special_tokens_must_sit_where_the_reference_puts_them():
    messages = [{"role": "user", "content": "<a> q <b>"}, {"role": "assistant", "content": "<b> x"}]
    specials = ["<a>", "<b>", "<c>"]
    assert check_example_encoding(FakeTok(), FakeTok(), messages, specials) == []
    (problem,) = check_example_encoding(_Shifted(), FakeTok(), messages, specials)
    assert problem == "special token 0: candidate has '<a>' at position 2, reference '<a>' at 1"
    fewer = FakeTok(split={"<b>"})
    (problem,) = check_example_encoding(fewer, FakeTok(), messages, specials)
    assert problem == "candidate has 1 special tokens in the example, reference 3: missing ['<b>', '<b>']"


class _Shifted(FakeTok):
    """A candidate whose template puts one word before every message."""

    def __init__(self) -> None:
        super().__init__("{role}: extra {content}\n")


def test_each_kind_of_line_alone_tells_the_format(tmp_path):
    from pytest_punie.checks.trainlog import parse_training_log

    cases = {
        "legacy-val": ("Iter 10: Val loss 1.100, Val took 1.0s\n", "legacy"),
        "table-train": ("  iter   train_loss\n    10    1.250 \u25bc    150   1.9k\n", "table"),
        "table-val": ("    10    val 1.100    2.0s\n", "table"),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        assert parse_training_log(tmp_path / name).format == expected, name


def test_a_non_finite_loss_is_said_once_not_read_as_a_trend(tmp_path):
    """A nan or inf loss is its own finding; the decrease, the validation trend and the reduction
    bound are not judged from it (they would say 'fell by less than' or '-inf%')."""
    problems, _ = judged(legacy_log(tmp_path, [float("nan"), 1.0], [1.0, 0.5]), min_decrease=0.1)
    assert [p.split(": ", 1)[1] for p in problems] == ["loss is nan at iteration 10"]
    problems, _ = judged(legacy_log(tmp_path, [1.0, 0.5], [1.0, float("nan")]), min_decrease=0.1)
    assert [p.split(": ", 1)[1] for p in problems] == ["loss is nan at iteration 20"]
    problems, _ = judged(legacy_log(tmp_path, [1.0, 0.5], [1.0, float("inf")]), min_val_reduction=0.1)
    assert [p.split(": ", 1)[1] for p in problems] == ["loss is inf at iteration 20"]


def test_a_crash_shows_its_line_cut_at_200_and_the_last_five_lines_cut_at_160(tmp_path):
    from pytest_punie.checks.trainlog import check_training_log, parse_training_log

    rows = ["Starting training..., iters: 100"]
    rows += [f"Iter {i}: Train loss {2.0 - i / 100:.3f}, Learning Rate 1.000e-04 " + "w" * 200 for i in (10, 20, 30)]
    rows += ["RuntimeError: [METAL] " + "x" * 300]
    log = tmp_path / "train.log"
    log.write_text("\n".join(rows) + "\n")
    (crash,) = [p for p in check_training_log(parse_training_log(log)) if "the run crashed" in p]
    head, shown = crash.split("; last lines:\n    ")
    assert head == f"{log}:5: the run crashed ({rows[4][:200]}); it reached iteration 30 of 100"
    assert shown.split("\n    ") == [f"{n}: {rows[n - 1][:160]}" for n in (1, 2, 3, 4, 5)]
    rows.insert(1, "a sixth line")
    log.write_text("\n".join(rows) + "\n")
    (crash,) = [p for p in check_training_log(parse_training_log(log)) if "the run crashed" in p]
    assert [line.split(": ", 1)[0] for line in crash.split("; last lines:\n    ")[1].split("\n    ")] == [
        "2",
        "3",
        "4",
        "5",
        "6",
    ]


def test_a_token_id_of_zero_is_a_valid_id(tmp_path):
    spec = tmp_path / "family.yaml"
    spec.write_text("family: f\nsingle_tokens:\n  '!': 0\n")
    assert load_spec(spec) == ("f", {"!": 0}, {"!": 3})


@pytest.fixture(scope="module")
def bos_tokenizer(tmp_path_factory):
    """A tokenizer that prepends <s> to whatever it encodes (as Llama's and Mistral's do), with a
    ChatML template: the single-token and position checks must read the token itself, not <s>."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "<s>": 1, "<|im_start|>": 2, "<|im_end|>": 3, "user": 4, "assistant": 5, "q": 6, "a": 7}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    raw.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", unk_token="[UNK]")
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    fast.chat_template = "{% for m in messages %}<|im_start|> {{ m.role }} {{ m.content }} <|im_end|> {% endfor %}"
    out = tmp_path_factory.mktemp("bos") / "tokenizer"
    fast.save_pretrained(str(out))
    return load_tokenizer(out)


def test_single_tokens_and_positions_are_read_without_the_bos_a_tokenizer_adds(bos_tokenizer, tmp_path):
    from pytest_punie.checks.tokenizerfiles import special_positions

    assert bos_tokenizer.encode("<|im_end|>") == [1, 3]  # the tokenizer does prepend <s>
    spec = tmp_path / "bos.yaml"
    spec.write_text("family: bos\nsingle_tokens:\n  '<|im_start|>': 2\n  '<|im_end|>': 3\n")
    assert check_single_tokens(bos_tokenizer, spec) == []
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert special_positions(bos_tokenizer, messages, ["<|im_start|>", "<|im_end|>"]) == [
        (0, "<|im_start|>"),
        (3, "<|im_end|>"),
        (4, "<|im_start|>"),
        (7, "<|im_end|>"),
    ]


def test_a_changed_template_is_shown_as_a_diff_with_one_line_of_context(bos_tokenizer):
    from pytest_punie.checks.tokenizerfiles import check_chat_template

    reference, candidate = (load_tokenizer(Path(bos_tokenizer.name_or_path)) for _ in range(2))
    reference.chat_template = "{% for m in messages %}line1\nline2\n{{ m.role }}\nline4\nline5\n{% endfor %}"
    candidate.chat_template = "{% for m in messages %}line1\nline2\nROLE\nline4\nline5\n{% endfor %}"
    (problem,) = check_chat_template(candidate, reference, "s", "u")
    assert problem.split("\n") == [
        "chat templates render [system, user] differently:",
        "--- reference",
        "+++ candidate",
        "@@ -2,3 +2,3 @@",
        " line2",
        "-system",
        "+ROLE",
        " line4",
        "@@ -7,3 +7,3 @@",
        " line2",
        "-user",
        "+ROLE",
        " line4",
    ]
