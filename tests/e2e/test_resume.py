"""The overnight run survives a kill, for real: a short tiny recipe (16 LoRA iterations, a checkpoint
every 4) is stopped with real signals (SIGTERM to pytest, SIGKILL to the training child, SIGKILL to
the whole process group), at a checkpoint boundary and between two; the rerun resumes from the last
whole checkpoint with mlx-lm's --resume-adapter-file, trains only the iterations left (counted in
the log, not on a clock), records the resume, and the stage gates read the whole log."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_punie.checks.trainlog import parse_training_log

from ..conftest import ROOT, cache_dir

pytestmark = pytest.mark.slow

PLANNED = 16
ENTRY = """
[tool.pytest.ini_options]
testpaths = ["evalsuites"]

[tool.punie.models.short]
recipe = "tiny"
lora_params = { iters = 16, save_every = 4, steps_per_report = 2, steps_per_eval = 8, val_batches = 4 }
expect = { min_loss_decrease = -10.0 }  # 2-iteration train-loss reports are too noisy to bound
# these tests are about the training's resume: its two parity gates (about 35 s a build, a build a
# test) are tested by tests/checks/test_parity.py and by every cold build of the embedded model
parity_gate = false
"""
RUN = ["-p", "no:cacheprovider", "--punie-model=short", "-m", "eval", "-k", "lsp-01", "-q"]
# a checkpoint boundary: its adapter and then its training state saved (lorarun's line): resumes at 8
AT_CHECKPOINT_8 = re.compile(r"state\s+0000008_resume\.json")
AT_ITERATION_6 = re.compile(r"^\[punie\]\s+6\s+\d")  # between checkpoints 4 and 8: resumes at 4


@pytest.fixture
def short_project(tmp_path: Path, tiny_model) -> tuple[Path, dict[str, str]]:
    """A user's project with the short recipe, and its own cache holding the tiny base already
    built (tokenizer, base, 4-bit base copied from this run's cache): only the adapter is trained."""
    project = tmp_path / "project"
    (project / "evalsuites").mkdir(parents=True)
    for name in ("phase26", "phase33"):
        shutil.copy(ROOT / "evalsuites" / f"{name}.yaml", project / "evalsuites")
    shutil.copytree(ROOT / "data", project / "data")
    (project / "pyproject.toml").write_text(ENTRY)
    cache = tmp_path / "cache"
    for step in ("tokenizer", "base-qwen3", "q4"):
        shutil.copytree(cache_dir() / step, cache / step)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PUNIE_"))}
    env["PUNIE_CACHE_DIR"] = str(cache)
    return project, env


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(d))
    return out


def run_killed(project: Path, env: dict[str, str], trigger: re.Pattern[str], how: str) -> tuple[int, str]:
    """The main job, stopped with a real signal once ``trigger`` is seen in its live output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *RUN],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 600
    for line in proc.stdout:
        seen.append(line)
        if trigger.search(line) or time.monotonic() > deadline:
            break
    assert trigger.search(seen[-1]), "".join(seen)[-3000:]
    if how == "sigterm to pytest":
        proc.send_signal(signal.SIGTERM)
    elif how == "sigkill to the training child":
        kids = [k for k in children_of(proc.pid) if b"lora" in Path(f"/proc/{k}/cmdline").read_bytes()]
        assert len(kids) == 1, kids
        os.kill(kids[0], signal.SIGKILL)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=300)
    return proc.returncode, "".join(seen) + rest


def rerun(project: Path, env: dict[str, str], *extra: str) -> tuple[dict, str]:
    """The same command again, to the end: its results document and output."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *RUN, "--punie-json=out.json", *extra],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = done.stdout + done.stderr
    assert done.returncode in (0, 1), out[-4000:]  # a verdict (the tiny model may pass or miss lsp-01)
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    doc = json.loads((project / "out.json").read_text())
    assert doc["verdict"] in ("PASS", "FAIL") and not doc["completeness"].get("unanswered")
    assert doc["completeness"]["state"] == "partial"  # -k lsp-01: one prompt of the suite, asked for
    assert [p["id"] for p in doc["prompts"]] == ["lsp-01"]
    assert all(p["error"] is None and p["response"]["choices"][0]["message"] for p in doc["prompts"])
    return doc, out


