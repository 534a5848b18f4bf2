"""Inline SVG charts for the single-file HTML report, drawn from the results
document alone: no script, no network, no chart library.

Every mark carries its value in ``data-*`` attributes (and a ``<title>`` a
browser shows on hover), so what a chart draws can be checked against the
document it was drawn from.
"""

from __future__ import annotations

from pytest_punie.resultsformat import CategoryRow, RunDocument, SuiteEntry, Sweep, row_key
from pytest_punie.views.formatting import esc, pct
from pytest_punie.views.terminal import judged_rows

LABEL_W = 190  # the row names' column
PLOT_W = 420  # 0% .. 100%
VALUE_W = 150  # the figures to the right of the plot
ROW_H = 24
TOP = 22  # the axis labels above the first row
CELL_W = 120  # one variant's column in the matrix


def _x(fraction: float) -> float:
    """Where a fraction 0..1 sits on the plot."""
    return round(LABEL_W + max(0.0, min(1.0, fraction)) * PLOT_W, 1)


def _axis(height: float) -> str:
    """Gridlines and labels at 0, 25, 50, 75 and 100%."""
    parts = []
    for tick in (0, 25, 50, 75, 100):
        x = _x(tick / 100)
        parts.append(f'<line class=grid x1="{x}" x2="{x}" y1="{TOP - 4}" y2="{height}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{x}" y="{TOP - 8}" text-anchor=middle font-size=11 fill="#666">{tick}%</text>')
    return "".join(parts)


def baseline_scores(doc: RunDocument, suite: SuiteEntry) -> dict[str, float]:
    """Each judged row's baseline score from the document's comparison, under the row's own name."""
    comp = doc.get("comparison") or {}
    if not comp.get("categories") and not comp.get("metrics"):
        return {}
    suites = doc.get("suites", [])
    out: dict[str, float] = {}
    for name, _row, kind in judged_rows(suite):
        source = comp.get("metrics") if kind == "metric" else comp.get("categories")
        key = name if kind == "overall" else row_key(suites, suite["suite"], suite.get("variant", ""), name)
        if kind == "overall" and len(suites) > 1:
            continue  # the comparison's overall spans every suite entry, not this one
        found = (source or {}).get(key)
        value = found.get("baseline") if found else None
        if value is not None:
            out[name] = float(value)
    return out


def _bar_row(name: str, row: CategoryRow, y: float, baseline: float | None) -> str:
    """One judged row: its bar, threshold mark, pass-rate interval and baseline mark."""
    score, passed = row.get("score"), row.get("passed")
    state = {True: "pass", False: "fail", None: "unjudged"}[passed]
    fill = {"pass": "#6cc08b", "fail": "#e07a6f", "unjudged": "#c9c9c9"}[state]
    mid = y + ROW_H / 2
    parts = [
        f'<g class=row data-name="{esc(name)}">',
        f'<text x="{LABEL_W - 8}" y="{mid + 4}" text-anchor=end font-size=12>{esc(name)}</text>',
        f'<rect class="bar {state}" data-name="{esc(name)}" data-value="{score if score is not None else ""}" '
        f'x="{LABEL_W}" y="{y + 4}" width="{_x(score or 0) - LABEL_W}" height="{ROW_H - 8}" fill="{fill}">'
        f"<title>{esc(name)}: {pct(score)} ({state})</title></rect>",
    ]
    iv = row.get("interval")
    if iv:
        lo, hi = _x(iv["low"]), _x(iv["high"])
        parts.append(
            f'<g class=interval data-name="{esc(name)}" data-low="{iv["low"]}" data-high="{iv["high"]}" '
            f'stroke="#333" stroke-width=1.2><title>pass rate {pct(iv.get("pass_rate"))}, 95% Wilson interval '
            f"{pct(iv['low'])} to {pct(iv['high'])} over {iv.get('n')} prompts</title>"
            f'<line x1="{lo}" x2="{hi}" y1="{mid}" y2="{mid}"/><line x1="{lo}" x2="{lo}" y1="{mid - 4}" '
            f'y2="{mid + 4}"/><line x1="{hi}" x2="{hi}" y1="{mid - 4}" y2="{mid + 4}"/></g>'
        )
    value = row.get("threshold_value")
    if value is not None:
        x = _x(float(value))
        parts.append(
            f'<line class=threshold data-name="{esc(name)}" data-value="{value}" x1="{x}" x2="{x}" y1="{y + 1}" '
            f'y2="{y + ROW_H - 1}" stroke="#111" stroke-width=2.5><title>threshold {esc(row.get("threshold"))}'
            "</title></line>"
        )
    text = f"{pct(score)} (threshold {row.get('threshold', '-')})"
    if baseline is not None:
        x = _x(baseline)
        parts.append(
            f'<path class=baseline data-name="{esc(name)}" data-value="{baseline}" d="M{x - 5},{y} L{x + 5},{y} '
            f'L{x},{y + 7} Z" fill="#1f5fbf"><title>baseline {pct(baseline)}</title></path>'
        )
        if score is not None:
            text += f" {(score - baseline) * 100:+.1f} vs baseline"
    parts.append(f'<text x="{LABEL_W + PLOT_W + 8}" y="{mid + 4}" font-size=11 fill="#444">{esc(text)}</text></g>')
    return "".join(parts)


