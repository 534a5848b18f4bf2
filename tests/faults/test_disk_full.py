"""A full disk, for real (a small tmpfs; these tests run as root): during a build, before a
build chain, and while the results are written. One located error naming the path and the
space, the partial entry removed, the verdict still printed; never INTERNALERROR or a traceback."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_punie.errors import ModelError
from pytest_punie.models.cache import BuildCache


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.fail(f"could not mount a tmpfs at {where} (these tests need root): {done.stderr.decode()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_disk_filled_during_a_build_is_one_located_error_and_no_partial_entry(tmp_path):
    """mlx's own writer fails with RuntimeError '[write] Unable to write' on a full disk (what the
    issue saw as INTERNALERROR): the cache turns it into a ModelError naming the entry and the space."""
    import mlx.core as mx

    with tmpfs(tmp_path / "small", "2m") as disk:
        cache = BuildCache(disk / "cache")

        def writes_too_much(out: Path) -> None:
            mx.save_safetensors(str(out / "model.safetensors"), {"w": mx.zeros((1024, 1024))})  # 4 MB

        with pytest.raises(ModelError) as err:
            cache.build("fused", {"adapter": "sha256:1"}, writes_too_much)
        message = err.value.describe()
        assert "building fused: the disk holding" in message and "MB free" in message
        assert str(disk / "cache" / "fused") in message
        assert list((disk / "cache" / "tmp").iterdir()) == []  # the partial entry removed
        assert not (disk / "cache" / "fused").exists() or list((disk / "cache" / "fused").iterdir()) == []


def test_a_read_only_cache_is_one_error_naming_it_and_its_digests_still_work(tmp_path):
    """A cache folder on a read-only file system (a host's cache mounted read-only): digests are
    computed (the memo is not saved), and a build is refused naming the folder and why, before any
    step runs; nothing is written."""
    (tmp_path / "data.txt").write_text("x")
    where = tmp_path / "ro"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.fail(f"could not mount a tmpfs at {where} (these tests need root): {done.stderr.decode()}")
    try:
        cache = BuildCache(where)
        assert cache.digest(tmp_path / "data.txt").startswith("sha256:")
        ran = []
        with pytest.raises(ModelError) as err:
            cache.build("fused", {"adapter": "sha256:1"}, lambda out: ran.append(out))
        assert err.value.describe() == (
            f"{where}: the build cache cannot be written (Read-only file system): nothing can be built "
            "here; point PUNIE_CACHE_DIR at a folder this user can write"
        )
        assert ran == [] and list(where.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_build_chain_that_cannot_fit_is_refused_before_its_first_step(tmp_path, tiny_model):
    """The whole fuse + quantize chain is checked first: no half-written fuse, no mlx_lm run."""
    from pytest_punie.models.resolve import recipe_parts
    from pytest_punie.models.steps import fuse_and_quantize

    base, adapter = recipe_parts(tiny_model, Path.cwd())
    assert base is not None and adapter is not None
    with tmpfs(tmp_path / "small", "1m") as disk:
        cache = BuildCache(disk / "cache")
        with pytest.raises(ModelError) as err:
            fuse_and_quantize(cache, base, adapter, 5, 64, lambda _m: None)
        assert "not enough free disk for this build (fuse --dequantize, then quantize): needs" in err.value.message
        assert not (disk / "cache" / "fused").exists()


def test_a_full_results_disk_is_a_line_and_the_verdict_still_stands(eval_project, tmp_path):
    """The results document cannot be written: one line naming the path and the space left;
    the verdict is printed and is the exit status; no half-written file is left."""
    args = ["--punie-responses=phase33b_responses.jsonl", "-p", "no:cacheprovider"]
    plain = eval_project.runpytest(*args)
    with tmpfs(tmp_path / "full", "64k") as disk:
        (disk / "filler").write_bytes(b"\0" * 60_000)
        result = eval_project.runpytest(*args, f"--punie-json={disk / 'out.json'}")
        out = result.stdout.str()
        assert result.ret == plain.ret, out[-2000:]  # the exit status is the run's, full disk or not
        result.stdout.fnmatch_lines(
            ["VERDICT: PASS*", f"pytest-punie: could not write {disk / 'out.json'}: No space left*MB free on*"]
        )
        assert "Traceback" not in out and "INTERNALERROR" not in out
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_a_baseline_that_cannot_be_saved_is_said_and_the_old_one_kept(eval_project, tmp_path):
    """--punie-save onto a full disk: the gate says the baseline was not saved (path, reason, space
    left), the run does not pass as if it were, and the earlier baseline of that name is untouched."""
    args = ["--punie-responses=phase33b_responses.jsonl", "-p", "no:cacheprovider", "--punie-save=prod"]
    with tmpfs(tmp_path / "full", "64k") as disk:
        eval_project.makeini(f"[pytest]\npunie_baseline_dir = {disk}\n")
        (disk / "prod.json").write_text('{"prompts": [], "earlier": true}\n')
        (disk / "filler").write_bytes(b"\0" * 60_000)
        result = eval_project.runpytest(*args)
        out = result.stdout.str()
        assert result.ret == 1, out[-2000:]
        where = disk / "prod.json"
        result.stdout.fnmatch_lines(
            ["GATE: REFUSED", f"*baseline 'prod' not saved: could not write {where}: No space left*MB free*"]
        )
        assert "Traceback" not in out and "INTERNALERROR" not in out
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "prod.json"]  # no temp file left
        assert '"earlier": true' in (disk / "prod.json").read_text()
