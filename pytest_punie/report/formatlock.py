"""The format lock in the results: each prompt's P(opener) and margin (from its response's first
generated position), a per-category summary (the smallest margin, the prompts under 1 nat, the
prompts expected to open wrongly at each temperature) and the FRAGILE warning for prompts that
pass greedily on a thin lock."""

from __future__ import annotations

import re
from typing import cast

from pytest_punie.backends.firstposition import lock_of
from pytest_punie.resultsformat import LockSensitivity, LockSummary, PromptLock, PromptRow, RunDocument

THIN_NATS = 1.0
DEFAULT_MIN_P_OPENER = 0.9


def prompt_lock(prompt: PromptRow) -> PromptLock | None:
    """A document prompt's lock, or None when its response recorded no first position."""
    first = ((prompt.get("response") or {}).get("punie") or {}).get("first_position")
    if not first:
        return None
    expects_call = prompt["expected"]["kind"] != "direct"
    lock = cast(PromptLock, lock_of(first, expects_call))
    punie = (prompt.get("response") or {}).get("punie") or {}
    ids = punie.get("token_ids") or []
    lock["opened"] = bool(ids) and ids[0] == first["opener_id"]  # what this response's first token was
    paraphrased = punie.get("first_position_variants")
    if paraphrased:  # --punie-prompt-sensitivity: the same prompt under the suite's system-prompt paraphrases
        margins = [lock["margin"]] + [lock_of(f, expects_call)["margin"] for f in paraphrased if f]
        lock["system_prompts"] = len(margins)
        lock["margin_range"] = [min(margins), max(margins)]
    return lock


def _summary(locks: list[tuple[str, PromptLock]]) -> LockSummary:
    worst = min(locks, key=lambda x: x[1]["margin"])
    temps = sorted({t for _, m in locks for t in m["p_opener_at"]}, key=float)
    expected = {
        t: round(sum((1 - m["p_opener_at"][t]) if m["expects_call"] else m["p_opener_at"][t] for _, m in locks), 4)
        for t in temps
        if all(t in m["p_opener_at"] for _, m in locks)
    }
    ranged = [(i, m) for i, m in locks if "margin_range" in m]
    sensitivity: LockSensitivity | None = (
        {
            "system_prompts": max(m["system_prompts"] for _, m in ranged),
            "min_margin_any_system_prompt": min(m["margin_range"][0] for _, m in ranged),
            "widest_range": max(m["margin_range"][1] - m["margin_range"][0] for _, m in ranged),
            "prompts_changing_side": [i for i, m in ranged if m["margin_range"][0] < 0 < m["margin_range"][1]],
        }
        if ranged
        else None
    )
    return {
        **({"sensitivity": sensitivity} if sensitivity else {}),
        "prompts": len(locks),
        "min_margin": worst[1]["margin"],
        "min_margin_prompt": worst[0],
        "under_1_nat": [i for i, m in locks if m["margin"] < THIN_NATS],
        "expected_wrong_openings": expected,
        "observed_wrong_openings": sum(1 for _, m in locks if m["opened"] != m["expects_call"]),
    }


def add_format_lock(doc: RunDocument, min_p: dict[str, float]) -> None:
    """Adds ``format_lock`` to every prompt that recorded its first position, a ``format_lock``
    summary to each suite (per category and overall), and the FRAGILE warning."""
    fragile = []
    for p in doc["prompts"]:
        lock = prompt_lock(p)
        if lock is not None:
            p["format_lock"] = lock
    for s in doc["suites"]:
        mine = [p for p in doc["prompts"] if p["suite"] == s["path"] and p.get("variant", "") == s["variant"]]
        locks = [(p["id"], p["format_lock"]) for p in mine if "format_lock" in p]
        if not locks:
            continue
        category = {p["id"]: p["category"] for p in mine}
        cats = {c: [x for x in locks if category[x[0]] == c] for c in s["categories"]}
        threshold = float(min_p.get(s["suite"], DEFAULT_MIN_P_OPENER))
        s["format_lock"] = {
            "categories": {c: _summary(v) for c, v in cats.items() if v},
            "overall": _summary(locks),
            "min_p_opener": threshold,
            "temperature": _temperature(s["variant"]),
        }
        for p in mine:
            lock = p.get("format_lock")
            if lock and lock["expects_call"] and p["passed"] and lock["p_opener"] < threshold:
                fragile.append((s, p))
    if fragile:
        names = ", ".join(
            f"{p['id']}{'[' + s['variant'] + ']' if s['variant'] else ''} (P {p['format_lock']['p_opener']:.2f})"
            for s, p in fragile
        )
        doc.setdefault("warnings", []).append(
            {
                "code": "fragile-lock",
                "parser": None,
                "prompts": [p["id"] for _, p in fragile],
                "message": f"FRAGILE: {len(fragile)} prompt(s) pass greedily while P(opener) is below "
                f"{fragile[0][0]['format_lock']['min_p_opener']:.2f}: {names}; sampled, they lose the wrapper",
            }
        )


def _temperature(variant: str) -> float | None:
    m = re.search(r"(?:^|,)t=([0-9.]+)", variant)
    return float(m.group(1)) if m else None
