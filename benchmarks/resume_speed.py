"""A training run killed at 80%, rerun: resumed from its last checkpoint vs trained from scratch
(prints a table, one run).

The tiny recipe at its real length (60 LoRA iterations, here a checkpoint every 12 so there is one
at 48, the 80% mark) in a project of its own, with the tiny base already built (copied from the
project's cache). Each side: the main job is started, SIGKILLed as a process group the moment
mlx-lm reports the checkpoint at 48 (a power cut, in effect), then rerun to the end: once as is
(it resumes at 48 and trains 12 iterations), once with ``--punie-no-resume`` (60 again). Counted:
the iterations each rerun trained (from its log) and its wall time, whole and the adapter step's own.

    python benchmarks/resume_speed.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENTRY = """
[tool.pytest.ini_options]
testpaths = ["evalsuites"]

[tool.punie.models.night]
recipe = "tiny"
lora_params = { save_every = 12 }
expect = { min_loss_decrease = -10.0 }  # the gate's bound on the train loss: a 60-iteration run may miss it
"""
RUN = ["-p", "no:cacheprovider", "--punie-model=night", "-m", "eval", "-k", "lsp-01", "-q", "--punie-json=out.json"]
AT_80 = re.compile(r"state\s+0000048_resume\.json")  # the checkpoint and its training state saved


def project_with_base(where: Path, entry: str = ENTRY) -> tuple[Path, dict[str, str]]:
    """A project registering ``entry`` and a cache holding the tiny base (built into the project's
    cache first if missing)."""
    from pytest_punie.models.cache import BuildCache, default_cache_dir
    from pytest_punie.models.resolve import resolve_spec
    from pytest_punie.models.tiny.tinyrecipe import build_base

    home = BuildCache(default_cache_dir(ROOT), log=lambda m: print(m, file=sys.stderr))
    build_base(home, ROOT, resolve_spec("tiny_5bit", ROOT).entry, home.log)
    project = where / "project"
    (project / "evalsuites").mkdir(parents=True)
    for name in ("phase26", "phase33"):
        shutil.copy(ROOT / "evalsuites" / f"{name}.yaml", project / "evalsuites")
    shutil.copytree(ROOT / "data", project / "data")
    (project / "pyproject.toml").write_text(entry)
    cache = where / "cache"
    for step in ("tokenizer", "base-qwen3", "q4"):
        shutil.copytree(home.root / step, cache / step)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PUNIE_"))}
    env["PUNIE_CACHE_DIR"] = str(cache)
    return project, env


def kill_at_80(project: Path, env: dict[str, str]) -> float:
    """The main job until the checkpoint at 48 of 60, then SIGKILL to its process group; its seconds."""
    t = time.perf_counter()
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
    for line in proc.stdout:
        if AT_80.search(line):
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return time.perf_counter() - t


def rerun(project: Path, env: dict[str, str], *extra: str) -> tuple[float, dict, str]:
    """The same command to the end: its seconds, results document and output."""
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *RUN, *extra],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    secs = time.perf_counter() - t
    doc = json.loads((project / "out.json").read_text())
    return secs, doc, done.stdout


def trained_in_rerun(adapter: Path) -> int:
    """Iterations the rerun trained, from its own part of the log (after the resume marker, if any)."""
    from pytest_punie.models.logformat import ANSI, TABLE_TRAIN

    text = (adapter / "train.log").read_text()
    part = text.split("[punie] resumed at iteration", 1)[-1]
    its = [int(m.group(1)) for line in part.splitlines() if (m := TABLE_TRAIN.match(ANSI.sub("", line)))]
    return max(its, default=0)


def main() -> None:
    rows = []
    for label, extra in (
        ("resumed at 48 (the default)", ()),
        ("from scratch (--punie-no-resume)", ("--punie-no-resume",)),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            project, env = project_with_base(Path(tmp))
            killed = kill_at_80(project, env)
            secs, doc, out = rerun(project, env, *extra)
            if "model" not in doc["provenance"]:
                sys.exit(f"{label}: the rerun built no model:\n{out[-3000:]}")
            adapter = next(b for b in doc["provenance"]["model"]["builds"] if b["step"] == "adapter")
            record = json.loads((Path(adapter["path"]) / "punie-build.json").read_text())
            answered = sum(1 for p in doc["prompts"] if p["response"] and not p["error"])
            rows.append(
                (
                    label,
                    killed,
                    trained_in_rerun(Path(adapter["path"])),
                    record["seconds"],
                    secs,
                    answered,
                    (adapter.get("resumed") or {}).get("at"),
                )
            )
    day = time.strftime("%Y-%m-%d")
    print(f"tiny recipe, 60 iterations, killed at the checkpoint at 48 (80%), rerun to the end ({day})")
    heads = ("killed after", "iterations", "adapter s", "rerun s", "answered", "resumed at")
    print(f"{'rerun':<36} " + " ".join(f"{h:>12}" for h in heads))
    for label, killed, its, adapter_s, secs, answered, at in rows:
        cells = (f"{killed:.1f}s", its, f"{adapter_s:.1f}", f"{secs:.1f}", f"{answered}/1", at if at else "-")
        print(f"{label:<36} " + " ".join(f"{c!s:>12}" for c in cells))
    (_, _, its_r, ad_r, s_r, _, _), (_, _, its_s, ad_s, s_s, _, _) = rows
    print(
        f"ratios (resumed / from scratch): iterations {its_r}/{its_s} = {its_r / its_s:.2f}, "
        f"adapter step {ad_r / ad_s:.2f}, whole rerun {s_r / s_s:.2f}"
    )


if __name__ == "__main__":
    main()