def adapter_build(doc: dict) -> dict:
    return next(b for b in doc["provenance"]["model"]["builds"] if b["step"] == "adapter")


def assert_trained_once_to_the_plan(log_file: Path, resumed_at: int | None) -> None:
    """The whole log: every report iteration once (the lost work after the checkpoint is not in it),
    the planned count reached; the resumed part ran only the iterations left."""
    log = parse_training_log(log_file)
    assert log.crash is None and log.planned_iters == PLANNED and log.last_iter == PLANNED
    assert [it for it, _, _ in log.train] == list(range(2, PLANNED + 1, 2))
    text = log_file.read_text()
    commands = [line for line in text.splitlines() if line.startswith("$ ")]
    if resumed_at is None:
        assert log.resumed == [] and len(commands) == 1
        return
    assert [at for at, _ in log.resumed] == [resumed_at]
    assert len(commands) == 2 and f"--iters {PLANNED - resumed_at}" in commands[1]
    assert "--resume-adapter-file" in commands[1] and f"{resumed_at:07d}_adapters.safetensors" in commands[1]
    after = text.split("[punie] resumed at iteration", 1)[1]
    from pytest_punie.models.logformat import ANSI, TABLE_TRAIN

    local = [int(m.group(1)) for line in after.splitlines() if (m := TABLE_TRAIN.match(ANSI.sub("", line)))]
    assert local == list(range(2, PLANNED - resumed_at + 1, 2))  # the rerun trained the rest, no more


# each way of being killed, at a checkpoint and between two; the training child killed between
# checkpoints and the process group killed at one are the first and second kills of
# test_killed_twice_the_resumed_adapter_is_the_uninterrupted_one_bit_for_bit (the same assertions,
# and the adapter compared bit for bit), so they are not run twice
KILLS = [
    ("sigterm to pytest", AT_CHECKPOINT_8, 8),
    ("sigterm to pytest", AT_ITERATION_6, 4),
    ("sigkill to the training child", AT_CHECKPOINT_8, 8),
    ("sigkill to the process group", AT_ITERATION_6, 4),
]


@pytest.mark.parametrize(("how", "trigger", "resumes_at"), KILLS, ids=[f"{h}-at-{r}" for h, _, r in KILLS])
def test_a_killed_training_run_resumes_from_its_last_whole_checkpoint(short_project, how, trigger, resumes_at):
    project, env = short_project
    cache = Path(env["PUNIE_CACHE_DIR"])
    code, out = run_killed(project, env, trigger, how)
    assert "INTERNALERROR" not in out, out[-3000:]
    if how == "sigterm to pytest":
        assert code == 2 and "KeyboardInterrupt: SIGTERM" in out, out[-3000:]
    elif how == "sigkill to the training child":
        assert code != 0 and "mlx_lm lora failed (exit -9)" in out, out[-3000:]
    else:
        assert code == -signal.SIGKILL
    if how == "sigkill to the process group":  # nothing ran after the kill: the folder is set aside by the rerun
        assert list((cache / "tmp").glob("adapter-*"))
    else:
        assert "kept the interrupted adapter build's checkpoints" in out, out[-3000:]
        assert len(list((cache / "partial").iterdir())) == 1
    doc, again = rerun(project, env)
    assert f"resuming the adapter at iteration {resumes_at} of {PLANNED}" in again, again[-3000:]
    record = adapter_build(doc)
    assert record["built_now"] and record["resumed"]["at"] == resumes_at and record["resumed"]["of"] == PLANNED
    assert record["resumed"]["iterations_run"] == PLANNED - resumes_at
    resumed = record["resumed"]
    assert (
        resumed["exact"] and resumed["restarted"] == [] and "optimizer state (moments and step)" in resumed["restored"]
    )
    assert [p["to"] for p in resumed["parts"]] == [resumes_at, PLANNED]  # each process's iterations, timed
    assert_trained_once_to_the_plan(Path(record["path"]) / "train.log", resumes_at)
    assert any(b["step"] == "fused" for b in doc["provenance"]["model"]["builds"])  # the log gate passed
    assert not list((cache / "partial").iterdir()) and not list((cache / "tmp").glob("adapter-*"))
    checkpoints = sorted(p.name for p in Path(record["path"]).glob("*_adapters.safetensors"))
    assert checkpoints == [f"{i:07d}_adapters.safetensors" for i in range(4, PLANNED + 1, 4)]


