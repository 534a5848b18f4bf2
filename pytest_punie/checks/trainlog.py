"""mlx-lm training logs, in both formats users have.

0.32 prints a table (with ANSI colours even when piped)::

      10    1.258 ▼      158      1.9k
      25    val 0.902    2.06s
    save  0000025_adapters.safetensors

older versions print ``Iter N: Train loss X, ...`` and, on separate lines,
``Iter N: Val loss X, Val took Ys`` (a legacy parser that wanted both on
one line silently dropped every validation line).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NUM = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|NaN|inf|Inf|-inf))"
TABLE_TRAIN = re.compile(rf"^\s*(\d+)\s+{_NUM}\s*[▼▲=•·-]?\s+\d[\d.,]*\s+\S+\s*$")
TABLE_VAL = re.compile(rf"^\s*(\d+)\s+val\s+{_NUM}\s+\S+\s*$")
TABLE_SAVE = re.compile(r"^\s*save\s+(\S+)\s*$")
LEGACY_TRAIN = re.compile(rf"Iter (\d+): Train loss {_NUM}")
LEGACY_VAL = re.compile(rf"Iter (\d+): Val loss {_NUM}")
LEGACY_SAVE = re.compile(r"Iter (\d+): Saved adapter weights to .*? and (\S+?)\.?$")
ITERS_FLAG = re.compile(r"--iters\s+(\d+)")


@dataclass
class TrainingLog:
    path: str
    format: str  # table | legacy | unknown
    train: list[tuple[int, float, int]] = field(default_factory=list)  # (iteration, loss, line)
    val: list[tuple[int, float, int]] = field(default_factory=list)
    saves: list[str] = field(default_factory=list)
    planned_iters: int | None = None


def parse_training_log(path: Path) -> TrainingLog:
    log = TrainingLog(str(path), "unknown")
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = ANSI.sub("", raw).rstrip("\n")
            if log.planned_iters is None and (m := ITERS_FLAG.search(line)):
                log.planned_iters = int(m.group(1))
            if m := LEGACY_VAL.search(line):
                log.format = "legacy"
                log.val.append((int(m.group(1)), float(m.group(2)), lineno))
            elif m := LEGACY_TRAIN.search(line):
                log.format = "legacy"
                log.train.append((int(m.group(1)), float(m.group(2)), lineno))
            elif m := LEGACY_SAVE.search(line):
                log.saves.append(Path(m.group(2)).name)
            elif m := TABLE_VAL.match(line):
                log.format = "table"
                log.val.append((int(m.group(1)), float(m.group(2)), lineno))
            elif m := TABLE_TRAIN.match(line):
                log.format = "table"
                log.train.append((int(m.group(1)), float(m.group(2)), lineno))
            elif m := TABLE_SAVE.match(line):
                log.saves.append(m.group(1))
    return log


def check_training_log(log: TrainingLog, max_final_val: float | None = None) -> list[str]:
    """Problems with a run, as ``path:line: message`` strings."""
    out: list[str] = []
    if not log.train:
        return [f"{log.path}: no training-loss lines found (neither the 0.32 table nor 'Iter N: Train loss')"]
    for it, loss, line in log.train + log.val:
        if not math.isfinite(loss):
            out.append(f"{log.path}:{line}: loss is {loss} at iteration {it}")
    first, last = log.train[0], log.train[-1]
    if len(log.train) > 1 and math.isfinite(first[1]) and math.isfinite(last[1]) and not last[1] < first[1]:
        change = f"{first[1]:.3f} at {first[0]} -> {last[1]:.3f} at {last[0]}"
        out.append(f"{log.path}:{last[2]}: train loss did not decrease ({change})")
    if not log.val:
        out.append(f"{log.path}: no validation-loss lines: validation was off or the log is cut")
    else:
        v0, vn = log.val[0], log.val[-1]
        if max_final_val is not None and not vn[1] <= max_final_val:
            out.append(f"{log.path}:{vn[2]}: final validation loss {vn[1]:.3f} is above the bound {max_final_val}")
        if len(log.val) > 1 and math.isfinite(vn[1]) and not vn[1] < v0[1]:
            out.append(f"{log.path}:{vn[2]}: validation loss did not decrease ({v0[1]:.3f} -> {vn[1]:.3f})")
    last_iter = max(it for it, _, _ in log.train + log.val)
    if log.planned_iters is not None and last_iter < log.planned_iters:
        out.append(f"{log.path}: log ends at iteration {last_iter} of {log.planned_iters}: truncated or interrupted")
    return out
