"""Fast BLAS for mlx on Linux CPUs.

mlx-cpu's Linux wheel bundles the netlib reference BLAS (~7 GFLOP/s fp32);
loading MKL's ``libmkl_rt`` globally before mlx is imported gives ~25x the
matmul speed with the same loss curves. Weights are not bit-identical across
BLAS builds, so the choice is part of every build key and of provenance.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

_loaded: str | None = None


def mkl_library() -> str | None:
    """The MKL library mlx's CPU build can use on Linux (much faster matmuls), or None for the reference BLAS."""
    if sys.platform != "linux" or os.environ.get("PUNIE_BLAS") == "reference":
        return None
    roots = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(sys.executable))}
    for root in sorted(roots):
        hits = sorted(glob.glob(str(Path(root) / "lib" / "libmkl_rt.so*")))
        if hits:
            return hits[0]
    return None


def blas_name() -> str:
    """``mkl`` when MKL will be (or was) used for mlx matmuls, else ``reference``."""
    if sys.platform != "linux":
        return "platform"
    return "mkl" if mkl_library() else "reference"


def preload() -> str:
    """Load MKL globally in this process (before mlx is imported); idempotent."""
    global _loaded
    if _loaded is None:
        lib = mkl_library()
        _loaded = "reference"
        if lib and "mlx.core" not in sys.modules:
            share_cores_between_workers(os.environ)
            ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            _loaded = "mkl"
        elif sys.platform != "linux":
            _loaded = "platform"
    return _loaded


def share_cores_between_workers(env: MutableMapping[str, str]) -> None:
    """Under ``pytest -n N`` give each worker's MKL its share of the cores (at least one thread):
    mlx runs its CPU ops on one thread, and MKL's threads beyond a worker's share only spin beside
    the other workers (two processes side by side: 1.49x faster with one thread each,
    ``benchmarks/blas_threads.py``, whose products were bit for bit the same with one thread and
    with two). Where the environment sets ``MKL_NUM_THREADS``, or outside xdist, MKL keeps it or its
    own default."""
    workers = env.get("PYTEST_XDIST_WORKER_COUNT", "")
    if "MKL_NUM_THREADS" in env or not workers.isdigit() or int(workers) < 1:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    env["MKL_NUM_THREADS"] = str(max(1, cores // int(workers)))


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an mlx_lm subprocess: MKL preloaded when available (each xdist worker's
    share of the cores)."""
    env = dict(os.environ)
    lib = mkl_library()
    if lib:
        env["LD_PRELOAD"] = (lib + " " + env.get("LD_PRELOAD", "")).strip()
        share_cores_between_workers(env)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if extra:
        env.update(extra)
    return env
