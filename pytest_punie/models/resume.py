"""Training that resumes: what an interrupted ``mlx_lm lora`` left, and where the next run starts.

A build of an adapter that is stopped (SIGTERM, an OOM kill of the training child, a power cut)
leaves its folder behind; the cache keeps it as the adapter's *partial* (``partial/adapter-KEY``),
in one layout whatever was interrupted: checkpoints under their true iteration numbers, the
adapter config of the first run, and one training log. The next build of the same inputs resumes
from the last *whole* checkpoint (its safetensors header parses and the file is as long as the
header says: a checkpoint cut while it was written is never resumed from; the one before it is)
with mlx-lm's own ``--resume-adapter-file``, for the iterations left only.

mlx-lm's ``--resume-adapter-file`` loads the weights only. The training child (``lorarun``) saves
the rest beside each checkpoint (``trainstate``: the optimizer's state, the batch order, the random
state) and restores it, so a resumed adapter is the uninterrupted one. A checkpoint with its whole
state is preferred to a later one without (killed between the two writes); where none has one, the
resume loads the weights only and says the optimizer state and batch order restarted. The log says
what was restored where the resumed part begins (``RESUMED`` below), the adapter's build record
says "resumed at iteration N of M" with the same, and the run's provenance carries it.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from pytest_punie.models import trainstate
from pytest_punie.models.logformat import ANSI, LEGACY_SAVE, RESUMED, STATE_SAVE, TABLE_SAVE

CHECKPOINT = re.compile(r"^(\d{7})_adapters\.safetensors$")
STATE_FILE = re.compile(r"^\d{7}_(resume\.json|optimizer\.safetensors)$")
RESUMED_RUN = "_resumed"  # where the resumed run writes (its own checkpoints count from 1)
RESUME_RECORD = "resume.json"  # in a build folder that resumed: where it started from


def marker(at: int, of: int, checkpoint: str, what: str) -> str:
    """The log line where a resumed run's part begins; iterations below it count from ``at``."""
    return f"[punie] resumed at iteration {at} of {of} from {checkpoint}: {what}\n"


_LEADING_ITER = re.compile(r"^(\s*)(\d+)(?=\s)")
_CHECKPOINT_NAME = re.compile(r"(\d{7})(_adapters\.safetensors)")


def shown(line: str, at: int) -> str:
    """A resumed run's progress line as a person reads it: its iteration and checkpoint numbers
    counted from the start of training (mlx-lm counts the resumed part from 1); the log keeps mlx-lm's."""
    plain = _LEADING_ITER.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + at}", line, count=1)
    return _CHECKPOINT_NAME.sub(lambda m: f"{int(m.group(1)) + at:07d}{m.group(2)}", plain)


def whole_safetensors(path: Path) -> bool:
    """Whether a safetensors file is complete: its header parses and the file is exactly as long
    as the header's tensors say (a file cut while being written is shorter)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                return False
            (size,) = struct.unpack("<Q", head)
            if size <= 0 or size > 100_000_000:
                return False
            header = json.loads(fh.read(size))
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
        return bool(ends) and path.stat().st_size == 8 + size + max(ends)
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error):
        return False


@dataclass(frozen=True)
class Checkpoint:
    """One saved checkpoint of a training run, at its true iteration."""

    iteration: int
    path: Path
    state: Path | None = None
    """The training state saved with it (``trainstate``), when whole: a resume from it continues exactly."""


def whole_checkpoints(folder: Path) -> list[Checkpoint]:
    """The folder's checkpoints that are whole, by iteration."""
    found = []
    for f in folder.glob("*_adapters.safetensors") if folder.is_dir() else ():
        m = CHECKPOINT.match(f.name)
        if m and whole_safetensors(f):
            at = int(m.group(1))
            found.append(Checkpoint(at, f, whole_state(folder, at)))
    return sorted(found, key=lambda c: c.iteration)


def whole_state(folder: Path, iteration: int) -> Path | None:
    """The training state saved with the checkpoint at ``iteration``, when its record and its
    optimizer file are both whole."""
    record = trainstate.record_at(folder, iteration)
    if record is None or not whole_safetensors(folder / str(trainstate.load(record).get("optimizer", ""))):
        return None
    return record


