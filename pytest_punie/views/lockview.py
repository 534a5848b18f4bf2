"""The format lock as terminal lines, per suite and category."""

from __future__ import annotations

from pytest_punie.resultsformat import RunDocument


def render_lock_terminal(doc: RunDocument) -> list[str]:
    """Per suite: the lock per category, and on a temperature sweep the expected wrong openings
    beside the observed ones (the probe checked against reality)."""
    lines = []
    for s in doc["suites"]:
        lock = s.get("format_lock")
        if not lock:
            continue
        name = s["suite"] + (f" [{s['variant']}]" if s["variant"] else "")
        lines.append(f"format lock {name}: first token, from the log-probabilities (no sampling)")
        lines.append(
            f"{'category':<16}{'prompts':>8} {'min margin (nats)':<22}{'< 1 nat':>8}  expected wrong openings at T"
        )
        for cat, c in [*lock["categories"].items(), ("overall", lock["overall"])]:
            exp = ", ".join(
                f"{t}: {v:.2f}" for t, v in c["expected_wrong_openings"].items() if t in ("0.3", "0.7", "1")
            )
            worst = f"{c['min_margin']:+.2f} {c['min_margin_prompt']}"
            lines.append(f"{cat:<16}{c['prompts']:>8} {worst:<22}{len(c['under_1_nat']):>8}  {exp}")
        sens = lock["overall"].get("sensitivity")
        if sens:
            lines.append(
                f"  under {sens['system_prompts']} system prompts: smallest margin "
                f"{sens['min_margin_any_system_prompt']:+.2f} nats, widest range {sens['widest_range']:.2f} nats, "
                f"{len(sens['prompts_changing_side'])} prompt(s) change side"
                + (f" ({', '.join(sens['prompts_changing_side'][:8])})" if sens["prompts_changing_side"] else "")
            )
        t = lock.get("temperature")
        if t:
            key = f"{t:g}"
            expected = lock["overall"]["expected_wrong_openings"].get(key)
            if expected is not None:
                lines.append(
                    f"  at T={key}: expected {expected:.2f} wrong first tokens of {lock['overall']['prompts']}; "
                    f"observed {lock['overall']['observed_wrong_openings']}"
                )
    return lines
