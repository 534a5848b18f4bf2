"""What a training run needs to continue exactly, saved beside each checkpoint.

At checkpoint N the training child (``lorarun``) writes ``000000N_optimizer.safetensors`` (the
optimizer's whole state: Adam's moments, its step, which drives the learning-rate schedule) and then
``000000N_resume.json`` (numpy's random state now and at the start of the epoch, the position in
the epoch's permutation, mlx's random key, the wall time of each part so far). The JSON is written
last, by rename: a checkpoint whose JSON is there and names its iteration has its whole state.
Reading it imports no mlx (the parent only checks it); restoring it is the child's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FORMAT = 1
RESTORED = "optimizer state, learning-rate step, batch order and random state restored"
WEIGHTS_ONLY = (
    "optimizer state and batch order restarted (no saved training state at this checkpoint: "
    "mlx-lm's --resume-adapter-file loads the weights only)"
)
_CARRIED = (
    "optimizer state (moments and step)",
    "learning-rate schedule step",
    "batch order (numpy permutation and position)",
    "numpy and mlx random state",
)


def what_was_restored(exact: bool) -> dict[str, Any]:
    """A resume's record: whether it continues exactly, what it restored and what it restarted."""
    if exact:
        return {"exact": True, "restored": ["adapter weights", *_CARRIED], "restarted": [], "note": RESTORED}
    return {"exact": False, "restored": ["adapter weights"], "restarted": list(_CARRIED), "note": WEIGHTS_ONLY}


def json_name(iteration: int) -> str:
    """The state record's file name at a checkpoint."""
    return f"{iteration:07d}_resume.json"


def optimizer_name(iteration: int) -> str:
    """The optimizer state's file name at a checkpoint."""
    return f"{iteration:07d}_optimizer.safetensors"


def encode_numpy(state: Any) -> dict[str, Any]:
    """numpy's legacy random state (``np.random.get_state()``) as JSON."""
    kind, keys, pos, has_gauss, cached = state
    keys = [int(k) for k in keys]
    return {"kind": kind, "keys": keys, "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}


def decode_numpy(data: dict[str, Any]) -> tuple[Any, ...]:
    """The state ``np.random.set_state`` takes back."""
    import numpy as np

    keys = np.array(data["keys"], dtype=np.uint32)
    return (data["kind"], keys, data["pos"], data["has_gauss"], float(data["cached"]))


def save(folder: Path, iteration: int, optimizer: Any, record: dict[str, Any]) -> None:
    """Write the optimizer's state, then the record (by rename: its presence marks the state whole)."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    weights = folder / optimizer_name(iteration)
    tmp = weights.with_suffix(".tmp.safetensors")
    mx.save_safetensors(str(tmp), dict(tree_flatten(optimizer.state)))
    os.replace(tmp, weights)
    meta = {**record, "format": FORMAT, "optimizer": weights.name, "optimizer_step": int(optimizer.state["step"])}
    tmp_json = folder / (json_name(iteration) + ".tmp")
    tmp_json.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(tmp_json, folder / json_name(iteration))


def load(path: Path) -> dict[str, Any]:
    """A saved state record."""
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def record_at(folder: Path, iteration: int) -> Path | None:
    """The state record saved at ``iteration`` when it parses and names that iteration (None
    otherwise); whether its optimizer file is whole is the caller's to check."""
    path = folder / json_name(iteration)
    try:
        record = load(path)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("iteration") != iteration:
        return None
    return path


def restore_optimizer(optimizer: Any, model: Any, path: Path) -> None:
    """The optimizer's saved state put back, tensor for tensor; a saved state of another shape (another
    model or optimizer) is an error, never a silent restart."""
    import mlx.core as mx
    from mlx.utils import tree_flatten, tree_map_with_path

    saved = mx.load(str(path))
    optimizer.init(model.trainable_parameters())
    expected = set(dict(tree_flatten(optimizer.state)))
    if expected != set(saved):
        raise ValueError(f"{path}: the saved optimizer state does not fit this model and optimizer")
    optimizer.state = tree_map_with_path(lambda key, _: saved[key], optimizer.state)
