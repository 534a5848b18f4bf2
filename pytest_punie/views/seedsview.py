"""A sweep of training seeds as terminal lines."""

from __future__ import annotations

from pytest_punie.report.seeds import SuiteSeeds, score_number


def render_seeds_terminal(seeds: dict[str, SuiteSeeds]) -> list[str]:
    """The seeds section as terminal lines."""
    lines: list[str] = []
    for name, s in seeds.items():
        stopped = s.get("stopped_at") or {}
        for seed, why in (s.get("not_measured") or {}).items():
            gate = f"stopped at the stage gate '{stopped[seed]}'" if seed in stopped else "not measured"
            lines.append(f"suite {name}: seed {seed} {gate} (left out of every figure below): {why}")
        for seed, how in (s.get("resumed") or {}).items():
            lines.append(f"suite {name}: seed {seed}'s adapter was {how}")
        if not s["seeds"]:
            lines.append(f"suite {name}: no training seed measured: no spread, interval or rule computed")
            continue
        heads = "  ".join(f"{'seed ' + str(x):>8}" for x in s["seeds"])
        partial = "not_measured" in s
        covers = f" (the figures cover {s['covers']})" if partial and "covers" in s else ""
        n = len(s["seeds"])
        lines.append(f"suite {name}: {n} training seed{'s' if n != 1 else ''}{covers}")
        lines.append(
            f"{'category':<16}{heads}  {'min':>6} {'median':>6} {'max':>6} {'sd':>6}  interval (seeds x prompts)"
        )
        for row in [*s["categories"], s["overall"]]:
            cells = "  ".join(f"{score_number(row['per_seed'][str(x)]['score']) * 100:>7.1f}%" for x in s["seeds"])
            sd = "-" if row["sd"] is None else f"{row['sd'] * 100:.1f}"
            iv = row.get("interval")
            ivs = f"{iv['low'] * 100:.1f}-{iv['high'] * 100:.1f}%" if iv else "-"
            lines.append(
                f"{row['name']:<16}{cells}  {row['min'] * 100:>5.1f}% {row['median'] * 100:>5.1f}% "
                f"{row['max'] * 100:>5.1f}% {sd:>6}  {ivs}"
            )
        luck = s["decided_by_luck"]
        lines.append(
            f"prompts decided by the seed (pass on some seeds, fail on others): {len(luck)} of {len(s['prompts'])}"
            + (f": {', '.join(luck[:12])}{' ...' if len(luck) > 12 else ''}" if luck else "")
        )
        rule = s.get("rule")
        if rule:
            oc = ", ".join(
                f"{o['pass_probability']:.2f} at {o['rate'] * 100:.0f}%" for o in rule["operating_characteristic"]
            )
            lines.append(f"reproducibility: {rule['verdict']}: {rule['why']}")
            lines.append(f"  this rule passes with probability {oc} (true pass rate; binomial over prompts)")
    return lines
