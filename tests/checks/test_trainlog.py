"""Training logs in both formats; damaged logs fail with a clear message."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pytest_punie.checks.trainlog import ANSI, check_training_log, parse_training_log

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
    assert any("log ends at iteration 20 of 60: truncated" in p for p in problems)


def test_nan_and_no_decrease(tmp_path):
    bad = TABLE.replace("0.388 \u25bc", "nan \u25b2").replace("0.519", "2.900")
    problems = check_training_log(parse_training_log(write(tmp_path, bad)))
    assert any(re.search(r"train\.log:\d+: loss is nan at iteration 60", p) for p in problems)
    assert any("validation loss did not decrease (2.498 -> 2.900)" in p for p in problems)


def test_final_validation_bound(tmp_path):
    problems = check_training_log(parse_training_log(write(tmp_path, TABLE)), max_final_val=0.5)
    assert any("final validation loss 0.519 is above the bound 0.5" in p for p in problems)


@given(st.lists(st.text(max_size=80), max_size=30))
def test_parser_never_crashes(tmp_path_factory, lines):
    p = tmp_path_factory.mktemp("log") / "train.log"
    p.write_bytes("\n".join(lines).encode("utf-8", "replace"))
    problems = check_training_log(parse_training_log(p))
    assert isinstance(problems, list) and all(isinstance(x, str) and x for x in problems)
