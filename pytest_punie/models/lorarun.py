"""mlx-lm's own LoRA training, continued exactly where an interrupted run stopped.

Run as the training child: ``python -m pytest_punie.models.lorarun [--punie-start N --punie-total M
--punie-state FILE] lora --train ...``. Everything after ``lora`` is ``mlx_lm lora``'s own command
line, run by mlx-lm's own ``main`` and ``train``; the log's first line says which ``mlx_lm lora``
command the run is equivalent to. Two things are added through the door mlx-lm's trainer opens
(``train(..., iterate_batches=...)``), nothing else of mlx-lm is replaced:

- at each checkpoint, the state a continuation needs is saved beside it (``trainstate``): Adam's
  moments, its step (the learning-rate schedule's), numpy's random state (the batch order and the
  validation's), the position in the epoch's permutation and mlx's random key;
- a resumed part restores that state, then draws its batches from mlx-lm's own iterator fast-forwarded
  past the batches already trained: iterations N+1..M see exactly the batches the uninterrupted run
  would have. Its validation passes are the uninterrupted run's (none at its first iteration).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import math
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pytest_punie.models import trainstate


@dataclasses.dataclass
class Progress:
    """Where the run is, shared by its batch iterator and its validation gate."""

    start: int
    """The iteration this part starts after (0: a run from the beginning)."""
    total: int
    """The iterations the whole training plans."""
    steps_per_eval: int
    """The uninterrupted run's validation interval."""
    local: int = 0
    """Batches this part has drawn (mlx-lm's own iteration counter)."""

    def evaluates_now(self) -> bool:
        """Whether the uninterrupted run validates at this iteration (mlx-lm: at 1, every
        ``steps_per_eval`` and at the end)."""
        at = self.start + self.local
        return at == 1 or at % self.steps_per_eval == 0 or at == self.total


def gated(val_dataset: Any, progress: Progress) -> Any:
    """The validation set, present to mlx-lm's loop only where the uninterrupted run validates:
    its ``if val_dataset and (...)`` reads its truth, so a resumed part repeats no validation pass."""
    kind = type(val_dataset)
    gate = type("GatedValidation", (kind,), {"__bool__": lambda self: len(self) > 0 and progress.evaluates_now()})
    copy: Any = object.__new__(gate)
    copy.__dict__.update(val_dataset.__dict__)
    return copy


def batches_per_epoch(dataset: Any, batch_size: int) -> int:
    """How many batches mlx-lm's iterator makes of ``dataset`` per pass."""
    return len(range(0, len(dataset) - batch_size + 1, batch_size))


def continuing_batches(
    stock: Callable[..., Iterator[Any]],
    saved: dict[str, Any] | None,
    progress: Progress,
    on_checkpoint: Callable[[int, dict[str, Any]], None],
    steps_per_save: int,
) -> Callable[..., Iterator[Any]]:
    """mlx-lm's ``iterate_batches`` for the training loop: its own batches, in its own order, resumed
    past the ones already trained; after each checkpoint, ``on_checkpoint`` saves where it stands."""
    import numpy as np

    def iterate(dataset: Any, batch_size: int, max_seq_length: int, loop: bool = False, **kw: Any) -> Iterator[Any]:
        if not loop:  # validation and test passes: mlx-lm's own, drawing from the same numpy state
            yield from stock(dataset, batch_size, max_seq_length, loop=loop, **kw)
            return
        per_epoch = batches_per_epoch(dataset, batch_size)
        source = stock(dataset, batch_size, max_seq_length, loop=True, **kw)
        position, epoch_start = 0, None
        if saved is not None:
            np.random.set_state(trainstate.decode_numpy(saved["epoch_start_numpy"]))
            with contextlib.redirect_stdout(io.StringIO()):  # its warnings were printed when first drawn
                for _ in range(int(saved["position"])):
                    next(source)
            np.random.set_state(trainstate.decode_numpy(saved["numpy"]))
            position, epoch_start = int(saved["position"]), saved["epoch_start_numpy"]
        while True:
            at = progress.start + progress.local
            if progress.local and progress.local % steps_per_save == 0 and at < progress.total:
                here = {"numpy": trainstate.encode_numpy(np.random.get_state()), "epoch_start_numpy": epoch_start}
                on_checkpoint(at, {**here, "position": position, "per_epoch": per_epoch})
            if position == per_epoch:
                position = 0
            if position == 0:  # mlx-lm draws the epoch's permutation on the next call
                epoch_start = trainstate.encode_numpy(np.random.get_state())
            batch = next(source)
            position += 1
            progress.local += 1
            yield batch

    return iterate


