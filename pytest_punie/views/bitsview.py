"""A bits sweep as people read it: terminal lines, its answer in words, and an HTML chart."""

from __future__ import annotations

from typing import Any

from pytest_punie.views.formatting import esc, pct


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def smallest_line(sweep: dict[str, Any]) -> str:
    """The sweep's answer in one sentence."""
    if sweep.get("smallest") is None:
        return f"smallest bits within the parity bounds and the eval's thresholds: none ({sweep.get('why_none')})"
    row = next(r for r in sweep["rows"] if r["bits"] == sweep["smallest"])
    return (
        f"smallest bits within the parity bounds and the eval's thresholds: {row['bits']} "
        f"({_mb(row['size_bytes'])}, KL {row['kl_mean']:.4f}, {row['kl_share_of_base']:.1%} of the base's)"
    )


def render_bits_terminal(sweep: dict[str, Any]) -> list[str]:
    """The sweep as a table, then its answer."""
    head = ("bits", "size", "decode tok/s", "KL mean", "of base", "top-1", "parity", "eval")
    cells = [head] + [
        (
            str(r["bits"]),
            _mb(r["size_bytes"]),
            f"{r['decode_tok_s']:.1f}",
            f"{r['kl_mean']:.4f}",
            pct(r["kl_share_of_base"]),
            pct(r["top1_agreement"]),
            "PASS" if r["parity_passed"] else "FAIL",
            ", ".join(f"{k} {pct(v)}" for k, v in r["scores"].items()) + (" PASS" if r["eval_passed"] else " FAIL"),
        )
        for r in sweep["rows"]
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = [
        "  ".join(x.rjust(w) if i < 7 else x for i, (x, w) in enumerate(zip(c, widths, strict=True))) for c in cells
    ]
    return [*lines, smallest_line(sweep)]


def _chart(rows: list[dict[str, Any]]) -> str:
    """KL to the reference (bars, left scale) and each suite's score (dots, right scale) against bits."""
    if not rows:
        return ""
    width, height, pad = 420, 180, 40
    top = max(r["kl_mean"] for r in rows) or 1.0
    step = (width - 2 * pad) / max(len(rows), 1)
    parts = []
    for i, r in enumerate(rows):
        x = pad + i * step + step / 4
        h = (height - 2 * pad) * r["kl_mean"] / top
        parts.append(
            f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{step / 2:.1f}" height="{h:.1f}" fill="#8aa">'
            f"<title>{r['bits']} bits: KL {r['kl_mean']:.4f}</title></rect>"
            f'<text x="{x + step / 4:.1f}" y="{height - pad + 14}" font-size="11" text-anchor="middle">'
            f"{r['bits']} bits, {_mb(r['size_bytes'])}</text>"
        )
        for score in r["scores"].values():
            y = height - pad - (height - 2 * pad) * score
            parts.append(
                f'<circle cx="{x + step / 4:.1f}" cy="{y:.1f}" r="4" fill="#c44">'
                f"<title>score {score:.3f}</title></circle>"
            )
    return (
        f'<svg class=bits-chart width="{width}" height="{height}" role="img" '
        'aria-label="KL to the reference (bars) and eval score (dots) against bits">'
        f'<text x="{pad}" y="14" font-size="11">bars: KL (max {top:.4f}); dots: eval score (0 to 1)</text>'
        + "".join(parts)
        + "</svg>"
    )


def render_bits_html(sweep: dict[str, Any] | None) -> str:
    """The HTML report's bits-sweep section (empty without a sweep)."""
    if not sweep:
        return ""
    head = "".join(
        f"<th>{h}</th>" for h in ("bits", "size", "decode tok/s", "KL mean", "of base", "top-1", "parity", "eval")
    )
    body = "".join(
        f"<tr><td>{r['bits']}</td><td>{_mb(r['size_bytes'])}</td><td>{r['decode_tok_s']:.1f}</td>"
        f"<td>{r['kl_mean']:.4f}</td><td>{pct(r['kl_share_of_base'])}</td><td>{pct(r['top1_agreement'])}</td>"
        f"<td>{'PASS' if r['parity_passed'] else 'FAIL'}</td>"
        f"<td>{esc(', '.join(f'{k} {pct(v)}' for k, v in r['scores'].items()))} "
        f"{'PASS' if r['eval_passed'] else 'FAIL'}</td></tr>"
        for r in sweep["rows"]
    )
    return (
        f"<h2 id=bits>Bits sweep</h2><p>{esc(smallest_line(sweep))}</p>{_chart(sweep['rows'])}"
        f"<table class=bits><tr>{head}</tr>{body}</table>"
    )
