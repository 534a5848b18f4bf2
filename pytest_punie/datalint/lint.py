"""The data lint: one streaming pass over each file of a dataset, every registered check
(datalint/checks.py) run on each example and at the end of each file.

A dataset is a directory with ``train.jsonl`` and ``valid.jsonl`` (and
optionally ``test.jsonl``) in mlx-lm's ``messages`` (or ``text``) format.
Each line is parsed once and handed to every check; memory holds only
counters and 8-byte hashes of queries, never the examples.
"""

from __future__ import annotations

import json
from pathlib import Path

from pytest_punie.datalint.checkcontext import Example, FileEnd, FileMemory, LintConfig, PassMemory
from pytest_punie.datalint.checkregistry import DATA_CHECKS, file_ends
from pytest_punie.datalint.findings import Finding


def _lint_file(lint: PassMemory, path: Path, split: str) -> None:
    """Every example of one file through every check, then the checks' end-of-file parts."""
    read = DATA_CHECKS.get("format").fn  # reads the example: what it cannot read, no other check sees
    checks = [entry.fn for entry in DATA_CHECKS.entries() if entry.name != "format"]
    memory = FileMemory()
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                lint.add("format", "error", path, lineno, f"not valid JSON: {exc}")
                continue
            example = Example(lint, memory, path, lineno, split, obj)
            read(example)
            if example.messages is not None:
                for check in checks:
                    check(example)
    end = FileEnd(lint, memory, path, split)
    for at_end in file_ends():
        at_end(end)
        if not memory.examples:  # the format check said so: nothing else about the file is judged
            return


def lint_dataset(directory: Path, config: LintConfig) -> list[Finding]:
    """Lint train, then valid and test (which are checked against train)."""
    lint = PassMemory(config)
    directory = Path(directory)
    splits = [s for s in ("train", "valid", "test") if (directory / f"{s}.jsonl").is_file()]
    if "train" not in splits:
        lint.add("format", "error", directory / "train.jsonl", None, "missing: a dataset needs train.jsonl")
        return lint.findings
    for split in splits:
        _lint_file(lint, directory / f"{split}.jsonl", split)
    return lint.findings
