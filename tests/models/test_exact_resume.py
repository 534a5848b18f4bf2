"""A resume continues the run, not a restart of it, across epochs too: a recipe of 5 batches an epoch
(10 examples, batch 2), 14 iterations, a checkpoint every 3 and a validation every 4 (so the
checkpoints do not fall on the validations), trained uninterrupted and, in another folder, killed
twice with SIGKILL of the process group between checkpoints, then finished: the adapter, every
checkpoint and every loss are equal bit for bit, the resumed parts validated only where the
uninterrupted run did. Without the saved state (weights only, mlx-lm's own resume), the same kill
gives another adapter, and the record says what restarted. Real mlx-lm training on the tiny base."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_punie.checks.trainlog import parse_training_log
from pytest_punie.models import resume, steps, trainstate

from ..conftest import ROOT, cache_dir

pytestmark = pytest.mark.slow

PARAMS = {
    "iters": 14,
    "batch_size": 2,
    "learning_rate": 1e-3,
    "num_layers": -1,
    "mask_prompt": True,
    "save_every": 3,
    "steps_per_report": 1,
    "steps_per_eval": 4,
    "val_batches": 2,
    "max_seq_length": 512,
    "seed": 7,
}
TRAIN = """\
import sys
from pathlib import Path
from pytest_punie.models import steps
base, data, dst, partial, params = sys.argv[1:6]
steps.lora(Path(base), Path(data), Path(dst), __import__("json").loads(params), print,
           Path(partial) if partial != "-" else None)
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory, tiny_model) -> tuple[Path, Path]:
    """The tiny 4-bit base this run built, and a data folder of 10 training and 4 validation examples."""
    (base,) = [p for p in (cache_dir() / "q4").iterdir() if (p / "config.json").is_file()][:1]
    data = tmp_path_factory.mktemp("small-data")
    for split, n in (("train", 10), ("valid", 4)):
        lines = (ROOT / "data" / f"{split}.jsonl").read_text().splitlines()[:n]
        (data / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return base, data


def train_killed(base: Path, data: Path, dst: Path, partial: Path | None, at: int) -> None:
    """steps.lora in its own process group, killed (SIGKILL to the group) once iteration ``at``
    is reported; its folder settled as the build cache settles what a killed build left."""
    dst.mkdir()
    args = [str(base), str(data), str(dst), str(partial) if partial else "-", json.dumps(PARAMS)]
    proc = subprocess.Popen(
        [sys.executable, "-c", TRAIN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = []
    trigger = re.compile(rf"^\s+{at}\s+\d")
    for line in proc.stdout:
        seen.append(line)
        if trigger.match(line):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)[-3000:]
    resume.settle(dst)


@pytest.fixture(scope="module")
def uninterrupted(small, tmp_path_factory) -> Path:
    base, data = small
    dst = tmp_path_factory.mktemp("uninterrupted")
    steps.lora(base, data, dst, PARAMS, lambda _line: None)
    return dst


def losses(folder: Path) -> tuple[list, list]:
    log = parse_training_log(folder / "train.log")
    return [(i, loss) for i, loss, _ in log.train], [(i, loss) for i, loss, _ in log.val]


def test_killed_twice_across_epochs_it_continues_bit_for_bit(small, uninterrupted, tmp_path):
    base, data = small
    first, second, final = tmp_path / "first", tmp_path / "second", tmp_path / "final"
    train_killed(base, data, first, None, at=5)  # between checkpoints 3 and 6, at an epoch's end
    train_killed(base, data, second, first, at=11)  # resumed at 3, killed between 9 and 12
    final.mkdir()
    record = steps.lora(base, data, final, PARAMS, lambda _line: None, partial=second)
    assert (record["resumed"]["at"], record["resumed"]["exact"]) == (9, True), record
    assert [(p["from"], p["to"]) for p in record["resumed"]["parts"]] == [(0, 3), (3, 9), (9, 14)]
    assert json.loads((final / "0000012_resume.json").read_text())["optimizer_step"] == 12
    for name in ["adapters.safetensors", *(f"{i:07d}_adapters.safetensors" for i in (3, 6, 9, 12))]:
        assert (final / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    assert losses(final) == losses(uninterrupted)
    train, val = losses(final)
    assert [i for i, _ in train] == list(range(1, 15)) and [i for i, _ in val] == [1, 4, 8, 12, 14]
    assert all(loss > 0 for _, loss in train + val)  # it trained: real losses, not placeholders


def test_without_its_saved_state_a_resume_restarts_and_says_so(small, uninterrupted, tmp_path):
    base, data = small
    first, final = tmp_path / "first", tmp_path / "final"
    train_killed(base, data, first, None, at=8)
    for f in first.glob("*_resume.json"):
        f.unlink()  # a partial from before states were saved: mlx-lm's weights-only resume
    final.mkdir()
    record = steps.lora(base, data, final, PARAMS, lambda _line: None, partial=first)
    resumed = record["resumed"]
    assert (resumed["at"], resumed["exact"], resumed["restored"]) == (6, False, ["adapter weights"])
    assert "optimizer state (moments and step)" in resumed["restarted"]
    assert trainstate.WEIGHTS_ONLY in (final / "train.log").read_text()
    assert (final / "adapters.safetensors").read_bytes() != (uninterrupted / "adapters.safetensors").read_bytes()
    assert (final / "0000006_adapters.safetensors").read_bytes() == (
        uninterrupted / "0000006_adapters.safetensors"
    ).read_bytes()  # the same up to the checkpoint it resumed from
