"""Is a model directory whole? Checked before anything is loaded.

A GPU timeout once left truncated shards (9.9 GB of 20): every shard's
safetensors header must account for its exact size, and the index must
name only shards that exist and cover every tensor they hold.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from pytest_punie.errors import ModelError


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header; raises ModelError when the file is not whole."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ModelError(path, None, f"not a safetensors file ({size} bytes)")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise ModelError(path, None, f"safetensors header claims {n} bytes but the file has {size}")
        try:
            header = json.loads(fh.read(n))
        except ValueError:
            raise ModelError(path, None, "safetensors header is not valid JSON") from None
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end != size:
        raise ModelError(path, None, f"truncated or padded: header accounts for {8 + n + end} bytes, file has {size}")
    return header


def validate_model_dir(path: Path) -> dict[str, Any]:
    """Check config, tokenizer and weights; return a summary for provenance."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(path, None, "model directory does not exist")
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ModelError(path, None, "no config.json: not an mlx-lm model directory")
    try:
        config = json.loads(config_path.read_text())
    except ValueError as exc:
        raise ModelError(config_path, exc.__dict__.get("lineno"), f"invalid JSON: {exc}") from None
    if "model_type" not in config:
        raise ModelError(config_path, None, "config.json has no model_type")
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer.model").is_file():
        raise ModelError(path, None, "no tokenizer.json or tokenizer.model")
    shards = sorted(path.glob("*.safetensors"))
    if not shards:
        raise ModelError(path, None, "no *.safetensors weights")
    tensors: dict[str, str] = {}
    for shard in shards:
        for name in read_safetensors_header(shard):
            if name != "__metadata__":
                tensors[name] = shard.name
    index_path = path / "model.safetensors.index.json"
    if index_path.is_file():
        try:
            weight_map = json.loads(index_path.read_text())["weight_map"]
            assert isinstance(weight_map, dict)
        except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
            raise ModelError(index_path, None, f"not a safetensors index (weight_map): {type(exc).__name__}") from None
        missing = sorted({f for f in weight_map.values() if not (path / f).is_file()})
        if missing:
            raise ModelError(index_path, None, f"index names shards that are missing: {', '.join(missing)}")
        absent = [k for k, f in weight_map.items() if tensors.get(k) != f]
        if absent:
            raise ModelError(
                index_path, None, f"{len(absent)} tensors of the index are not in their shard, e.g. {absent[0]}"
            )
    return {
        "model_type": config["model_type"],
        "quantization": config.get("quantization"),
        "shards": len(shards),
        "tensors": len(tensors),
        "eos_token_id": config.get("eos_token_id"),
    }