def test_a_checkpoint_cut_while_written_is_skipped_for_the_one_before(short_project):
    project, env = short_project
    cache = Path(env["PUNIE_CACHE_DIR"])
    run_killed(project, env, AT_CHECKPOINT_8, "sigkill to the process group")
    (stale,) = list((cache / "tmp").glob("adapter-*"))
    last = stale / "0000008_adapters.safetensors"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # as if killed while mlx wrote it
    doc, out = rerun(project, env)
    assert adapter_build(doc)["resumed"]["at"] == 4, out[-3000:]
    assert_trained_once_to_the_plan(Path(adapter_build(doc)["path"]) / "train.log", 4)


def test_no_resume_trains_from_iteration_one_and_drops_what_was_kept(short_project):
    project, env = short_project
    cache = Path(env["PUNIE_CACHE_DIR"])
    run_killed(project, env, AT_CHECKPOINT_8, "sigterm to pytest")
    assert len(list((cache / "partial").iterdir())) == 1
    doc, out = rerun(project, env, "--punie-no-resume")
    assert "resuming" not in out and "resumed" not in adapter_build(doc)
    assert_trained_once_to_the_plan(Path(adapter_build(doc)["path"]) / "train.log", None)
    assert not list((cache / "partial").iterdir())


def keep_rates(cache: Path, **per_unit: float) -> None:
    """This machine's measured rates as the cache keeps them (``build_adapter`` -> ``build:adapter``)."""
    (cache / "rates.json").write_text(json.dumps({k.replace("_", ":", 1): [v] for k, v in per_unit.items()}))


def test_a_budget_the_plan_cannot_fit_is_refused_before_any_step(short_project):
    project, env = short_project
    cache = Path(env["PUNIE_CACHE_DIR"])
    keep_rates(cache, build_adapter=5.0)  # 5 s an iteration measured here: 16 iterations ~80 s
    before = (cache / "rates.json").read_text()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *RUN, "--punie-budget=30s"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 4, out[-3000:]
    assert "plan for --punie-budget=30s (30 s):" in out and "build adapter (16 iterations): to do, ~80 s" in out
    assert "build tokenizer: cached" in out and "build q4: cached" in out
    assert "not started. What does not fit: build adapter (16 iterations) (~80 s)" in out, out[-3000:]
    assert "Traceback" not in out and "INTERNALERROR" not in out
    assert not (cache / "adapter").exists() and not list((cache / "partial").glob("*"))
    assert not list((cache / "tmp").glob("adapter-*")) and "mlx_lm" not in out  # nothing was started
    assert (cache / "rates.json").read_text() == before


