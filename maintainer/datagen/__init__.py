"""Deterministic generator of Punie-format training data (``data/*.jsonl``).

Messages exactly like the users' data: system / user / assistant Code Mode
calls over the 26 tools with correct result-field access, ``<tool_response>``
turns carrying result reprs, final answers, and direct answers without tools.
Queries are held out from the eval suite: templates are written to differ
from every eval query, and a test checks no query is a near-copy of one.
The vocabulary (``vocabulary``), the tool examples (``tools``) and the direct
answers (``direct``) are rooms of their own; this module mixes them into splits.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from maintainer.datagen.direct import direct_example, direct_pool
from maintainer.datagen.tools import TOOLS, Example, multi_example, tool_example

SEED = 20261122
SPLITS = {"train": 700, "valid": 60, "test": 60}
SERVES = ("phase33", "phase26")  # the suites whose system prompts the embedded data is written with


def unique(make: Callable[[int], Example], count: int, seen: set[str]) -> list[Example]:
    """Up to ``count`` examples whose user queries are all different."""
    out: list[Example] = []
    for attempt in range(count * 20):
        if len(out) == count:
            break
        ex = make(attempt)
        q = ex["messages"][1]["content"]
        if q not in seen:
            seen.add(q)
            out.append(ex)
    return out


def generate(system_prompts: str | tuple[str, ...], seed: int = SEED) -> dict[str, list[Example]]:
    """All splits, each with the same mix: single-tool calls over every tool
    (~68%, a quarter of them with the tool response and final answer),
    multi-tool programs (~8%) and direct answers (~24%). Every user query
    is unique across all splits, so no validation query is also in train.

    With several system prompts (one per suite the data serves), the first is
    every example's, then a third of the examples get one of the others: the
    model learns to work under each suite's system prompt."""
    prompts = (system_prompts,) if isinstance(system_prompts, str) else tuple(system_prompts)
    system_prompt = prompts[0]
    rng = random.Random(seed)
    total = sum(SPLITS.values())
    seen: set[str] = set()
    pool = direct_pool()
    rng.shuffle(pool)
    direct = [direct_example(system_prompt, q, a) for q, a in pool[: round(total * 0.24)]]
    seen.update(ex["messages"][1]["content"] for ex in direct)
    multi = unique(lambda _: multi_example(rng, system_prompt), round(total * 0.08), seen)
    tools = list(TOOLS)
    single = unique(
        lambda i: tool_example(rng, system_prompt, tools[i % len(tools)], multi_turn=rng.random() < 0.25),
        total - len(direct) - len(multi),
        seen,
    )
    splits: dict[str, list[Example]] = {}
    taken = {"direct": 0, "multi": 0, "single": 0}
    groups = {"direct": direct, "multi": multi, "single": single}
    for name, count in SPLITS.items():
        part: list[Example] = []
        for g, items in groups.items():
            n = round(len(items) * count / total)
            part += items[taken[g] : taken[g] + n]
            taken[g] += n
        rng.shuffle(part)
        splits[name] = part
    if len(prompts) > 1:
        other = random.Random(seed + 1)  # its own stream: the examples themselves stay as they were
        for part in splits.values():
            for ex in part:
                if other.random() < 1 / 3:
                    ex["messages"][0]["content"] = other.choice(prompts[1:])
    return splits


def write_dataset(out_dir: str | Path, system_prompts: str | tuple[str, ...], seed: int = SEED) -> dict[str, Path]:
    """Writes the generated train/valid/test splits as mlx_lm lora reads them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, examples in generate(system_prompts, seed).items():
        path = out / f"{name}.jsonl"
        path.write_text("".join(json.dumps(ex, ensure_ascii=False) + "\n" for ex in examples), encoding="utf-8")
        paths[name] = path
    return paths
