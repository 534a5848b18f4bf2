"""Content digests of files and model directories.

A model directory's digest covers every weight, config and tokenizer file
(names and bytes). The model under test is hashed in full every run (its
identity is verified, not remembered); build inputs may use the memo, which
remembers digests by (path, size, mtime) in a small JSON file beside the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from pytest_punie.provenance import file_sha256

MODEL_FILE_SUFFIXES = (".safetensors", ".json", ".jinja", ".txt", ".model", ".tiktoken")


def model_files(directory: Path) -> list[Path]:
    """The files that make a model what it is (weights, config, tokenizer), our own record left out."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.suffix in MODEL_FILE_SUFFIXES and p.name != "punie-build.json"
    )


def _stamp(paths: list[Path]) -> str:
    return json.dumps([[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in paths])


class DigestMemo:
    """Remembered digests; a changed size or mtime means hashing again."""

    def __init__(self, path: Path | None):
        self.path = path
        self._data: dict[str, list[str]] = {}
        if path and path.exists():
            try:
                self._data = json.loads(path.read_text())
            except (OSError, ValueError):
                self._data = {}

    def get(self, key: str, stamp: str) -> str | None:
        """A remembered digest, when the file's stamp has not changed."""
        hit = self._data.get(key)
        return hit[1] if hit and hit[0] == stamp else None

    def put(self, key: str, stamp: str, digest: str) -> None:
        """Remembers a digest with its stamp (written whole: temp file, then rename)."""
        self._data[key] = [stamp, digest]
        if self.path:
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps(self._data))
                os.replace(tmp, self.path)
            except OSError:  # a folder that cannot be written (read-only, full): the memo only saves time
                with contextlib.suppress(OSError):
                    tmp.unlink()


def _hash_all(files: list[Path]) -> list[str]:
    """Every file's sha256, shards in parallel (hashlib releases the GIL)."""
    if len(files) < 2:
        return [file_sha256(f) for f in files]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(file_sha256, files))


def path_digest(path: Path, memo: DigestMemo | None = None) -> str:
    """sha256 of a file, or of a model directory's files (names and bytes)."""
    path = Path(path)
    files = [path] if path.is_file() else model_files(path)
    stamp = _stamp(files)
    key = str(path.resolve())
    if memo is not None and (hit := memo.get(key, stamp)):
        return hit
    if path.is_file():
        digest = "sha256:" + file_sha256(path)
    else:
        h = hashlib.sha256()
        for f, hexdigest in zip(files, _hash_all(files), strict=True):
            h.update(f.name.encode() + b"\0" + hexdigest.encode() + b"\n")
        digest = "sha256:" + h.hexdigest()
    if memo is not None:
        memo.put(key, stamp, digest)
    return digest


def inputs_key(inputs: dict) -> str:
    """A build step's key: the digest of its inputs, so the same inputs find the same entry."""
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]