def continuing_train(stock_train: Callable[..., Any], start: int, total: int, state: Path | None) -> Callable[..., Any]:
    """mlx-lm's ``train``, given the continuing batch iterator and, when resuming, the saved state."""

    def train(model: Any, optimizer: Any, train_dataset: Any, val_dataset: Any = None, **kw: Any) -> Any:
        import mlx.core as mx
        from mlx_lm.tuner.trainer import TrainingArgs
        from mlx_lm.tuner.trainer import iterate_batches as stock_batches

        args = kw.pop("args", None) or TrainingArgs()
        folder = Path(args.adapter_file).parent
        began = time.monotonic()
        saved = trainstate.load(state) if state is not None else None
        progress = Progress(start=start, total=total, steps_per_eval=args.steps_per_eval)
        parts = list(saved["parts"]) if saved else []
        if saved is not None:
            assert state is not None
            trainstate.restore_optimizer(optimizer, model, state.parent / saved["optimizer"])
            mx.random.state[0][:] = mx.array(saved["mx_random_key"], dtype=mx.uint32)  # type: ignore[index]
            if start % args.steps_per_eval:  # mlx-lm counts from 1 again: ask at every iteration the gate may open
                args = dataclasses.replace(args, steps_per_eval=math.gcd(start, args.steps_per_eval))
            if val_dataset is not None:
                val_dataset = gated(val_dataset, progress)

        def on_checkpoint(at: int, where: dict[str, Any]) -> None:
            part = {"from": start, "to": at, "seconds": round(time.monotonic() - began, 3)}
            record = {**where, "iteration": at, "of": total, "parts": [*parts, part]}
            record["grad_accumulation_steps"] = args.grad_accumulation_steps
            record["mx_random_key"] = [int(x) for x in mx.random.state[0].tolist()]  # type: ignore[index]
            trainstate.save(folder, at, optimizer, record)
            print(f"  state  {trainstate.json_name(at)}", flush=True)  # logformat.STATE_SAVE

        batches = continuing_batches(stock_batches, saved, progress, on_checkpoint, args.steps_per_save)
        return stock_train(
            model=model,
            optimizer=optimizer,
            train_dataset=train_dataset,
            val_dataset=val_dataset,
            args=args,
            iterate_batches=batches,
            **kw,
        )

    return train


def main(argv: list[str] | None = None) -> None:
    """The training child's entry: our three options, then ``mlx_lm lora``'s command line as is."""
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("lora") if "lora" in argv else len(argv)
    ours = argparse.ArgumentParser(prog="pytest_punie.models.lorarun")
    ours.add_argument("--punie-start", type=int, default=0)
    ours.add_argument("--punie-total", type=int, default=None)
    ours.add_argument("--punie-state", type=Path, default=None)
    opts = ours.parse_args(argv[:split])
    lora_args = argv[split + 1 :]
    total = opts.punie_total or _iters(lora_args)
    said = "mlx_lm lora " + shlex.join(lora_args)
    if opts.punie_start:
        said += f" (continued from iteration {opts.punie_start} of {total}: {trainstate.RESTORED})"
    print(f"[punie] equivalent to: {said}", flush=True)
    import mlx_lm.lora as lora

    lora.train = continuing_train(lora.train, opts.punie_start, total, opts.punie_state)  # type: ignore[assignment]
    sys.argv = ["mlx_lm.lora", *lora_args]
    lora.main()


def _iters(lora_args: list[str]) -> int:
    """The ``--iters`` of an ``mlx_lm lora`` command line (mlx-lm's default 1000)."""
    for i, arg in enumerate(lora_args[:-1]):
        if arg == "--iters":
            return int(lora_args[i + 1])
    return 1000


if __name__ == "__main__":
    main()
