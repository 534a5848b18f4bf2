"""Damaged cache entries are detected and built again (the damaged one moved
aside, never loaded); a failing build fails once with its log kept where the
message says. Never an INTERNALERROR, never a user's file touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_punie.errors import ModelError
from pytest_punie.models.cache import MARKER, BuildCache
from pytest_punie.models.validate import validate_model_dir

INPUTS = {"model": "sha256:a", "bits": 5}


def writer(text: str, calls: list[str] | None = None):
    def build(out: Path) -> dict:
        if calls is not None:
            calls.append(text)
        (out / "weights.safetensors").write_text(text)
        (out / "config.json").write_text("{}")
        return {}

    return build


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda p: (p / MARKER).unlink(), "missing or unreadable"),
        (lambda p: (p / MARKER).write_text('{"step": "q5", "dig'), "missing or unreadable"),
        (lambda p: (p / MARKER).write_text("[]"), "missing or unreadable"),
    ],
)
def test_a_damaged_record_is_moved_aside_and_rebuilt(tmp_path, damage, why):
    logs: list[str] = []
    cache = BuildCache(tmp_path, log=logs.append)
    first = cache.build("q5", INPUTS, writer("x"))
    damage(first.path)
    calls: list[str] = []
    again = cache.build("q5", INPUTS, writer("x", calls))
    assert calls == ["x"] and again.path == first.path and again.digest == first.digest
    assert json.loads((again.path / MARKER).read_text())["digest"] == first.digest
    moved = list((tmp_path / "damaged").iterdir())
    assert len(moved) == 1 and (moved[0] / "weights.safetensors").read_text() == "x"  # kept to look at
    assert any(why in line and "moved to" in line for line in logs)


def test_an_entry_that_fails_validation_is_rebuilt(tmp_path):
    cache = BuildCache(tmp_path)
    first = cache.build("q5", INPUTS, writer("x"))
    (first.path / "config.json").write_text("{truncated")

    def validate(path: Path) -> None:
        try:
            json.loads((path / "config.json").read_text())
        except ValueError:
            raise ModelError(path / "config.json", None, "invalid JSON") from None

    calls: list[str] = []
    again = cache.build("q5", INPUTS, writer("x", calls), validate=validate)
    assert calls == ["x"]
    assert json.loads((again.path / "config.json").read_text()) == {}


def test_a_failed_build_keeps_its_log_where_the_message_says(tmp_path):
    cache = BuildCache(tmp_path)

    def failing(out: Path) -> dict:
        (out / "command.log").write_text("$ mlx_lm fuse ...\nValueError: bad shard\n")
        raise ModelError(out / "command.log", None, "mlx_lm fuse failed (exit 1)")

    with pytest.raises(ModelError) as err:
        cache.build("fused", INPUTS, failing)
    kept = Path(str(err.value.path))
    assert kept.is_file() and "bad shard" in kept.read_text()
    assert kept.parent.parent == tmp_path / "failed"
    assert not list((tmp_path / "tmp").iterdir())  # nothing partial is left to load


def test_a_bad_index_is_a_model_error_not_a_traceback(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "qwen3"}')
    (model / "tokenizer.json").write_text("{}")
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (model / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0\0\0")
    (model / "model.safetensors.index.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a safetensors index"):
        validate_model_dir(model)
    (model / "model.safetensors.index.json").write_text('{"metadata": {}}')
    with pytest.raises(ModelError, match="not a safetensors index"):
        validate_model_dir(model)
