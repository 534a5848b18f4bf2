"""Across variants: does a result hold at every temperature (the "format
lock" question), and which checkpoint is best by eval (not by val loss)."""

from __future__ import annotations

from pathlib import Path

from pytest_punie.metrics import exact_score, mean_score
from pytest_punie.resultsformat import JsonObject, MatrixRow, RunDocument, Sweep, SweepPoint


def matrix_of(doc: RunDocument) -> dict[str, MatrixRow]:
    """Each row's score and verdict at every variant, and whether it holds at all of them."""
    rows: dict[str, MatrixRow] = {}
    several = len({s["path"] for s in doc["suites"]}) > 1  # rows of two suites never share a name
    for suite in doc["suites"]:
        v = suite.get("variant", "")
        metrics = [(f"metric: {n}", m) for n, m in (suite.get("metrics") or {}).items()]
        for name, c in [*suite["categories"].items(), ("overall", suite["overall"]), *metrics]:
            row = rows.setdefault(f"{suite['suite']}:{name}" if several else name, {"variants": {}})
            row["variants"][v] = {"score": c["score"], "passed": c["passed"]}
    for row in rows.values():
        verdicts = [x["passed"] for x in row["variants"].values()]
        row["holds"] = None if any(p is None for p in verdicts) else all(verdicts)
    return rows


def sweep_of(doc: RunDocument, identities: dict[str, JsonObject]) -> Sweep:
    """A checkpoint sweep: each checkpoint's eval score beside its validation loss, and the best by each."""
    from pytest_punie.checks.trainlog import parse_training_log

    points: list[SweepPoint] = []
    for suite in doc["suites"]:
        v = suite.get("variant", "")
        ident = identities.get(v, {})
        ckpt = ident.get("checkpoint")
        if not ckpt:
            continue
        it = ident.get("iteration")
        val = None
        log_path = Path(ckpt).parent / "train.log"
        if log_path.is_file() and it is not None:
            vals = [(i, loss) for i, loss, _ in parse_training_log(log_path).val if i <= it]
            val = vals[-1][1] if vals else None
        strict = mean_score(
            [exact_score(p, "strict") for p in doc["prompts"] if p.get("variant") == v and p["suite"] == suite["path"]]
        )
        points.append(
            {
                "suite": suite["suite"],
                "variant": v,
                "checkpoint": Path(ckpt).name,
                "iteration": it,
                "eval_score": suite["overall"]["score"],
                "strict_score": round(float(strict), 6) if strict is not None else None,
                "val_loss": val,
                "passed": suite["overall"]["passed"],
                "digest": ident.get("digest"),
            }
        )
    by_suite: dict[str, str | None] = {}
    for name in dict.fromkeys(p["suite"] for p in points):  # each suite's own best: their scores do not mix
        mine = [p for p in points if p["suite"] == name]
        best = max(mine, key=lambda p: (p["eval_score"] or 0, -(p["iteration"] or 0)))
        by_suite[name] = best["checkpoint"]
    by_val = min(
        (p for p in points if p["val_loss"] is not None), key=lambda p: float(p["val_loss"] or 0.0), default=None
    )
    return {
        "checkpoints": points,
        "best_by_eval": next(iter(by_suite.values())) if len(by_suite) == 1 else by_suite,
        "best_by_val_loss": by_val and by_val["checkpoint"],
    }
