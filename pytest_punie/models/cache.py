"""Content-addressed, atomic builds.

An artifact lives at ``<cache>/<step>/<key>`` where ``key`` digests every
input (input artifacts' digests, parameters, mlx-lm version, BLAS). It is
built in a temporary directory and renamed into place, so an interrupted
build leaves nothing that is ever loaded; a file lock makes concurrent
builders (xdist workers, two terminals) build it once.
"""

from __future__ import annotations

import contextlib
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
LOCK_SAY_EVERY_S = 5.0  # a run waiting on another's build says so this often


def _holder_of(holder: Path) -> str:
    """Who holds a build lock, as its holder wrote it (pid, host, since when)."""
    try:
        who = json.loads(holder.read_text())
        since = time.time() - float(who["since"])
        return f"another run (pid {who['pid']} on {who['host']}, building for {since:.0f} s)"
    except (OSError, ValueError, KeyError, TypeError):
        return "another run"


def default_cache_dir(root: Path) -> Path:
    """Where builds are cached: PUNIE_CACHE_DIR, else the project's .punie/cache."""
    env = os.environ.get("PUNIE_CACHE_DIR")
    return Path(env).expanduser().resolve() if env else root / ".punie" / "cache"


@dataclass(frozen=True)
class Artifact:
    """One cached build step's output: its step, key, folder, verified digest and record."""

    step: str
    key: str
    path: Path
    digest: str
    built: bool  # built in this call (False: reused from the cache)
    record: dict[str, Any]

    @property
    def retired(self) -> bool:
        """An intermediate whose files were removed once the next step verified its output."""
        return "retired" in self.record


