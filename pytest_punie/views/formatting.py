"""How every view writes a value: one percentage formatter and one HTML escape, so the terminal,
Markdown, HTML, charts and the gate's report never disagree about a rounding or a quote."""

from __future__ import annotations

import html
from typing import Any


def pct(x: float | None) -> str:
    """A fraction 0..1 as a percentage with one decimal ("-" when not measured)."""
    return "-" if x is None else f"{x * 100:.1f}%"


def esc(value: Any) -> str:
    """Any value as HTML text or an attribute value, quotes included."""
    return html.escape(str(value), quote=True)
