"""The HTML report's charts, read back from what headless Chromium rendered: three reports (a plain
run, a gated run, a checkpoint sweep), each mark checked against the results document it was
drawn from, and a screenshot of each taken with the network switched off."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_punie.gate.compare import compare
from pytest_punie.report import build_document
from pytest_punie.report.matrix import matrix_of, sweep_of
from pytest_punie.verdict import judge_suite
from pytest_punie.views.charts import LABEL_W, PLOT_W
from pytest_punie.views.html import render_html

from ..verdict.test_reference_tables import results_of
from .test_html import PROVENANCE, chromium, rendered


class Marks(HTMLParser):
    """Every element of a rendered page with its attributes, in document order."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def of(self, tag: str, cls: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and cls in a.get("class", "").split()]


def _document(phase33, fixture: str, variant: str = ""):
    results = [dataclasses.replace(r, variant=variant) for r in results_of(phase33, fixture)]
    return judge_suite(phase33, results), results


@pytest.fixture
def plain(phase33):
    return build_document([_document(phase33, "phase43a_responses.jsonl")], PROVENANCE)


@pytest.fixture
def gated(phase33, plain):
    baseline = build_document([_document(phase33, "phase33b_responses.jsonl")], PROVENANCE)
    result = compare(plain, baseline, {"critical": []})
    return {**plain, "gate": result.to_dict(), "comparison": {**result.comparison, "baseline_name": "prod"}}


@pytest.fixture
def sweep(phase33, tmp_path):
    """Two checkpoints of one adapter folder, its training log beside them, as a --punie-checkpoints run."""
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "train.log").write_text(
        "Iter 100: Val loss 2.500, Val took 1.0s\nIter 200: Val loss 2.100, Val took 1.0s\n", encoding="utf-8"
    )
    entries = [
        _document(phase33, "phase43a_responses.jsonl", "ckpt=100"),
        _document(phase33, "phase33b_responses.jsonl", "ckpt=200"),
    ]
    doc = build_document(entries, PROVENANCE)
    identities = {
        f"ckpt={it}": {"checkpoint": str(adapter / f"{it:07d}_adapters.safetensors"), "iteration": it}
        for it in (100, 200)
    }
    return {**doc, "matrix": matrix_of(doc), "sweep": sweep_of(doc, identities)}


def page_of(doc, path: Path) -> Marks:
    path.write_text(render_html(doc), encoding="utf-8")
    return Marks(rendered(path))


def _near(a: str, b: float) -> bool:
    return abs(float(a) - b) < 0.051


def test_a_plain_run_draws_a_bar_threshold_and_interval_per_category(plain, tmp_path):
    marks = page_of(plain, tmp_path / "plain.html")
    suite = plain["suites"][0]
    rows = {**suite["categories"], "overall": suite["overall"]}
    bars = {a["data-name"]: a for a in marks.of("rect", "bar")}
    assert set(bars) == set(rows)  # one bar per category and the overall, nothing else
    for name, row in rows.items():
        assert float(bars[name]["data-value"]) == row["score"]
        assert _near(bars[name]["width"], row["score"] * PLOT_W)
        assert ("fail" in bars[name]["class"]) == (row["passed"] is False)
    thresholds = {a["data-name"]: a for a in marks.of("line", "threshold")}
    assert set(thresholds) == set(rows)
    for name, row in rows.items():
        assert float(thresholds[name]["data-value"]) == row["threshold_value"]
        assert _near(thresholds[name]["x1"], LABEL_W + row["threshold_value"] * PLOT_W)
    whiskers = {a["data-name"]: a for a in marks.of("g", "interval")}
    assert set(whiskers) == set(rows)
    for name, row in rows.items():
        assert (float(whiskers[name]["data-low"]), float(whiskers[name]["data-high"])) == (
            row["interval"]["low"],
            row["interval"]["high"],
        )
    modes = {a["data-label"]: int(a["data-count"]) for a in marks.of("rect", "mode")}
    assert modes == suite["failure_modes"]
    assert not marks.of("path", "baseline")  # no comparison, no baseline marks
    failed = [n for n, c in suite["categories"].items() if c["passed"] is False]
    sentence = f"{len(failed)} of {len(suite['categories'])} categories below threshold: {', '.join(failed)}"
    assert sentence in (tmp_path / "plain.html").read_text()


def test_a_gated_run_marks_the_baseline_and_shows_both_answers(gated, tmp_path):
    marks = page_of(gated, tmp_path / "gated.html")
    comp = gated["comparison"]
    triangles = {a["data-name"]: float(a["data-value"]) for a in marks.of("path", "baseline")}
    assert triangles == {name: c["baseline"] for name, c in comp["categories"].items()}
    flips = {a["data-id"] for a in marks.of("tr", "flip") if "answer" not in a["class"]}
    assert flips == {f["id"] for f in comp["flips"]} and flips
    answers = marks.of("tr", "answer")
    assert len(answers) == 27  # every prompt both runs answered, side by side
    first_same = next(i for i, a in enumerate(answers) if "flip" not in a["class"])
    assert all("flip" in a["class"] for a in answers[:first_same])  # the flips come first
    text = (tmp_path / "gated.html").read_text()
    changed = [a for a in answers if a["data-same"] == "no"]
    assert changed and text.count("<pre class=diff>") == len(changed)
    assert "<del>" in text and "<ins>" in text


def test_a_checkpoint_sweep_draws_the_matrix_with_the_best_and_val_loss(sweep, tmp_path):
    marks = page_of(sweep, tmp_path / "sweep.html")
    cells = {(a["data-name"], a["data-variant"]): a for a in marks.of("rect", "cell")}
    expected = {}
    for suite in sweep["suites"]:
        for name, row in [*suite["categories"].items(), ("overall", suite["overall"])]:
            expected[(name, suite["variant"])] = row
    assert set(cells) == set(expected)
    for key, row in expected.items():
        assert float(cells[key]["data-value"]) == row["score"]
        assert cells[key]["data-passed"] == {True: "PASS", False: "FAIL"}[row["passed"]]
    best = sweep["sweep"]["best_by_eval"]
    point = next(p for p in sweep["sweep"]["checkpoints"] if p["checkpoint"] == best)
    assert [a["data-variant"] for a in marks.of("text", "best")] == [point["variant"]]
    losses = {a["data-variant"]: float(a["data-value"]) for a in marks.of("text", "val-loss")}
    assert losses == {"ckpt=100": 2.5, "ckpt=200": 2.1}


def test_screenshots_of_the_three_reports_load_with_no_network(plain, gated, sweep, tmp_path):
    import subprocess

    for name, doc in (("plain", plain), ("gated", gated), ("sweep", sweep)):
        page = tmp_path / f"{name}.html"
        page.write_text(render_html(doc), encoding="utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.read_text())
        shot = tmp_path / f"{name}.png"
        done = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--host-resolver-rules=MAP * ~NOTFOUND",  # any fetch would fail: the page needs none
                f"--user-data-dir={tmp_path / 'profile'}",
                "--window-size=1280,2000",
                f"--screenshot={shot}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        png = shot.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a drawn page, not a blank one