class BuildCache:
    """Content-addressed build steps: an entry appears whole, with its record, or not at all."""

    def __init__(self, root: Path, log: Callable[[str], None] = lambda _m: None):
        self.root = Path(root)
        self.log = log
        self.memo = DigestMemo(self.root / "digests.json")
        self.guard: Callable[[str, float], None] | None = None  # may refuse to start a step (the run's budget)

    def digest(self, path: Path) -> str:
        """A file's or folder's content digest, memoised by size and time stamps."""
        return path_digest(path, self.memo)

    def final_path(self, step: str, key: str) -> Path:
        """Where a step's entry for these inputs lives."""
        return self.root / step / key

    def lookup(self, step: str, inputs: dict[str, Any]) -> Artifact | None:
        """The entry built from these inputs, if there is one and it is whole."""
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
        with contextlib.suppress(OSError):
            os.utime(path / MARKER)  # last used: what `python -m pytest_punie cache prune` goes by
        return Artifact(step, key, path, digest, False, record)

    def find(self, step: str, inputs: dict[str, Any], validate: Callable[[Path], Any] | None = None) -> Artifact | None:
        """The cached artifact for ``inputs``, checked by ``validate`` (a damaged one is moved aside)."""
        hit = self.lookup(step, inputs)
        if hit and validate is not None and not hit.retired:
            try:
                validate(hit.path)
            except ModelError as err:
                self.quarantine(hit.path, err.message)
                return None
        return hit

    def keep(self, artifact: Artifact) -> Artifact:
        """Mark an intermediate a registry entry keeps (``keep_intermediates``): no later build that
        shares it (a checkpoint sweep fusing the same adapter) removes its files."""
        if artifact.record.get("kept") or artifact.retired:
            return artifact
        return self._rewrite_record(artifact, {**artifact.record, "kept": True})

    @staticmethod
    def _rewrite_record(artifact: Artifact, record: dict[str, Any]) -> Artifact:
        """An entry's record replaced whole (temp file, then rename), and the artifact that has it."""
        tmp = artifact.path / f".{MARKER}.tmp"
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, artifact.path / MARKER)
        return Artifact(artifact.step, artifact.key, artifact.path, artifact.digest, artifact.built, record)

    def retire(self, artifact: Artifact, because: str, checks: dict[str, list[str]] | None = None) -> Artifact:
        """Remove an intermediate's files once the step after it verified its output: its record
        stays (digest, size, why, and the checks run on it first), so later builds still find
        what came after it. The users' scripts did the same by hand (57 GB a 30B fuse). One an
        entry keeps (``keep``) is left whole."""
        if artifact.record.get("kept"):
            return artifact
        size = tree_bytes(artifact.path)
        retired = {
            "bytes": size,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "because": because,
            "checks": checks,
        }
        # said first: an interrupted removal leaves a retired entry, never a half model
        out = self._rewrite_record(artifact, {**artifact.record, "retired": retired})
        for child in artifact.path.iterdir():
            if child.name == MARKER:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        self.log(f"removed the intermediate {artifact.step} ({size / 1e6:.1f} MB): {because}")
        return out

    def discard(self, artifact: Artifact) -> None:
        """Remove a retired entry that is needed again: it is built anew."""
        shutil.rmtree(artifact.path, ignore_errors=True)

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
        resumable: bool = False,
        units: float = 1.0,
        units_left: Callable[[Path], float] | None = None,
    ) -> Artifact:
        """Return the artifact for ``inputs``, building it (once) when missing.
        ``validate`` checks a cached entry before it is trusted (a damaged one is rebuilt).
        ``resumable``: what an interrupted build of it wrote is kept as its partial
        (``partial_path``), for the next build to resume from, and removed once it is built.
        ``units``: the work it is (an adapter's iterations), for this machine's measured rates; the
        cache's ``guard`` (the run's budget) may refuse to start it. ``units_left``: the work left
        when a partial is there to resume from (a resumed adapter's iterations left)."""
        hit = self.find(step, inputs, validate)
        if hit:
            return hit
        key = inputs_key({"step": step, **inputs})
        self._writable()
        with self.step_lock(step, key):
            hit = self.lookup(step, inputs)  # another process built it while we waited
            if hit:
                return hit
            tmp_root = self.root / "tmp"
            units = self._before_building(step, inputs, key, resumable, units, units_left)
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
                self._failed(tmp, step, key, exc, resumable)
                raise
            self._built(step, inputs, final, record, extra, resumable, units)
            return Artifact(step, key, final, digest, True, record)

    @contextlib.contextmanager
    def step_lock(self, step: str, key: str) -> Any:
        """The lock that makes one process build a key; a process that finds another holding it says
        what it waits for (the step, the other process, how long), every few seconds, until it is free."""
        from filelock import FileLock, Timeout

        path = self.root / "locks" / f"{step}-{key}.lock"
        holder = path.with_suffix(".holder")
        lock = FileLock(str(path))
        started = time.monotonic()
        timeout = 0.0
        while True:
            try:
                lock.acquire(timeout=timeout)
                break
            except Timeout:
                waited = f"{time.monotonic() - started:.0f} s so far"
                self.log(f"waiting for {step} ({key[:12]}): {_holder_of(holder)} is building it ({waited})")
                timeout = LOCK_SAY_EVERY_S
        try:
            holder.write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename, "since": time.time()}))
            yield
        finally:
            holder.unlink(missing_ok=True)
            lock.release()

    def _before_building(
        self,
        step: str,
        inputs: dict[str, Any],
        key: str,
        resumable: bool,
        units: float,
        units_left: Callable[[Path], float] | None,
    ) -> float:
        """What an interrupted build of this key left set aside (or removed), and the run's budget
        asked for the work this build is (what a partial leaves of it): the work it is."""
        tmp_root = self.root / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        for stale in tmp_root.glob(f"{step}-{key}-*"):  # an interrupted build of this key (we hold the lock)
            self._set_aside(stale, step, key) if resumable else shutil.rmtree(stale, ignore_errors=True)
        partial = self.partial_path(step, inputs)
        if resumable and units_left is not None and partial.is_dir():
            units = units_left(partial)
        if self.guard is not None:
            self.guard(step, units)  # the run's budget: raises when this step may not start
        return units

    def _writable(self) -> None:
        """A build needs a cache it can write: one it cannot (read-only, not permitted) is named."""
        try:
            (self.root / "locks").mkdir(parents=True, exist_ok=True)
            probe = self.root / "locks" / f".probe-{os.getpid()}"
            probe.touch()
            probe.unlink()
        except OSError as exc:
            raise ModelError(
                self.root,
                None,
                f"the build cache cannot be written ({exc.strerror or exc}): nothing can be built here; "
                "point PUNIE_CACHE_DIR at a folder this user can write",
            ) from None

    def _built(
        self,
        step: str,
        inputs: dict[str, Any],
        final: Path,
        record: dict[str, Any],
        extra: dict[str, Any],
        resumable: bool,
        units: float,
    ) -> None:
        """After a build: its partial gone, this machine's rate for the step measured, the build said."""
        from pytest_punie.budget import Rates

        if resumable:
            shutil.rmtree(self.partial_path(step, inputs), ignore_errors=True)  # resumed from, or superseded
        done = float(extra.get("work_units", units) or units)
        Rates.load(self.root).add(f"build:{step}", float(record["seconds"]), done)
        self.log(f"built {step} in {record['seconds']:.1f} s -> {final}")

    def _failed(self, tmp: Path, step: str, key: str, exc: BaseException, resumable: bool) -> None:
        """A build that did not finish: its checkpoints set aside (``resumable``), its logs kept where
        the error will say, the folder removed; a full disk said as such (raised instead of ``exc``)."""
        if resumable and tmp.is_dir():
            self._set_aside(tmp, step, key)  # its whole checkpoints, for the next build to resume from
        kept = self._keep_logs(tmp, step, key) if tmp.is_dir() else None
        shutil.rmtree(tmp, ignore_errors=True)  # the partial entry: never left behind as an entry
        full = disk_full(self.root, exc)
        if full is not None:
            raise ModelError(self.final_path(step, key), None, f"building {step}: {full}") from None
        if kept is not None and isinstance(exc, PunieError) and exc.path is not None:
            where = Path(str(exc.path))
            if where.parent == tmp:
                exc.path = str(kept / where.name)

    def partial_path(self, step: str, inputs: dict[str, Any]) -> Path:
        """Where what an interrupted build of these inputs left is kept (models.resume's layout)."""
        return self.root / "partial" / f"{step}-{inputs_key({'step': step, **inputs})}"

    def _set_aside(self, folder: Path, step: str, key: str) -> None:
        """An interrupted build's folder becomes the step's partial when it holds a later whole
        checkpoint than the one kept; otherwise it is removed."""
        from pytest_punie.models import resume

        kept = self.root / "partial" / f"{step}-{key}"
        try:
            if resume.settle(folder) and resume.later_than(folder, kept):
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(kept, ignore_errors=True)
                os.replace(folder, kept)
                at = resume.whole_checkpoints(kept)[-1].iteration
                self.log(
                    f"kept the interrupted {step} build's checkpoints (the last whole one at iteration {at}) in "
                    f"{kept}: the next build resumes there (--punie-no-resume trains from iteration 1)"
                )
                return
        except (OSError, ValueError) as err:
            self.log(f"could not keep the interrupted {step} build's checkpoints ({err}): it trains from the start")
        shutil.rmtree(folder, ignore_errors=True)


LOW_SPACE = 64 * 1024 * 1024  # below this much free, a failed write is taken for a full disk


def disk_full(where: Path, exc: BaseException) -> str | None:
    """Why a build failed, when it was the disk: ENOSPC, or mlx's "Unable to write" with almost
    no space left. None for every other failure (those keep their own message)."""
    import errno

    text = str(exc)
    nospace = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return None
    writing = "Unable to write" in text or "No space left" in text or nospace
    if not (nospace or (writing and free < LOW_SPACE) or (isinstance(exc, ModelError) and free < LOW_SPACE)):
        return None
    return (
        f"the disk holding {where} is full ({free / 1e6:.1f} MB free); the partial entry was removed. "
        "Free space there, or point PUNIE_CACHE_DIR at a larger disk "
        "(python -m pytest_punie cache prune frees old builds)"
    )


def tree_bytes(path: Path) -> int:
    """Bytes of every file below ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
