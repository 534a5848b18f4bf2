"""What a resumed training run starts from: only whole checkpoints (a file cut while being written
is never resumed from), the last one before the planned end; a resumed build folder settles into
true iteration numbers; the log keeps what was trained up to the checkpoint, and the training-log
check reads the resumed part after the marker counted from there."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_punie.checks.trainlog import LossExpectations, judge_training_log, parse_training_log
from pytest_punie.models import resume, trainstate


def safetensors(path: Path, tensors: int = 3, width: int = 16) -> Path:
    """A small safetensors file written the way the format says (header length, JSON header, data)."""
    header: dict[str, object] = {}
    offset = 0
    for i in range(tensors):
        header[f"model.layers.{i}.lora_a"] = {
            "dtype": "F32",
            "shape": [width // 4],
            "data_offsets": [offset, offset + width],
        }
        offset += width
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + bytes(offset))
    return path


def test_a_whole_checkpoint_is_whole_and_mlx_s_own_file_is_too(tmp_path):
    import mlx.core as mx

    assert resume.whole_safetensors(safetensors(tmp_path / "a.safetensors"))
    mx.save_safetensors(str(tmp_path / "b.safetensors"), {"w": mx.ones((3, 5)), "v": mx.zeros((7,))})
    assert resume.whole_safetensors(tmp_path / "b.safetensors")


@settings(max_examples=60)
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_a_checkpoint_cut_anywhere_while_written_is_not_whole(tmp_path_factory, cut):
    folder = tmp_path_factory.mktemp("cut")
    whole = safetensors(folder / "w.safetensors").read_bytes()
    cut %= len(whole)
    (folder / "c.safetensors").write_bytes(whole[:cut])
    assert not resume.whole_safetensors(folder / "c.safetensors")


def test_the_start_is_the_last_whole_checkpoint_before_the_end(tmp_path):
    for it in (4, 8, 12):
        safetensors(tmp_path / f"{it:07d}_adapters.safetensors")
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "train.log").write_text("")
    assert resume.start_of(tmp_path, 16).iteration == 12
    cut = tmp_path / "0000012_adapters.safetensors"
    cut.write_bytes(cut.read_bytes()[:-5])  # killed while writing it
    assert resume.start_of(tmp_path, 16).iteration == 8
    assert resume.start_of(tmp_path, 8).iteration == 4  # a checkpoint at the end is not a start
    (tmp_path / "adapter_config.json").unlink()
    assert resume.start_of(tmp_path, 16) is None  # nothing to say how it was trained: from scratch


TABLE_LOG = """$ python -m mlx_lm lora --train --iters 16
  iter   train_loss     tok/s     tokens
     1    val 0.551    2.87s
     4    0.228 \u25bc      228      0.8k
  save  0000004_adapters.safetensors
     8    val 0.362    2.52s
     8    0.258 \u25b2      218      1.7k
  save  0000008_adapters.safetensors
    10    0.300 \u25bc      200      2.0k
Traceback (most recent call last):
KeyboardInterrupt
"""

RESUMED_PART = """$ python -m mlx_lm lora --train --iters 8 --resume-adapter-file x
  iter   train_loss     tok/s     tokens
     1    val 0.353    2.88s
     4    0.157 \u25bc      218      0.8k
  save  0000004_adapters.safetensors
     8    val 0.300    2.70s
     8    0.150 \u25bc      212      1.7k
  save  0000008_adapters.safetensors
