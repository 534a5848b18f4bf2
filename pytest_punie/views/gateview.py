"""The comparison as text: terminal lines and a Markdown document."""

from __future__ import annotations

from pytest_punie.resultsformat import Comparison, LockComparison, RegressionRow, RunDocument
from pytest_punie.views.formatting import pct


def _ci(iv: list[float] | tuple[float, float] | None) -> str:
    return "-" if not iv else f"[{iv[0] * 100:.0f}, {iv[1] * 100:.0f}]"


def render_gate_terminal(doc: RunDocument) -> list[str]:
    """The gate's verdict, deltas and flips as terminal lines."""
    gate, comp = doc["gate"], doc["comparison"]
    if comp.get("kind") == "seed sets":
        name = comp.get("baseline_name")
        return [f"baseline: {name}", *seed_set_lines(comp), f"GATE: {gate['verdict']}"] + [
            f"  - {r}" for r in gate["reasons"]
        ]
    lines = [f"baseline: {comp.get('baseline_name')} ({(comp['baseline'].get('model') or {}).get('digest', '?')[:19]})"]
    lines += scope_lines(comp)
    cols = f"{'baseline':>8} {'cand.':>7} {'delta':>7} {'worse':>5} {'better':>6} {'p':>6}"
    header = f"{'category':<12} {cols}  pass-rate 95% CI"
    lines += [header, "-" * len(header)]
    for name, c in _rows(comp):
        lines.append(
            f"{name:<12} {pct(c['baseline']):>8} {pct(c['candidate']):>7} {c['delta'] * 100:>+6.1f} "
            f"{c['worse']:>5} {c['better']:>6} {c['p_value']:>6.3f}  {_ci(c['candidate_interval'])}"
        )
    if comp["label_moves"]:
        lines.append(
            "label changes: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(comp["label_moves"].items(), key=lambda kv: -kv[1]))
        )
    if comp.get("format_lock"):
        lines.append(lock_line(comp["format_lock"]))
    lines.append(f"GATE: {gate['verdict']}")
    lines += [f"  - {r}" for r in gate["reasons"]]
    return lines


def _rows(comp: Comparison) -> list[tuple[str, RegressionRow]]:
    """Categories, overall, then the suite-level metrics (said as metrics)."""
    rows = list(comp["categories"].items())
    return rows + [(f"metric {name}", m) for name, m in (comp.get("metrics") or {}).items()]


def what_n_prompts_can_show(comp: Comparison) -> str:
    """How far one flipped prompt moves the overall score and the smallest category's,
    from the sizes actually compared (not a suite size assumed)."""
    overall_row = comp["categories"].get("overall")
    overall = (overall_row["prompts"] if overall_row else 0) or 0
    sizes = [int(c.get("prompts") or 0) for name, c in comp["categories"].items() if name != "overall"]
    sizes = [n for n in sizes if n]
    if not overall:
        return "No prompts were compared."
    text = f"What {overall} prompts can show: one flip moves the overall score by {100 / overall:.1f} points"
    if sizes:
        text += f" and a {min(sizes)}-prompt category by {100 / min(sizes):.0f} points"
    return text + "; a change smaller than the intervals above is not evidence either way."


def scope_lines(comp: Comparison) -> list[str]:
    """Says when the two runs were compared on the prompts both have only."""
    scope = comp.get("scope")
    if not scope or not scope["restricted"]:
        return []
    return [
        f"compared on the {scope['common_prompts']} prompts both runs have (candidate {scope['candidate_prompts']}, "
        f"baseline {scope['baseline_prompts']}); each side's scores recomputed on them"
    ]


def render_gate_markdown(doc: RunDocument) -> str:
    """The gate's verdict, deltas and flips as Markdown (CI summaries, --punie-compare-md)."""
    gate, comp = doc["gate"], doc["comparison"]
    if comp.get("kind") == "seed sets":
        head = [f"# Regression gate: {gate['verdict']}", "", f"- baseline `{comp.get('baseline_name')}` (a seed set)"]
        return "\n".join(head + [f"- {r}" for r in gate["reasons"]] + ["", *seed_set_lines(comp)]) + "\n"
    out = [f"# Regression gate: {gate['verdict']}", ""]
    out += [f"_{line}_" for line in scope_lines(comp)]
    out += [f"- {r}" for r in gate["reasons"]]
    base_model = comp["baseline"].get("model") or {}
    model = doc["provenance"].get("model") or {}
    out += [
        "",
        f"- baseline `{comp.get('baseline_name')}`: `{base_model.get('digest')}` ({comp['baseline'].get('time')})",
        f"- candidate: `{model.get('digest')}` ({doc['provenance'].get('time')})",
        f"- test: exact McNemar on flipped prompts, alpha {gate.get('alpha')}; intervals: Wilson 95% on pass rates",
        "",
    ]
    out += [
        "| category | baseline | candidate | delta | worse | better | p | candidate pass rate 95% CI |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, c in _rows(comp):
        out.append(
            f"| {name} | {pct(c['baseline'])} | {pct(c['candidate'])} | {c['delta'] * 100:+.1f} | "
            f"{c['worse']} | {c['better']} | {c['p_value']:.3f} | {_ci(c['candidate_interval'])} |"
        )
    if comp["flips"]:
        out += ["", "| prompt | category | baseline | candidate |", "|---|---|---|---|"]
        for f in comp["flips"]:
            out.append(
                f"| {f['id']} | {f['category']} | {'pass' if f['from'] else 'fail'} ({f['score_from']:.2f}) | "
                f"{'pass' if f['to'] else 'fail'} ({f['score_to']:.2f}) |"
            )
    if comp["label_moves"]:
        out += ["", "Label changes: " + ", ".join(f"{k} ({v})" for k, v in comp["label_moves"].items())]
    if comp.get("format_lock"):
        out += ["", lock_line(comp["format_lock"])]
    out += ["", what_n_prompts_can_show(comp)]
    return "\n".join(out) + "\n"


def lock_line(lock: LockComparison) -> str:
    """One line for the terminal and Markdown."""
    return (
        f"format lock {lock['verdict']}: median margin change {lock['median_change']:+.2f} nats over "
        f"{lock['prompts']} prompts ({lock['test']}: p = {lock['p_value']:.4f})"
    )


def seed_set_lines(comp: Comparison) -> list[str]:
    """The seed-set comparison as lines (terminal and Markdown)."""
    lines = [f"seed sets compared ({comp['method']}):"]
    for path, c in comp["suites"].items():
        iv = c["interval"]
        lines.append(
            f"{path}: baseline {c['baseline_pass_rate'] * 100:.1f}% over {c['baseline_seeds']} seeds, candidate "
            f"{c['candidate_pass_rate'] * 100:.1f}% over {c['candidate_seeds']}, "
            f"difference {c['difference'] * 100:+.1f} points (95% {iv['low'] * 100:+.1f} to {iv['high'] * 100:+.1f}), "
            f"{c['prompts']} prompts"
        )
    return lines
