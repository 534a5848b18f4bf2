"""python -m maintainer.datagen [OUT_DIR]: writes the embedded data (data/ by default)."""

import sys
from pathlib import Path

from maintainer.datagen import SERVES, write_dataset
from pytest_punie.suite import load_suite

root = Path(__file__).resolve().parents[4]
# the suites the embedded data serves: Phase 33's system prompt first, Phase 26's on a third
systems = tuple(load_suite(root / "evalsuites" / f"{name}.yaml").system_prompt for name in SERVES)
target = sys.argv[1] if len(sys.argv) > 1 else root / "data"
for split, p in write_dataset(target, systems).items():
    print(split, p, sum(1 for _ in open(p)))
