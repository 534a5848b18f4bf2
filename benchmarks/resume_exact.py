"""The embedded recipe killed twice at random iterations, finished, and compared with the same seed
trained uninterrupted (prints a table, one run).

    python benchmarks/resume_exact.py [--seed 2194] [--kills-seed 0]

Two projects with the tiny base already built (copied from the project's cache), the embedded
recipe (60 LoRA iterations, a checkpoint and a validation every 20) at ``--seed``. One runs the main
job on the whole phase33 suite uninterrupted. The other is SIGKILLed as a process group at two
random iterations (drawn with ``--kills-seed``, the second after the first resume point), then run
to the end. Compared: the final adapter and each checkpoint (bytes), the validation losses, the
stage gates' outcome, the 27 answers (token for token), what each resume restored, and the wall time
of each training process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
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
lora_params = {{ seed = {seed} }}
"""
RUN = ["-p", "no:cacheprovider", "--punie-model=night", "-m", "eval", "evalsuites/phase33.yaml", "-q"]


def project(where: Path, seed: int) -> tuple[Path, dict[str, str]]:
    """A project of the embedded recipe at ``seed`` and a cache holding the tiny base."""
    from resume_speed import project_with_base  # benchmarks/ is the script's own folder on sys.path

    return project_with_base(where, ENTRY.format(seed=seed))


def killed_after(proj: Path, env: dict[str, str], checkpoint: int, delay: float) -> bool:
    """The main job until ``delay`` seconds after the checkpoint at ``checkpoint`` and its training
    state are saved (the embedded recipe reports every 20 iterations, so a random iteration is a
    random time after a checkpoint), then SIGKILL to its process group. False: it ended first."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *RUN, "--punie-json=killed.json"],
        cwd=proj, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    trigger = re.compile(rf"state\s+{checkpoint:07d}_resume\.json")
    for line in proc.stdout:
        if trigger.search(line):
            time.sleep(delay)
            break
    alive = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive


def finished(proj: Path, env: dict[str, str]) -> dict:
    """The main job to its end: its results document."""
    subprocess.run([sys.executable, "-m", "pytest", *RUN, "--punie-json=out.json"], cwd=proj, env=env,
                   capture_output=True, check=False)  # fmt: skip
    return json.loads((proj / "out.json").read_text())


def main() -> None:
    """Both trainings, and the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2194)
    parser.add_argument("--kills-seed", type=int, default=0)
    args = parser.parse_args()
    from pytest_punie.checks.trainlog import parse_training_log

    draw = random.Random(args.kills_seed)
    first, second = round(draw.uniform(0.5, 12.0), 1), round(draw.uniform(0.5, 12.0), 1)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ref_proj, ref_env = project(Path(tmp) / "uninterrupted", args.seed)
        ref_doc = finished(ref_proj, ref_env)
        ref_s = time.perf_counter() - t
        proj, env = project(Path(tmp) / "killed", args.seed)
        t = time.perf_counter()
        killed = killed_after(proj, env, 20, first) and killed_after(proj, env, 40, second)
        doc = finished(proj, env)
        killed_s = time.perf_counter() - t

        def adapter(d: dict) -> dict:
            return next(b for b in d["provenance"]["model"]["builds"] if b["step"] == "adapter")

        ref, ours = Path(adapter(ref_doc)["path"]), Path(adapter(doc)["path"])
        names = ["adapters.safetensors", "0000020_adapters.safetensors", "0000040_adapters.safetensors"]
        same = {n: (ref / n).read_bytes() == (ours / n).read_bytes() for n in names}
        ref_log, log = parse_training_log(ref / "train.log"), parse_training_log(ours / "train.log")

        def answers(d: dict) -> dict[str, list[int]]:
            return {p["id"]: (p["response"] or {}).get("punie", {}).get("token_ids") for p in d["prompts"]}

        ref_answers, our_answers = answers(ref_doc), answers(doc)
        equal = sum(1 for k, v in ref_answers.items() if v and our_answers.get(k) == v)
        resumed = adapter(doc).get("resumed") or {}
        parts = resumed.get("parts", [])
    print(
        f"embedded recipe, seed {args.seed}, killed {first} s after the checkpoint at 20 and {second} s after the "
        f"one at 40 (SIGKILL to the process group){'' if killed else ': NOT KILLED, a run ended first'}"
    )
    print(f"{'':<34} {'uninterrupted':>16} {'killed twice':>16}")
    ref_val, our_val = str([v for _, v, _ in ref_log.val]), str([v for _, v, _ in log.val])
    print(f"{'validation losses':<34} {ref_val:>16} {our_val:>16}")
    print(f"{'verdict of the main job':<34} {ref_doc['verdict']:>16} {doc['verdict']:>16}")
    print(f"{'overall score':<34} {ref_doc['overall']['mean_score']:>16.4f} {doc['overall']['mean_score']:>16.4f}")
    print(f"{'wall time, all runs':<34} {ref_s:>15.1f}s {killed_s:>15.1f}s")
    for name, eq in same.items():
        print(f"  {name:<32} {'equal bytes' if eq else 'DIFFERENT':>33}")
    print(f"  answers equal token for token: {equal} of {len(ref_answers)}")
    at = [a for a, _ in log.resumed]
    print(f"  resumes at {at}; exact: {resumed.get('exact')}; restarted: {resumed.get('restarted')}")
    print("  training processes: " + ", ".join(f"{p['from']}-{p['to']} {p['seconds']:.1f}s" for p in parts))


if __name__ == "__main__":
    main()
