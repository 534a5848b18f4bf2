"""Training logs in both formats; damaged logs fail with a clear message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.checks.trainlog import (
    ANSI,
    LossExpectations,
    check_training_log,
    judge_training_log,
    parse_training_log,
)

TABLE = """$ python -m mlx_lm lora --train --model base --iters 60 --steps-per-report 10
Trainable parameters: 4.238% (0.039M/0.918M)
  \x1b[1miter   train_loss     tok/s     tokens\x1b[0m
  \x1b[38;5;244m   1\x1b[0m    \x1b[1;35mval\x1b[0m \x1b[1m2.498\x1b[0m    \x1b[38;5;244m2.22s\x1b[0m
  \x1b[38;5;244m  10\x1b[0m    \x1b[1;32m1.258 \u25bc\x1b[0m    \x1b[1m  158\x1b[0m    \x1b[38;5;244m  1.9k\x1b[0m
  \x1b[38;5;244m  20\x1b[0m    \x1b[1;35mval\x1b[0m \x1b[1m0.902\x1b[0m    \x1b[38;5;244m2.06s\x1b[0m
  \x1b[38;5;244m  20\x1b[0m    \x1b[1;32m1.153 \u25bc\x1b[0m    \x1b[1m  275\x1b[0m    \x1b[38;5;244m  3.8k\x1b[0m
  \x1b[1;32msave\x1b[0m  \x1b[38;5;244m0000020_adapters.safetensors\x1b[0m
  \x1b[38;5;244m  30\x1b[0m    \x1b[1;33m1.234 \u25b2\x1b[0m    \x1b[1m  302\x1b[0m    \x1b[38;5;244m  5.6k\x1b[0m
  \x1b[38;5;244m  40\x1b[0m    \x1b[1;35mval\x1b[0m \x1b[1m0.654\x1b[0m    \x1b[38;5;244m1.89s\x1b[0m
  \x1b[38;5;244m  40\x1b[0m    \x1b[1;32m0.896 \u25bc\x1b[0m    \x1b[1m  286\x1b[0m    \x1b[38;5;244m  7.4k\x1b[0m
  \x1b[38;5;244m  60\x1b[0m    \x1b[1;35mval\x1b[0m \x1b[1m0.519\x1b[0m    \x1b[38;5;244m1.91s\x1b[0m
  \x1b[38;5;244m  60\x1b[0m    \x1b[1;32m0.388 \u25bc\x1b[0m    \x1b[1m  392\x1b[0m    \x1b[38;5;244m 18.5k\x1b[0m
  \x1b[1;32msave\x1b[0m  \x1b[38;5;244m0000060_adapters.safetensors\x1b[0m
"""


def to_legacy(table: str) -> str:
    """The same run as older mlx-lm printed it: train and val on separate lines."""
    out = []
    for line in ANSI.sub("", table).splitlines():
        if m := re.match(r"^\s*(\d+)\s+val\s+(\S+)\s+(\S+)s", line):
            out.append(f"Iter {m[1]}: Val loss {m[2]}, Val took {m[3]}s")
        elif m := re.match(r"^\s*(\d+)\s+(\S+)\s+\S\s+(\d+)\s+(\S+)", line):
            out.append(
                f"Iter {m[1]}: Train loss {m[2]}, Learning Rate 1.000e-03, It/sec 0.4, Tokens/sec {m[3]}, "
                f"Trained Tokens 1900, Peak mem 0.5 GB"
            )
        elif m := re.match(r"^\s*save\s+(\S+)", line):
            it = int(m[1][:7])
            out.append(f"Iter {it}: Saved adapter weights to adapters/adapters.safetensors and adapters/{m[1]}.")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "train.log"
    p.write_text(text)
    return p


def test_table_format_with_colour_codes(tmp_path):
    log = parse_training_log(write(tmp_path, TABLE))
    assert log.format == "table" and log.planned_iters == 60
    assert [(i, v) for i, v, _ in log.train] == [(10, 1.258), (20, 1.153), (30, 1.234), (40, 0.896), (60, 0.388)]
    assert [(i, v) for i, v, _ in log.val] == [(1, 2.498), (20, 0.902), (40, 0.654), (60, 0.519)]
    assert log.saves == ["0000020_adapters.safetensors", "0000060_adapters.safetensors"]
    assert check_training_log(log) == []


def test_legacy_format_keeps_every_validation_line(tmp_path):
    table = parse_training_log(write(tmp_path, TABLE))
    legacy = parse_training_log(write(tmp_path, to_legacy(TABLE)))
    assert legacy.format == "legacy"
    assert [x[:2] for x in legacy.train] == [x[:2] for x in table.train]
    assert [x[:2] for x in legacy.val] == [x[:2] for x in table.val]  # the old parser dropped these
    assert legacy.saves == table.saves
    assert check_training_log(legacy) == []


def test_truncated_log(tmp_path):
    cut = "\n".join(TABLE.splitlines()[:8]) + "\n"
    problems = check_training_log(parse_training_log(write(tmp_path, cut)))
    assert any(
        "log ends at iteration 20 of 60 planned (the command's --iters): the run stopped early" in p for p in problems
    )


def test_nan_and_no_decrease(tmp_path):
    bad = TABLE.replace("0.388 \u25bc", "nan \u25b2").replace("0.519", "2.900")
    problems = check_training_log(parse_training_log(write(tmp_path, bad)))
    assert any(re.search(r"train\.log:\d+: loss is nan at iteration 60", p) for p in problems)
    assert any("validation loss did not decrease (2.498 -> 2.900)" in p for p in problems)


def test_final_validation_bound(tmp_path):
    expect = LossExpectations(max_final_val=0.5, sources=(("max_final_val", "the Phase 26 plan"),))
    problems = check_training_log(parse_training_log(write(tmp_path, TABLE)), expect)
    assert any("final validation loss 0.519 is above 0.5 (the Phase 26 plan)" in p for p in problems)


# -- what real runs that died look like ------------------------------------------------
LEGACY_500 = """Loading pretrained model
Loading datasets
Training
Trainable parameters: 0.074% (22.938M/30532.123M)
Starting training..., iters: 500
Iter 1: Val loss 2.498, Val took 12.1s
Iter 10: Train loss 2.201, Learning Rate 1.000e-04, It/sec 0.4, Tokens/sec 158, Trained Tokens 1900, Peak mem 18 GB
Iter 50: Val loss 1.102, Val took 11.0s
Iter 50: Train loss 1.153, Learning Rate 1.000e-04, It/sec 0.4, Tokens/sec 275, Trained Tokens 9500, Peak mem 18 GB
Iter 70: Train loss 0.996, Learning Rate 1.000e-04, It/sec 0.4, Tokens/sec 275, Trained Tokens 9500, Peak mem 19 GB
"""
OOM = """libc++abi: terminating due to uncaught exception of type std::runtime_error: [METAL] Command buffer execution
 failed: Insufficient Memory (00000008:kIOGPUCommandBufferCallbackErrorOutOfMemory)
"""


def test_the_planned_count_comes_from_mlx_lm_itself_not_only_an_echoed_flag(tmp_path):
    """Real logs have no echoed --iters; mlx-lm prints 'Starting training..., iters: 500'."""
    log = parse_training_log(write(tmp_path, LEGACY_500))
    assert (log.planned_iters, log.planned_source) == (500, "mlx-lm's 'Starting training..., iters: N'")
    problems = check_training_log(log)
    assert any(
        "log ends at iteration 70 of 500 planned (mlx-lm's 'Starting training..., iters: N')" in p for p in problems
    )
    assert any("Iter 70: Train loss 0.996" in p for p in problems)  # the last lines are shown


def test_a_crash_is_named_with_the_iteration_reached(tmp_path):
    problems = check_training_log(parse_training_log(write(tmp_path, LEGACY_500 + OOM)))
    crash = [p for p in problems if "the run crashed" in p]
    assert (
        len(crash) == 1 and "[METAL] Command buffer execution" in crash[0] and "reached iteration 70 of 500" in crash[0]
    )


def test_the_032_header_and_progress_bar_state_the_plan(tmp_path):
    header = "│    batch · iters   4 · 1,000                    │\n"
    log = parse_training_log(write(tmp_path, header + ANSI.sub("", TABLE).replace("--iters 60", "")))
    assert (log.planned_iters, log.planned_source) == (1000, "mlx-lm's 'batch · iters' header")
    bar = "train ██████████████████████████████ 100% ·    60/60\n"
    log = parse_training_log(write(tmp_path, ANSI.sub("", TABLE).replace("--iters 60", "") + bar))
    assert (log.planned_iters, log.last_iter) == (60, 60) and check_training_log(log) == []


@pytest.mark.parametrize("cut", [4, 6, 9, 11])
def test_both_formats_cut_anywhere_fail_the_same_way(tmp_path, cut):
    lines = TABLE.splitlines()[:cut]
    for text in ("\n".join(lines) + "\n", to_legacy("\n".join(lines) + "\n")):
        log = parse_training_log(write(tmp_path, text))
        problems = check_training_log(log)
        assert any(f"log ends at iteration {log.last_iter} of 60 planned" in p for p in problems), problems


def test_the_planned_count_can_come_from_the_recipe(tmp_path):
    text = ANSI.sub("", TABLE).replace("--iters 60", "")
    cut = "\n".join(text.splitlines()[:8]) + "\n"
    log = parse_training_log(write(tmp_path, cut))
    assert log.planned_iters is None
    unknown = check_training_log(log)
    assert any("the planned iteration count is nowhere" in p for p in unknown)
    known = check_training_log(log, LossExpectations(planned_iters=60, sources=(("planned_iters", "the recipe"),)))
    assert any("log ends at iteration 20 of 60 planned (the recipe)" in p for p in known)


def test_loss_bounds_are_the_users_own(tmp_path):
    small = TABLE.replace("0.388 \u25bc", "1.200 \u25bc")  # fell 1.258 -> 1.200: less than 0.1
    problems, warnings = judge_training_log(parse_training_log(write(tmp_path, small)), LossExpectations())
    assert any("train loss fell by less than 0.1 (1.258 at 10 -> 1.200 at 60" in p for p in problems)
    assert warnings == []
    high = TABLE.replace("1.258 \u25bc", "3.500 \u25bc").replace("0.388 \u25bc", "2.300 \u25bc")
    problems, warnings = judge_training_log(parse_training_log(write(tmp_path, high)), LossExpectations())
    assert problems == [] and any("final train loss 2.300 is above 2" in w for w in warnings)


def test_negative_losses_and_reduction_bounds_fail(tmp_path):
    neg = TABLE.replace("0.896 \u25bc", "-0.100 \u25bc")
    assert any(
        "loss is negative (-0.1) at iteration 40" in p
        for p in check_training_log(parse_training_log(write(tmp_path, neg)))
    )
    plan = LossExpectations(min_val_reduction=0.9, sources=(("min_val_reduction", "the Phase 26 plan"),))
    problems = check_training_log(parse_training_log(write(tmp_path, TABLE)), plan)
    assert any("validation loss fell 79% (2.498 -> 0.519), less than 90% (the Phase 26 plan)" in p for p in problems)


@given(st.lists(st.text(max_size=80), max_size=30))
def test_parser_never_crashes(tmp_path_factory, lines):
    p = tmp_path_factory.mktemp("log") / "train.log"
    p.write_bytes("\n".join(lines).encode("utf-8", "replace"))
    problems = check_training_log(parse_training_log(p))
    assert isinstance(problems, list) and all(isinstance(x, str) and x for x in problems)


def test_the_lines_shown_live_while_an_adapter_trains(tmp_path):
    """mlx_lm lora's iteration, loss and checkpoint rows (either format) are shown as
    they come; the rest of its output stays in train.log."""
    from pytest_punie.models.logformat import is_progress_line

    shown = [line for line in TABLE.splitlines() if is_progress_line(line)]
    assert len(shown) == 12  # the header, 5 train rows, 4 val rows, 2 saves
    assert not is_progress_line("Trainable parameters: 4.238% (0.039M/0.918M)")
    legacy = [line for line in to_legacy(TABLE).splitlines() if is_progress_line(line)]
    assert len(legacy) == 10  # the header this test keeps, 5 train and 4 val lines