def category_chart(suite: SuiteEntry, baseline: dict[str, float] | None = None) -> str:
    """A bar per category (and the overall, and each suite metric) with its threshold mark and
    the 95% Wilson interval of its pass rate; a triangle at the baseline's score when gated."""
    rows = judged_rows(suite)
    height = TOP + ROW_H * len(rows) + 6
    width = LABEL_W + PLOT_W + VALUE_W + 130
    body = "".join(
        _bar_row(name, row, TOP + i * ROW_H, (baseline or {}).get(name)) for i, (name, row, _) in enumerate(rows)
    )
    title = f"{suite['suite']}" + (f" [{suite['variant']}]" if suite.get("variant") else "")
    return (
        f'<svg class="chart categories" data-suite="{esc(title)}" role=img xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif">'
        f"<title>{esc(title)}: score per category against its threshold</title>{_axis(height)}{body}</svg>"
    )


def failure_mode_chart(suite: SuiteEntry) -> str:
    """How the suite's answers were labelled (wrapped-correct, prose, wrong tool...), as counted bars."""
    modes = sorted((suite.get("failure_modes") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    if not modes:
        return ""
    most = max(count for _, count in modes)
    height = ROW_H * len(modes) + 6
    width = LABEL_W + PLOT_W + 60
    bars = []
    for i, (label, count) in enumerate(modes):
        y = i * ROW_H
        good = label.endswith("-correct")
        bars.append(
            f'<text x="{LABEL_W - 8}" y="{y + ROW_H / 2 + 4}" text-anchor=end font-size=12>{esc(label)}</text>'
            f'<rect class=mode data-label="{esc(label)}" data-count="{count}" x="{LABEL_W}" y="{y + 4}" '
            f'width="{round(count / most * PLOT_W, 1)}" height="{ROW_H - 8}" fill="{"#6cc08b" if good else "#b9a3d6"}">'
            f"<title>{esc(label)}: {count}</title></rect>"
            f'<text x="{LABEL_W + count / most * PLOT_W + 6:.1f}" y="{y + ROW_H / 2 + 4}" font-size=11>{count}</text>'
        )
    return (
        f'<svg class="chart modes" role=img xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif"><title>answers by label</title>'
        f"{''.join(bars)}</svg>"
    )


def _colour(score: float | None) -> str:
    """Red through yellow to green as the score goes 0 -> 1; grey when not measured."""
    if score is None:
        return "#dddddd"
    return f"hsl({round(max(0.0, min(1.0, score)) * 120)}, 60%, 78%)"


def _best_variant(entries: list[SuiteEntry], sweep: Sweep | None) -> str | None:
    """The variant the report marks best: the sweep's best checkpoint by eval where there is one,
    else the highest overall score (the first of a tie)."""
    suite = entries[0]["suite"]
    best = sweep["best_by_eval"] if sweep else None
    best = best.get(suite) if isinstance(best, dict) else best
    for point in sweep["checkpoints"] if sweep else []:
        if point["suite"] == suite and point["checkpoint"] == best:
            return str(point["variant"])
    scored = [
        (e["overall"]["score"], -i, e["variant"])
        for i, e in enumerate(entries)
        if e["overall"].get("score") is not None
    ]
    return str(max(scored)[2]) if scored else None


def _matrix_header(entries: list[SuiteEntry], best: str | None, val: dict[str, float | None]) -> str:
    """The variants across the top, the best one marked, validation loss under each checkpoint."""
    cells = []
    for i, e in enumerate(entries):
        x = LABEL_W + i * CELL_W + CELL_W / 2
        v = e["variant"]
        mark = " \u2605 best" if v == best else ""
        cells.append(
            f'<text class="variant{" best" if v == best else ""}" data-variant="{esc(v)}" x="{x}" y="14" '
            f'text-anchor=middle font-size=12 font-weight="{"bold" if v == best else "normal"}">{esc(v)}{mark}</text>'
        )
        if v in val:
            loss = val[v]
            cells.append(
                f'<text class=val-loss data-variant="{esc(v)}" data-value="{"" if loss is None else loss}" x="{x}" '
                f'y="30" text-anchor=middle font-size=11 fill="#555">val loss {"-" if loss is None else f"{loss:.3f}"}'
                "</text>"
            )
    return "".join(cells)


def _matrix_cell(name: str, variant: str, row: CategoryRow, x: float, y: float, best: bool) -> str:
    """One category at one variant: coloured by score, PASS or FAIL against its threshold."""
    score, passed = row.get("score"), row.get("passed")
    word = {True: "PASS", False: "FAIL", None: "-"}[passed]
    edge = ' stroke="#111" stroke-width=2' if best else ' stroke="#fff"'
    return (
        f'<rect class=cell data-name="{esc(name)}" data-variant="{esc(variant)}" '
        f'data-value="{"" if score is None else score}" data-passed="{word}" x="{x}" y="{y}" width="{CELL_W}" '
        f'height="{ROW_H}" fill="{_colour(score)}"{edge}><title>{esc(name)} at {esc(variant)}: {pct(score)}, '
        f"threshold {esc(row.get('threshold'))}: {word}</title></rect>"
        f'<text x="{x + CELL_W / 2}" y="{y + ROW_H / 2 + 4}" text-anchor=middle font-size=11'
        f"{' font-weight=bold' if passed is False else ''}>{pct(score)} {word}</text>"
    )


def variant_matrix(entries: list[SuiteEntry], sweep: Sweep | None = None) -> str:
    """One suite's categories x its variants (checkpoints, temperatures, seeds), each cell coloured
    by score and marked PASS or FAIL against the category's threshold; the best variant outlined,
    validation loss under each checkpoint."""
    best = _best_variant(entries, sweep)
    val = {
        str(p["variant"]): p.get("val_loss")
        for p in (sweep["checkpoints"] if sweep else [])
        if p["suite"] == entries[0]["suite"]
    }
    rows = judged_rows(entries[0])
    top = 40 if val else 24
    height = top + ROW_H * len(rows) + 4
    width = LABEL_W + CELL_W * len(entries) + 110
    body = []
    for i, (name, first, kind) in enumerate(rows):
        y = top + i * ROW_H
        body.append(f'<text x="{LABEL_W - 8}" y="{y + ROW_H / 2 + 4}" text-anchor=end font-size=12>{esc(name)}</text>')
        for j, e in enumerate(entries):
            row = (e["categories"] if kind == "category" else e.get("metrics") or {}).get(name, {})
            row = e["overall"] if kind == "overall" else row
            body.append(_matrix_cell(name, e["variant"], row, LABEL_W + j * CELL_W, y, e["variant"] == best))
        body.append(
            f'<text x="{LABEL_W + CELL_W * len(entries) + 8}" y="{y + ROW_H / 2 + 4}" font-size=11 fill="#444">'
            f"threshold {esc(first.get('threshold', '-'))}</text>"
        )
    return (
        f'<svg class="chart matrix" data-suite="{esc(entries[0]["suite"])}" role=img '
        f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="system-ui,sans-serif"><title>{esc(entries[0]["suite"])}: categories by variant</title>'
        f"{_matrix_header(entries, best, val)}{''.join(body)}</svg>"
    )
