"""A PNG chart of a run: per-category bars (the thresholded score), the
pre-registered threshold, the baseline's score when comparing, and the
Wilson 95% interval of each category's pass rate."""

from __future__ import annotations

from pathlib import Path

from pytest_punie.resultsformat import RunDocument


def render_chart(doc: RunDocument, path: Path) -> Path:
    """The opt-in PNG chart (--punie-chart) of the first suite's categories."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suite = doc["suites"][0]
    names = [*suite["categories"], "overall"]
    cats = [*suite["categories"].values(), suite["overall"]]
    base = (doc.get("comparison") or {}).get("categories", {})
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    xs = range(len(names))
    colors = ["#2e7d32" if c["passed"] else "#c62828" if c["passed"] is False else "#9e9e9e" for c in cats]
    ax.bar(xs, [(c["score"] or 0) * 100 for c in cats], color=colors, width=0.6, label="score (green: PASS)")
    for x, c in zip(xs, cats, strict=True):
        ax.hlines(
            c["threshold_value"] * 100,
            x - 0.35,
            x + 0.35,
            colors="black",
            linewidth=2,
            label="threshold" if x == 0 else "_nolegend_",
        )
        iv = c.get("interval")
        if iv:
            ax.errorbar(
                x + 0.22,
                iv["pass_rate"] * 100,
                yerr=[[(iv["pass_rate"] - iv["low"]) * 100], [(iv["high"] - iv["pass_rate"]) * 100]],
                fmt="o",
                color="#1565c0",
                markersize=3,
                capsize=3,
                label="pass rate, Wilson 95%" if x == 0 else "_nolegend_",
            )
    marked = [x for x, name in zip(xs, names, strict=True) if name in base and base[name]["baseline"] is not None]
    for x in marked:
        ax.plot(
            x,
            float(base[names[x]]["baseline"] or 0) * 100,  # marked: never None
            marker="D",
            color="#f9a825",
            markersize=7,
            linestyle="none",
            label="baseline score" if x == marked[0] else None,
        )
    ax.set_xticks(list(xs), names, rotation=20)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    model = (doc["provenance"].get("model") or {}).get("digest", "")[:19]
    ax.set_title(f"{suite['suite']} ({suite['scorer']} scorer) - {doc['verdict']} - model {model}", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
