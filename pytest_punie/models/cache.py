"""Content-addressed, atomic builds.

An artifact lives at ``<cache>/<step>/<key>`` where ``key`` digests every
input (input artifacts' digests, parameters, mlx-lm version, BLAS). It is
built in a temporary directory and renamed into place, so an interrupted
build leaves nothing that is ever loaded; a file lock makes concurrent
builders (xdist workers, two terminals) build it once.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_punie.errors import ModelError, PunieError
from pytest_punie.models.digest import DigestMemo, inputs_key, path_digest

MARKER = "punie-build.json"


def default_cache_dir(root: Path) -> Path:
    env = os.environ.get("PUNIE_CACHE_DIR")
    return Path(env).expanduser().resolve() if env else root / ".punie" / "cache"


@dataclass(frozen=True)
class Artifact:
    step: str
    key: str
    path: Path
    digest: str
    built: bool  # built in this call (False: reused from the cache)
    record: dict[str, Any]


class BuildCache:
    def __init__(self, root: Path, log: Callable[[str], None] = lambda _m: None):
        self.root = Path(root)
        self.log = log
        self.memo = DigestMemo(self.root / "digests.json")

    def digest(self, path: Path) -> str:
        return path_digest(path, self.memo)

    def final_path(self, step: str, key: str) -> Path:
        return self.root / step / key

    def lookup(self, step: str, inputs: dict[str, Any]) -> Artifact | None:
        key = inputs_key({"step": step, **inputs})
        path = self.final_path(step, key)
        if not path.exists():
            return None
        try:  # an entry appears whole, with its record, or not at all: anything else is damage
            record = json.loads((path / MARKER).read_text())
            digest = record["digest"]
            assert isinstance(digest, str)
        except (OSError, ValueError, KeyError, TypeError, AssertionError):
            self.quarantine(path, f"its {MARKER} is missing or unreadable")
            return None
        return Artifact(step, key, path, digest, False, record)

    def quarantine(self, path: Path, why: str) -> Path | None:
        """Move a damaged entry aside (kept to look at, never loaded again) so it is rebuilt."""
        dst = self.root / "damaged" / f"{path.parent.name}-{path.name}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, dst)
        except FileNotFoundError:
            return None  # another process moved it first
        self.log(f"damaged cache entry {path} ({why}): moved to {dst}, building it again")
        return dst

    def _keep_logs(self, tmp: Path, step: str, key: str) -> Path | None:
        """A failed build's logs, kept where its error message will say."""
        logs = sorted(tmp.glob("*.log"))
        if not logs:
            return None
        kept = self.root / "failed" / f"{step}-{key}"
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        for f in logs:
            shutil.move(str(f), kept / f.name)
        return kept

    def build(
        self,
        step: str,
        inputs: dict[str, Any],
        builder: Callable[[Path], dict[str, Any] | None],
        digest_of: Callable[[Path], str] | None = None,
        validate: Callable[[Path], Any] | None = None,
    ) -> Artifact:
        """Return the artifact for ``inputs``, building it (once) when missing.
        ``validate`` checks a cached entry before it is trusted (a damaged one is rebuilt)."""
        from filelock import FileLock

        hit = self.lookup(step, inputs)
        if hit and validate is not None:
            try:
                validate(hit.path)
            except ModelError as err:
                self.quarantine(hit.path, err.message)
                hit = None
        if hit:
            return hit
        key = inputs_key({"step": step, **inputs})
        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / "locks" / f"{step}-{key}.lock")):
            hit = self.lookup(step, inputs)  # another process built it while we waited
            if hit:
                return hit
            tmp_root = self.root / "tmp"
            tmp_root.mkdir(parents=True, exist_ok=True)
            for stale in tmp_root.glob(f"{step}-{key}-*"):
                shutil.rmtree(stale, ignore_errors=True)  # an interrupted build of this key (we hold the lock)
            tmp = tmp_root / f"{step}-{key}-{os.getpid()}"
            tmp.mkdir()
            started = time.monotonic()
            self.log(f"building {step} ({key[:12]}) ...")
            try:
                extra = builder(tmp) or {}
                digest = (digest_of or (lambda p: path_digest(p)))(tmp)
                record = {
                    "step": step,
                    "key": key,
                    "inputs": inputs,
                    "digest": digest,
                    "seconds": round(time.monotonic() - started, 2),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    **extra,
                }
                (tmp / MARKER).write_text(json.dumps(record, indent=2) + "\n")
                final = self.final_path(step, key)
                final.parent.mkdir(parents=True, exist_ok=True)
                if final.exists():  # damaged (no valid record, or failed validation): never loaded
                    self.quarantine(final, "in the way of a fresh build")
                os.replace(tmp, final)  # atomic: the artifact appears whole or not at all
            except BaseException as exc:
                kept = self._keep_logs(tmp, step, key)
                shutil.rmtree(tmp, ignore_errors=True)
                if kept is not None and isinstance(exc, PunieError) and exc.path is not None:
                    where = Path(str(exc.path))
                    if where.parent == tmp:
                        exc.path = str(kept / where.name)
                raise
            self.log(f"built {step} in {record['seconds']:.1f} s -> {final}")
            return Artifact(step, key, final, digest, True, record)