def test_a_budget_spent_mid_run_ends_incomplete_and_its_finishing_command_finishes_from_the_caches(short_project):
    project, env = short_project
    cache = Path(env["PUNIE_CACHE_DIR"])
    keep_rates(cache, build_adapter=0.01)  # far too hopeful: the plan fits, the training does not
    stopped = subprocess.run(
        [sys.executable, "-m", "pytest", *RUN, "--punie-budget=8s", "--punie-json=stopped.json"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = stopped.stdout + stopped.stderr
    assert stopped.returncode == 7, out[-4000:]  # INCOMPLETE: never a verdict
    assert "build adapter (16 iterations): to do, ~0 s" in out and "Traceback" not in out
    doc = json.loads((project / "stopped.json").read_text())
    assert doc["verdict"] == "INCOMPLETE" and [u["id"] for u in doc["completeness"]["unanswered"]] == ["lsp-01"]
    reason = doc["completeness"]["reasons"][0]
    assert "not started within --punie-budget=8s" in reason and "build fused" in reason, reason
    command = re.search(r"finish with (pytest .*?)(?:;|$)", reason).group(1)
    assert "--punie-budget" not in command and "-k lsp-01" in command
    adapter = next(cache.glob("adapter/*"))  # the work that was running was finished and kept
    assert parse_training_log(adapter / "train.log").last_iter == PLANNED
    assert not (cache / "fused").exists()  # what did not fit was not started
    rates = json.loads((cache / "rates.json").read_text())
    assert rates["build:adapter"][-1] > 0.01  # the real rate was measured and kept for the next plan
    import shlex

    finish = subprocess.run(
        [sys.executable, "-m", "pytest", *shlex.split(command)[1:], "--punie-json=out.json"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    again = finish.stdout + finish.stderr
    assert finish.returncode in (0, 1), again[-4000:]
    doc = json.loads((project / "out.json").read_text())
    assert doc["verdict"] in ("PASS", "FAIL") and not doc["completeness"].get("unanswered")
    assert all(p["error"] is None and p["response"]["choices"][0]["message"] for p in doc["prompts"])
    builds = {b["step"]: b for b in doc["provenance"]["model"]["builds"]}
    assert not builds["adapter"]["built_now"] and builds["fused"]["built_now"], builds  # from the cache


AT_CHECKPOINT_12 = re.compile(r"state\s+0000012_resume\.json")


def test_killed_twice_the_resumed_adapter_is_the_uninterrupted_one_bit_for_bit(short_project):
    """The same recipe trained uninterrupted in one cache, and in another killed twice (SIGKILL of
    the training child between checkpoints 4 and 8, then of the whole process group at checkpoint
    12) and run a third time: the adapters, every checkpoint, every train and validation loss and
    the eval's answer are equal; no validation pass was repeated; each resume restored the state."""
    project, env = short_project
    reference_cache = Path(env["PUNIE_CACHE_DIR"]).with_name("reference-cache")
    shutil.copytree(env["PUNIE_CACHE_DIR"], reference_cache)
    reference_doc, _ = rerun(project, {**env, "PUNIE_CACHE_DIR": str(reference_cache)})
    reference = Path(adapter_build(reference_doc)["path"])

    cache = Path(env["PUNIE_CACHE_DIR"])
    code, out = run_killed(project, env, AT_ITERATION_6, "sigkill to the training child")
    assert code != 0 and "mlx_lm lora failed (exit -9)" in out, out[-3000:]
    assert "kept the interrupted adapter build's checkpoints" in out and len(list((cache / "partial").iterdir())) == 1
    code, out = run_killed(project, env, AT_CHECKPOINT_12, "sigkill to the process group")
    assert code == -signal.SIGKILL and "resuming the adapter at iteration 4 of 16" in out, out[-3000:]
    assert list((cache / "tmp").glob("adapter-*"))  # nothing ran after the kill: the rerun sets the folder aside
    doc, out = rerun(project, env)
    record = adapter_build(doc)
    resumed = Path(record["path"])
    at = record["resumed"]["at"]
    assert at == 12 and record["resumed"]["exact"] and record["resumed"]["restarted"] == [], record
    assert [p["from"] for p in record["resumed"]["parts"]] == [0, 4, at]

    names = ["adapters.safetensors", *(f"{i:07d}_adapters.safetensors" for i in range(4, PLANNED + 1, 4))]
    for name in names:
        assert (resumed / name).read_bytes() == (reference / name).read_bytes(), name
    ours, theirs = parse_training_log(resumed / "train.log"), parse_training_log(reference / "train.log")
    assert [(i, loss) for i, loss, _ in ours.train] == [(i, loss) for i, loss, _ in theirs.train]
    assert [(i, loss) for i, loss, _ in ours.val] == [(i, loss) for i, loss, _ in theirs.val]
    assert [i for i, _, _ in ours.val] == [1, 8, 16]  # no resumed part validated at its first iteration
    assert [a for a, _ in ours.resumed] == [4, at]
    text = (resumed / "train.log").read_text()
    assert text.count("[punie] equivalent to: mlx_lm lora --train") == 3 and "restored" in text

    def answer(d: dict) -> list[int]:
        return d["prompts"][0]["response"]["punie"]["token_ids"]

    assert answer(doc) == answer(reference_doc) and len(answer(doc)) > 5  # the eval's answer, token for token
    assert not list((cache / "partial").iterdir()) and not list((cache / "tmp").glob("adapter-*"))
