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

from pytest_punie.models.logformat import (
    ANSI,
    LEGACY_SAVE,
    LEGACY_TRAIN,
    LEGACY_VAL,
    RESUMED,
    TABLE_SAVE,
    TABLE_TRAIN,
    TABLE_VAL,
)

# the planned iteration count, as each source states it
PLANNED = (
    (re.compile(r"--iters\s+(\d+)"), "the command's --iters"),
    (re.compile(r"Starting training\.*,?\s*iters:\s*(\d+)"), "mlx-lm's 'Starting training..., iters: N'"),
    (re.compile(r"batch\s*·\s*iters\s+\d+\s*·\s*([\d,]+)"), "mlx-lm's 'batch · iters' header"),
    (re.compile(r"^\s*train\b.*?(\d+)/(\d+)\s*$"), "mlx-lm's progress bar"),
)
# what a run that died leaves in its log
CRASH = re.compile(
    r"Traceback \(most recent call last\)|^\w*(?:Error|Exception)\b.*:|\[METAL\]|libc\+\+abi|terminate called|"
    r"Segmentation fault|^Killed\b|out of memory",
    re.IGNORECASE,
)


@dataclass
class TrainingLog:
    """What an mlx_lm lora log says: train and val losses with their lines, saves, the planned iterations, crashes."""

    path: str
    format: str  # table | legacy | unknown
    train: list[tuple[int, float, int]] = field(default_factory=list)  # (iteration, loss, line)
    val: list[tuple[int, float, int]] = field(default_factory=list)
    saves: list[str] = field(default_factory=list)
    planned_iters: int | None = None
    planned_source: str = ""
    crash: tuple[int, str] | None = None  # (line, text) of the first sign the run died
    resumed: list[tuple[int, int]] = field(default_factory=list)  # (iteration, line) where a resumed part begins
    tail: list[str] = field(default_factory=list)  # the last lines, for messages

    @property
    def last_iter(self) -> int:
        """The last iteration the log reached, for telling a finished run from a cut one."""
        return max((it for it, _, _ in self.train + self.val), default=0)


@dataclass(frozen=True)
class LossExpectations:
    """Pre-registered bounds on a training run; ``sources`` says where each came from."""

    min_decrease: float = 0.1  # the users' checks.py: the train loss falls by at least 0.1
    warn_final_above: float = 2.0  # the users' checks.py: warn when the final loss is above 2.0
    max_final_train: float | None = None
    max_final_val: float | None = None  # e.g. the Phase 26 plan: final validation loss < 1.0
    min_val_reduction: float | None = None  # e.g. the Phase 26 plan: validation loss down >= 70%
    planned_iters: int | None = None  # from the recipe or the adapter's config, when the log does not say
    sources: tuple[tuple[str, str], ...] = ()

    def source(self, name: str) -> str:
        """Where a loss bound came from, for messages."""
        return dict(self.sources).get(name, "default: the users' own checks")


def parse_training_log(path: Path) -> TrainingLog:
    """Reads both mlx-lm log formats (the table and the legacy lines), each loss with its line."""
    log = TrainingLog(str(path), "unknown")
    offset = 0  # after a resume marker, mlx-lm counts from 1 again: the marker's iteration more
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = ANSI.sub("", raw).rstrip("\n")
            if line.strip():
                log.tail = [*log.tail[-7:], f"{lineno}: {line.strip()[:160]}"]
            if m := RESUMED.match(line):
                offset = int(m.group(1))
                log.resumed.append((offset, lineno))
                log.planned_iters, log.planned_source = int(m.group(2)), "the recipe's iterations (as resumed)"
                continue
            if log.planned_iters is None:
                for pattern, source in PLANNED:
                    if m := pattern.search(line):
                        log.planned_iters = int(m.groups()[-1].replace(",", ""))
                        log.planned_source = source
                        break
            if log.crash is None and CRASH.search(line.strip()):
                log.crash = (lineno, line.strip()[:200])
            if m := LEGACY_VAL.search(line):
                log.format = "legacy"
                log.val.append((int(m.group(1)) + offset, float(m.group(2)), lineno))
            elif m := LEGACY_TRAIN.search(line):
                log.format = "legacy"
                log.train.append((int(m.group(1)) + offset, float(m.group(2)), lineno))
            elif m := LEGACY_SAVE.search(line):
                log.saves.append(Path(m.group(2)).name)
            elif m := TABLE_VAL.match(line):
                log.format = "table"
                log.val.append((int(m.group(1)) + offset, float(m.group(2)), lineno))
            elif m := TABLE_TRAIN.match(line):
                log.format = "table"
                log.train.append((int(m.group(1)) + offset, float(m.group(2)), lineno))
            elif m := TABLE_SAVE.match(line):
                log.saves.append(m.group(1))
    return log


