"""Each xdist worker's MKL gets its share of the cores: its threads beyond that only spin beside
the other workers (benchmarks/blas_threads.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pytest_punie.blas import mkl_library, share_cores_between_workers, subprocess_env

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),  # not under xdist: MKL's own default
        ({"PYTEST_XDIST_WORKER_COUNT": "2"}, str(max(1, CORES // 2))),
        ({"PYTEST_XDIST_WORKER_COUNT": str(4 * CORES)}, "1"),  # more workers than cores: one each
        ({"PYTEST_XDIST_WORKER_COUNT": "1"}, str(CORES)),
        ({"PYTEST_XDIST_WORKER_COUNT": "2", "MKL_NUM_THREADS": "3"}, "3"),  # the person's own setting wins
        ({"PYTEST_XDIST_WORKER_COUNT": "auto"}, None),
    ],
)
def test_a_worker_s_share_of_the_cores(env, expected):
    env = dict(env)
    share_cores_between_workers(env)
    assert env.get("MKL_NUM_THREADS") == expected


@pytest.mark.skipif(mkl_library() is None, reason="MKL is what mlx's Linux CPU build is given here; none found")
def test_an_mlx_lm_child_of_a_worker_runs_mkl_with_that_share(monkeypatch):
    """The environment the plugin gives mlx_lm's processes: MKL itself reports the threads it will use."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(2 * CORES))
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    env = subprocess_env()
    assert env["MKL_NUM_THREADS"] == "1"
    probe = "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).MKL_Get_Max_Threads())"
    done = subprocess.run([sys.executable, "-c", probe, mkl_library()], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr
    for name in ("MKL_NUM_THREADS", "OMP_NUM_THREADS"):  # the test command's own setting (tests/conftest.py)
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", probe, mkl_library()], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == str(CORES), done.stderr  # MKL's own default: every core
