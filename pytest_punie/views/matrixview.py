"""The variant matrix and a checkpoint sweep as terminal lines."""

from __future__ import annotations

from pytest_punie.resultsformat import RunDocument, Sweep
from pytest_punie.views.formatting import pct


def best_by_eval_text(sweep: Sweep) -> str:
    """The sweep's best checkpoint by eval in words: one name, or each suite's own ("phase33 x, phase26 y")."""
    best = sweep["best_by_eval"]
    return str(best) if isinstance(best, str) or best is None else ", ".join(f"{k} {v}" for k, v in best.items())


def render_matrix_terminal(doc: RunDocument) -> list[str]:
    """The variant matrix and the checkpoint sweep as terminal lines."""
    lines = []
    matrix = doc.get("matrix")
    if matrix:
        variants = list(next(iter(matrix.values()))["variants"])
        w = max(12, *(len(name) for name in matrix))
        header = f"{'category':<{w}} " + " ".join(f"{v:>14}" for v in variants) + "  holds"
        lines += [header, "-" * len(header)]
        for name, row in matrix.items():
            marks = {True: "PASS", False: "FAIL", None: "-"}
            cells = " ".join(
                f"{(x['score'] or 0) * 100:>6.1f}% {marks[x['passed']]:>6}" for x in row["variants"].values()
            )
            holds = {True: "yes", False: "no", None: "-"}[row["holds"]]
            lines.append(f"{name:<{w}} {cells}  {holds}")
    sweep = doc.get("sweep")
    if sweep:
        lines.append("checkpoint sweep (eval score beside validation loss):")
        several = len({p.get("suite") for p in sweep["checkpoints"]}) > 1
        for p in sweep["checkpoints"]:
            val = "-" if p["val_loss"] is None else f"{p['val_loss']:.3f}"
            lines.append(
                f"  {p['suite'] + ' ' if several else ''}"
                f"{p['checkpoint']:<32} iter {p['iteration']!s:>6}  eval {pct(p['eval_score']):>6}  "
                f"strict {(p['strict_score'] or 0) * 100:5.1f}%  val loss {val}"
            )
        lines.append(f"best by eval: {best_by_eval_text(sweep)}; lowest val loss: {sweep['best_by_val_loss']}")
    return lines