def check_training_log(log: TrainingLog, expect: LossExpectations | None = None) -> list[str]:
    """Problems with a run, as ``path:line: message`` strings."""
    return judge_training_log(log, expect or LossExpectations())[0]


def judge_training_log(log: TrainingLog, expect: LossExpectations) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a run against its expectations."""
    out: list[str] = []
    warn: list[str] = []
    if not log.train:
        none = f"{log.path}: no training-loss lines found (neither the 0.32 table nor 'Iter N: Train loss')"
        return [none, *_completeness(log, expect)], []
    for it, loss, line in log.train + log.val:
        if not math.isfinite(loss):
            out.append(f"{log.path}:{line}: loss is {loss} at iteration {it}")
        elif loss < 0:
            out.append(f"{log.path}:{line}: loss is negative ({loss}) at iteration {it}: not a cross-entropy")
    out += _completeness(log, expect)
    first, last = log.train[0], log.train[-1]
    finite = math.isfinite(first[1]) and math.isfinite(last[1])
    if len(log.train) > 1 and finite and not first[1] - last[1] >= expect.min_decrease - 1e-12:
        change = f"{first[1]:.3f} at {first[0]} -> {last[1]:.3f} at {last[0]}"
        out.append(
            f"{log.path}:{last[2]}: train loss fell by less than {expect.min_decrease:g} ({change}; "
            f"bound: {expect.source('min_decrease')})"
        )
    if expect.max_final_train is not None and finite and not last[1] <= expect.max_final_train:
        out.append(
            f"{log.path}:{last[2]}: final train loss {last[1]:.3f} is above {expect.max_final_train:g} "
            f"({expect.source('max_final_train')})"
        )
    if finite and last[1] > expect.warn_final_above:
        warn.append(f"{log.path}:{last[2]}: final train loss {last[1]:.3f} is above {expect.warn_final_above:g}")
    if not log.val:
        out.append(f"{log.path}: no validation-loss lines: validation was off or the log is cut")
        return out, warn
    v0, vn = log.val[0], log.val[-1]
    if expect.max_final_val is not None and not vn[1] <= expect.max_final_val:
        out.append(
            f"{log.path}:{vn[2]}: final validation loss {vn[1]:.3f} is above {expect.max_final_val:g} "
            f"({expect.source('max_final_val')})"
        )
    if len(log.val) > 1 and math.isfinite(vn[1]) and not vn[1] < v0[1]:
        out.append(f"{log.path}:{vn[2]}: validation loss did not decrease ({v0[1]:.3f} -> {vn[1]:.3f})")
    if expect.min_val_reduction is not None and v0[1] > 0 and math.isfinite(vn[1]):
        reduction = (v0[1] - vn[1]) / v0[1]
        if reduction < expect.min_val_reduction - 1e-12:
            out.append(
                f"{log.path}:{vn[2]}: validation loss fell {reduction:.0%} ({v0[1]:.3f} -> {vn[1]:.3f}), "
                f"less than {expect.min_val_reduction:.0%} ({expect.source('min_val_reduction')})"
            )
    return out, warn


def _completeness(log: TrainingLog, expect: LossExpectations) -> list[str]:
    """Did the run reach its planned iteration count, without dying on the way?"""
    planned, source = log.planned_iters, log.planned_source
    if planned is None and expect.planned_iters is not None:
        planned, source = expect.planned_iters, expect.source("planned_iters")
    tail = "\n    ".join(log.tail[-5:])
    out = []
    if log.crash is not None:
        line, text = log.crash
        reached = f"iteration {log.last_iter}" + (f" of {planned}" if planned else "")
        out.append(f"{log.path}:{line}: the run crashed ({text}); it reached {reached}; last lines:\n    {tail}")
    elif planned is not None and log.last_iter < planned:
        out.append(
            f"{log.path}: log ends at iteration {log.last_iter} of {planned} planned ({source}): "
            f"the run stopped early or was cut off; last lines:\n    {tail}"
        )
    elif planned is None:
        out.append(f"{log.path}: the planned iteration count is nowhere (log, adapter config, recipe): cannot tell")
    return out
