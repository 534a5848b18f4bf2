"""How every view writes a number: one formatter, so the terminal, Markdown, HTML, charts and the
gate's report never disagree about a rounding."""

from __future__ import annotations


def pct(x: float | None) -> str:
    """A fraction 0..1 as a percentage with one decimal ("-" when not measured)."""
    return "-" if x is None else f"{x * 100:.1f}%"
