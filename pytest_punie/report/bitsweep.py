"""A bits sweep's answer: for each width, parity with the adapter as trained, size on disk, decode
speed and the eval, and the smallest width within the parity bounds and the eval's thresholds
(a table for the terminal and the Markdown, a section with a chart for the HTML)."""

from __future__ import annotations

from typing import Any

from pytest_punie.resultsformat import JsonObject, RunDocument


def bits_sweep_of(doc: RunDocument, identities: dict[str, JsonObject]) -> dict[str, Any]:
    """Each width's row (its variant's parity record, size, speed, and every suite's verdict at it),
    and the smallest width that holds both, or why none does."""
    rows = []
    for variant, ident in identities.items():
        sweep = ident.get("bits_sweep")
        if not sweep:
            continue
        suites = [s for s in doc["suites"] if s.get("variant", "") == variant]
        parity = sweep["parity"]
        rows.append(
            {
                "variant": variant,
                "bits": sweep["bits"],
                "size_bytes": sweep["size_bytes"],
                "decode_tok_s": sweep["decode_tok_s"],
                "kl_mean": parity["kl_mean"],
                "kl_share_of_base": parity["kl_share_of_base"],
                "top1_agreement": parity["top1_agreement"],
                "parity_passed": parity["passed"],
                "scores": {s["suite"]: s["overall"]["score"] for s in suites},
                "eval_passed": bool(suites) and all(s["overall"]["passed"] for s in suites),
                "digest": ident.get("digest"),
            }
        )
    rows.sort(key=lambda r: (r["bits"], r["variant"]))
    holding = [r for r in rows if r["parity_passed"] and r["eval_passed"]]
    smallest = holding[0] if holding else None
    why = None
    if smallest is None:
        kept = [r["bits"] for r in rows if r["parity_passed"]]
        why = (
            f"no width holds both: parity holds at {kept or 'none'} bits; the eval's thresholds at "
            f"{[r['bits'] for r in rows if r['eval_passed']] or 'none'}"
        )
    return {"rows": rows, "smallest": smallest["bits"] if smallest else None, "why_none": why}
