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
            ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            _loaded = "mkl"
        elif sys.platform != "linux":
            _loaded = "platform"
    return _loaded


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an mlx_lm subprocess: MKL preloaded when available."""
    env = dict(os.environ)
    lib = mkl_library()
    if lib:
        env["LD_PRELOAD"] = (lib + " " + env.get("LD_PRELOAD", "")).strip()
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if extra:
        env.update(extra)
    return env
