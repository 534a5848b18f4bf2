"""Across variants: does a result hold at every temperature (the "format
lock" question), and which checkpoint is best by eval (not by val loss)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def matrix_of(doc: dict[str, Any]) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for suite in doc["suites"]:
        v = suite.get("variant", "")
        for name, c in [*suite["categories"].items(), ("overall", suite["overall"])]:
            row = rows.setdefault(name, {"variants": {}})
            row["variants"][v] = {"score": c["score"], "passed": c["passed"]}
    for row in rows.values():
        verdicts = [x["passed"] for x in row["variants"].values()]
        row["holds"] = None if any(p is None for p in verdicts) else all(verdicts)
    return rows


def sweep_of(doc: dict[str, Any], identities: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from pytest_punie.checks.trainlog import parse_training_log

    points = []
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
        strict = [
            p["scores"]["strict"] for p in doc["prompts"] if p.get("variant") == v and p["suite"] == suite["path"]
        ]
        points.append(
            {
                "variant": v,
                "checkpoint": Path(ckpt).name,
                "iteration": it,
                "eval_score": suite["overall"]["score"],
                "strict_score": round(sum(strict) / len(strict), 6) if strict else None,
                "val_loss": val,
                "passed": suite["overall"]["passed"],
                "digest": ident.get("digest"),
            }
        )
    best = max(points, key=lambda p: (p["eval_score"] or 0, -(p["iteration"] or 0)), default=None)
    by_val = min((p for p in points if p["val_loss"] is not None), key=lambda p: p["val_loss"], default=None)
    return {
        "checkpoints": points,
        "best_by_eval": best and best["checkpoint"],
        "best_by_val_loss": by_val and by_val["checkpoint"],
    }


def render_matrix_terminal(doc: dict[str, Any]) -> list[str]:
    lines = []
    matrix = doc.get("matrix")
    if matrix:
        variants = list(next(iter(matrix.values()))["variants"])
        header = f"{'category':<12} " + " ".join(f"{v:>14}" for v in variants) + "  holds"
        lines += [header, "-" * len(header)]
        for name, row in matrix.items():
            marks = {True: "PASS", False: "FAIL", None: "-"}
            cells = " ".join(
                f"{(x['score'] or 0) * 100:>6.1f}% {marks[x['passed']]:>6}" for x in row["variants"].values()
            )
            holds = {True: "yes", False: "no", None: "-"}[row["holds"]]
            lines.append(f"{name:<12} {cells}  {holds}")
    sweep = doc.get("sweep")
    if sweep:
        lines.append("checkpoint sweep (eval score beside validation loss):")
        for p in sweep["checkpoints"]:
            val = "-" if p["val_loss"] is None else f"{p['val_loss']:.3f}"
            lines.append(
                f"  {p['checkpoint']:<32} iter {p['iteration']!s:>6}  eval {p['eval_score'] * 100:5.1f}%  "
                f"strict {(p['strict_score'] or 0) * 100:5.1f}%  val loss {val}"
            )
        lines.append(f"best by eval: {sweep['best_by_eval']}; lowest val loss: {sweep['best_by_val_loss']}")
    return lines
