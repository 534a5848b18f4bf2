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
from pytest_punie.checks.tokenizer import check_example_encoding, check_single_tokens, load_spec, load_tokenizer
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
