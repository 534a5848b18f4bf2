"""The lines of an mlx-lm training log, in both formats users have: the 0.32
table (with ANSI colours even when piped) and the older ``Iter N: ...`` lines.
Read by the training-log check and shown live while the adapter trains."""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NUM = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|NaN|inf|Inf|-inf))"
TABLE_TRAIN = re.compile(rf"^\s*(\d+)\s+{_NUM}\s*[▼▲=•·-]?\s+\d[\d.,]*\s+\S+\s*$")
TABLE_VAL = re.compile(rf"^\s*(\d+)\s+val\s+{_NUM}\s+\S+\s*$")
TABLE_SAVE = re.compile(r"^\s*save\s+(\S+)\s*$")
# pytest-punie's training child (models.lorarun), after a checkpoint's training state is saved: a
# resume from that checkpoint continues the run exactly (its number is the true iteration)
STATE_SAVE = re.compile(r"^\s*state\s+(\d{7})_resume\.json\s*$")
LEGACY_TRAIN = re.compile(rf"Iter (\d+): Train loss {_NUM}")
LEGACY_VAL = re.compile(rf"Iter (\d+): Val loss {_NUM}")
LEGACY_SAVE = re.compile(r"Iter (\d+): Saved adapter weights to .*? and (\S+?)\.?$")
# pytest-punie's line where a resumed run's part of the log begins (models.resume): below it,
# mlx-lm counts iterations from 1 again, so each is the marker's N more
RESUMED = re.compile(r"^\[punie\] resumed at iteration (\d+) of (\d+)\b")


def is_progress_line(line: str) -> bool:
    """An iteration, loss or checkpoint line (either format)."""
    plain = ANSI.sub("", line).rstrip()
    return bool(
        "train_loss" in plain
        or TABLE_TRAIN.match(plain)
        or TABLE_VAL.match(plain)
        or TABLE_SAVE.match(plain)
        or STATE_SAVE.match(plain)
        or LEGACY_TRAIN.search(plain)
        or LEGACY_VAL.search(plain)
    )