def continues_exactly(checkpoint: Checkpoint) -> bool:
    """Whether a resume from this checkpoint continues the run exactly: its whole state was saved and
    no gradient was half accumulated there."""
    if checkpoint.state is None:
        return False
    steps = int(trainstate.load(checkpoint.state).get("grad_accumulation_steps") or 1)
    return checkpoint.iteration % steps == 0


def start_of(partial: Path, planned: int) -> Checkpoint | None:
    """The checkpoint a build of ``planned`` iterations resumes from: the last whole one before the end
    that continues exactly, else the last whole one (weights only); None: train from iteration 1."""
    usable = [c for c in whole_checkpoints(partial) if 0 < c.iteration < planned]
    if not usable or not (partial / "adapter_config.json").is_file() or not (partial / "train.log").is_file():
        return None
    exact = [c for c in usable if continues_exactly(c)]
    return exact[-1] if exact else usable[-1]


def log_until(log: Path, iteration: int) -> list[str]:
    """The log's lines up to the save of the checkpoint at ``iteration`` (the lines after it are
    iterations whose work was lost, a traceback of the stop perhaps): what the resumed log keeps.
    Without that save line, up to the first line of a later iteration."""
    from pytest_punie.models.logformat import LEGACY_TRAIN, LEGACY_VAL, TABLE_TRAIN, TABLE_VAL

    lines = log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    offset = 0
    later: int | None = None  # the first line of an iteration past the checkpoint
    for i, raw in enumerate(lines):
        line = ANSI.sub("", raw).rstrip("\n")
        if m := RESUMED.match(line):
            offset = int(m.group(1))
            continue
        name = None
        if m := TABLE_SAVE.match(line):
            name = m.group(1)
        elif m := LEGACY_SAVE.search(line):
            name = Path(m.group(2)).name
        saved = CHECKPOINT.match(Path(name).name) if name else None
        if saved and int(saved.group(1)) + offset == iteration:
            after = ANSI.sub("", lines[i + 1]) if i + 1 < len(lines) else ""
            state = STATE_SAVE.match(after)
            return lines[: i + 2] if state and int(state.group(1)) == iteration else lines[: i + 1]
        step = TABLE_TRAIN.match(line) or TABLE_VAL.match(line) or LEGACY_TRAIN.search(line) or LEGACY_VAL.search(line)
        if step and int(step.group(1)) + offset > iteration and later is None:
            later = i
    return lines[:later] if later is not None else lines


def settle(folder: Path) -> bool:
    """Bring an interrupted build folder into the partial layout: a resumed run's own checkpoints
    under their true iteration numbers, its log appended after the marker. True when the folder
    holds a whole checkpoint to resume from."""
    record = folder / RESUME_RECORD
    inner = folder / RESUMED_RUN
    if record.is_file() and inner.is_dir():
        started = json.loads(record.read_text(encoding="utf-8"))
        at = int(started["at"])
        for c in whole_checkpoints(inner):
            shutil.move(str(c.path), folder / f"{c.iteration + at:07d}_adapters.safetensors")
        for f in inner.iterdir():  # the training states: the child names them by their true iterations
            if STATE_FILE.match(f.name):
                shutil.move(str(f), folder / f.name)
        weights = inner / "adapters.safetensors"
        if whole_safetensors(weights):  # the resumed run's latest (its final, when it finished)
            shutil.move(str(weights), folder / "adapters.safetensors")
        log = inner / "train.log"
        if log.is_file():
            with open(folder / "train.log", "a", encoding="utf-8") as out:
                out.write(log.read_text(encoding="utf-8", errors="replace"))
        shutil.rmtree(inner, ignore_errors=True)
        record.unlink()
    return bool(whole_checkpoints(folder))


def later_than(candidate: Path, kept: Path) -> bool:
    """Whether ``candidate`` holds a later whole checkpoint than the partial already kept."""
    mine = whole_checkpoints(candidate)
    theirs = whole_checkpoints(kept)
    return bool(mine) and (not theirs or mine[-1].iteration > theirs[-1].iteration)