"""


def test_the_kept_log_ends_at_the_checkpoint_and_the_check_reads_the_resumed_part_after_it(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(TABLE_LOG)
    kept = resume.log_until(log, 8)
    assert kept[-1].strip() == "save  0000008_adapters.safetensors"  # iteration 10 and the traceback: lost work
    merged = tmp_path / "merged.log"
    merged.write_text("".join(kept) + resume.marker(8, 16, "0000008_adapters.safetensors", "restored") + RESUMED_PART)
    parsed = parse_training_log(merged)
    assert parsed.crash is None and parsed.planned_iters == 16 and parsed.last_iter == 16
    assert [it for it, _, _ in parsed.train] == [4, 8, 12, 16]
    assert [it for it, _, _ in parsed.val] == [1, 8, 9, 16]
    assert parsed.resumed == [(8, len(kept) + 1)]
    problems, _ = judge_training_log(parsed, LossExpectations(min_decrease=-10.0))
    assert problems == []
    # the kept part of a log that was resumed once already is cut at the true iteration
    assert resume.log_until(merged, 12)[-1].strip() == "save  0000004_adapters.safetensors"
    cut_short = tmp_path / "short.log"
    cut_short.write_text("".join(kept))  # a log that ends at 8 of 16, with no resumed part
    assert any(
        "log ends at iteration 8 of 16" in p
        for p in judge_training_log(parse_training_log(cut_short), LossExpectations())[0]
    )


def state(folder: Path, it: int, grad_accumulation_steps: int = 1) -> Path:
    """The training state ``lorarun`` saves at a checkpoint: its optimizer file, then its record."""
    safetensors(folder / trainstate.optimizer_name(it))
    record = {"format": trainstate.FORMAT, "iteration": it, "optimizer": trainstate.optimizer_name(it)}
    record["grad_accumulation_steps"] = grad_accumulation_steps
    (folder / trainstate.json_name(it)).write_text(json.dumps(record))
    return folder / trainstate.json_name(it)


def test_a_checkpoint_with_its_whole_state_is_preferred_to_a_later_one_without(tmp_path):
    """Killed between the adapter's save and its state's: the resume continues exactly from the
    checkpoint before, rather than restart the optimizer from the later one."""
    for it in (4, 8, 12):
        safetensors(tmp_path / f"{it:07d}_adapters.safetensors")
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "train.log").write_text("")
    state(tmp_path, 4)
    state(tmp_path, 8)
    start = resume.start_of(tmp_path, 16)
    assert (start.iteration, start.state) == (8, tmp_path / "0000008_resume.json")
    cut = tmp_path / trainstate.optimizer_name(8)
    cut.write_bytes(cut.read_bytes()[:-3])  # the optimizer file cut: that state is not whole
    assert resume.start_of(tmp_path, 16).iteration == 4
    (tmp_path / trainstate.json_name(4)).write_text('{"format": 1, "iteration": 3}')  # not its own
    start = resume.start_of(tmp_path, 16)
    assert (start.iteration, start.state) == (12, None)  # none continues exactly: the latest, weights only
    state(tmp_path, 12, grad_accumulation_steps=8)  # a gradient half accumulated at 12
    assert not resume.continues_exactly(resume.start_of(tmp_path, 16))


def test_a_numpy_random_state_survives_json():
    import numpy as np

    np.random.seed(2194)
    np.random.permutation(10)
    saved = json.loads(json.dumps(trainstate.encode_numpy(np.random.get_state())))
    after = np.random.permutation(174)
    np.random.seed(0)
    np.random.set_state(trainstate.decode_numpy(saved))
    assert (np.random.permutation(174) == after).all()


def test_a_resumed_folder_settles_into_true_iteration_numbers(tmp_path):
    for it in (4, 8):
        safetensors(tmp_path / f"{it:07d}_adapters.safetensors")
    (tmp_path / "train.log").write_text(
        "first part\n" + resume.marker(8, 16, "0000008_adapters.safetensors", "restored")
    )
    (tmp_path / resume.RESUME_RECORD).write_text(json.dumps({"at": 8, "of": 16}))
    inner = tmp_path / resume.RESUMED_RUN
    inner.mkdir()
    safetensors(inner / "0000004_adapters.safetensors")
    safetensors(inner / "adapters.safetensors")
    cut = safetensors(inner / "0000008_adapters.safetensors")
    cut.write_bytes(cut.read_bytes()[:20])  # the resumed run was killed writing its second checkpoint
    (inner / "train.log").write_text("resumed part\n")
    state(inner, 12)  # the child names its training states by their true iterations
    assert resume.settle(tmp_path)
    assert resume.whole_state(tmp_path, 12) == tmp_path / "0000012_resume.json"
    assert [c.iteration for c in resume.whole_checkpoints(tmp_path)] == [4, 8, 12]
    assert (tmp_path / "train.log").read_text().endswith("resumed part\n")
    assert (tmp_path / "adapters.safetensors").is_file() and not inner.exists()
    assert not (tmp_path / resume.RESUME_RECORD).exists()


def test_a_resumed_run_s_lines_are_shown_counted_from_the_start():
    assert resume.shown("     4    0.157 \u25bc      218      0.8k", 8).split()[0] == "12"
    assert resume.shown("  save  0000004_adapters.safetensors", 8).endswith("0000012_adapters.safetensors")
    assert resume.shown("  iter   train_loss", 8) == "  iter   train_loss"


def test_the_budget_is_asked_for_the_iterations_left_of_a_resumed_adapter(tmp_path):
    """A build that will resume from a partial is estimated (and guarded) for the iterations it
    has left, not the whole plan: the guard is asked for 16 - 12."""
    from pytest_punie.models.cache import BuildCache

    cache = BuildCache(tmp_path / "cache")
    inputs = {"iters": 16}
    partial = cache.partial_path("adapter", inputs)
    partial.mkdir(parents=True)
    for it in (4, 8, 12):
        safetensors(partial / f"{it:07d}_adapters.safetensors")
        state(partial, it)
    (partial / "adapter_config.json").write_text("{}")
    (partial / "train.log").write_text("")
    asked: list[tuple[str, float]] = []
    cache.guard = lambda step, units: asked.append((step, units))

    def left(folder: Path) -> float:
        start = resume.start_of(folder, 16)
        return float(16 - (start.iteration if start else 0))

    def build(out: Path) -> dict:
        (out / "adapters.safetensors").write_bytes(b"x")
        return {}

    cache.build("adapter", inputs, build, resumable=True, units=16.0, units_left=left)
    assert asked == [("adapter", 4.0)]
