"""The parity figures as people read them: a terminal table and an HTML section (per model and bits:
KL to the reference, its tail, top-1 agreement, the base's own KL beside it, and the worst tokens)."""

from __future__ import annotations

from typing import Any

from pytest_punie.views.formatting import esc, pct

HEAD = ("model", "bits", "KL mean", "p95", "p99", "top-1", "base KL", "share", "tokens", "")


def _row(p: dict[str, Any]) -> tuple[str, ...]:
    """One model's figures as table cells."""
    share = p.get("kl_share_of_base")
    return (
        str(p.get("model") or p.get("candidate", {}).get("path", "")),
        str(p.get("bits") or "-"),
        f"{p['kl_mean']:.4f}",
        f"{p['kl_p95']:.4f}",
        f"{p['kl_p99']:.4f}",
        pct(p["top1_agreement"]),
        f"{p['base_kl_mean']:.4f}",
        pct(share) if isinstance(share, float) and share != float("inf") else "-",
        str(p["positions"]),
        "PASS" if p.get("passed") else "FAIL",
    )


def render_parity_terminal(rows: list[dict[str, Any]]) -> list[str]:
    """The parity table: each model under test against base + adapter as trained."""
    lines = ["parity: KL(reference || model) per assistant token of the gold transcripts, in nats; "
             "reference = base + adapter as trained (unfused); share = the model's KL / the base's"]  # fmt: skip
    cells = [HEAD, *(_row(p) for p in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEAD))]
    for c in cells:
        padded = [x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(c, widths, strict=True))]
        lines.append("  ".join(padded))
    for p in rows:
        gold = p.get("gold") or {}
        digest = str(gold.get("digest"))[:19]
        lines.append(f"{p.get('model')}: {p['transcripts']} transcripts of {gold.get('path')} ({digest})")
        lines += [f"  {problem}" for problem in p.get("problems") or []]
        for w in (p.get("worst") or [])[:3]:
            lines.append(
                f"  worst: KL {w['kl']:.3f} after {w['context']!r}: gold {w['gold']!r}, "
                f"reference {w['reference_top']!r}, model {w['candidate_top']!r}"
            )
    return lines


def render_parity_html(rows: list[dict[str, Any]]) -> str:
    """The HTML report's parity section (empty when the run measured none)."""
    if not rows:
        return ""
    head = "".join(f"<th>{esc(h)}</th>" for h in HEAD)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _row(p)) + "</tr>" for p in rows)
    worst = "".join(
        f"<li>{esc(p.get('model'))}: KL {w['kl']:.3f} after <code>{esc(w['context'])}</code>: gold "
        f"<code>{esc(w['gold'])}</code>, reference <code>{esc(w['reference_top'])}</code>, model "
        f"<code>{esc(w['candidate_top'])}</code></li>"
        for p in rows
        for w in (p.get("worst") or [])[:5]
    )
    problems = "".join(f"<div class=warn>{esc(x)}</div>" for p in rows for x in p.get("problems") or [])
    return (
        "<h2 id=parity>Parity: is the model you ship the model you trained?</h2>"
        "<p class=small>KL(reference || model) per assistant token of the gold transcripts (nats); the "
        "reference is the base plus the adapter as trained, unfused; the base's own KL is the yardstick.</p>"
        f"{problems}<table class=parity><tr>{head}</tr>{body}</table><ul class=small>{worst}</ul>"
    )
