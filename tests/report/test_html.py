"""The single-file HTML report: self-contained, every prompt, and filters that
work in a real browser (Debian's headless Chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from pytest_punie.report import build_document
from pytest_punie.report.html import render_html
from pytest_punie.verdict import judge_suite

from ..verdict.test_reference_tables import results_of

PROVENANCE = {
    "time": "2026-11-22T00:00:00+00:00",
    "model": {"kind": "replay", "path": "responses.jsonl", "digest": "sha256:" + "0" * 64},
    "sampling": {"default": {"temperature": 0.0, "max_tokens": 512}, "overrides": {}},
    "versions": {"python": "3.x"},
}


@pytest.fixture
def page(phase33, tmp_path):
    results = results_of(phase33, "phase33b_responses.jsonl")
    doc = build_document([(judge_suite(phase33, results), results)], PROVENANCE)
    path = tmp_path / "report.html"
    path.write_text(render_html(doc), encoding="utf-8")
    return path


def test_the_report_is_one_file_with_no_network(page):
    text = page.read_text()
    assert text.count("<tr class=prompt data-category=") == 27
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # no CDN, no fetch
    assert '<script id=punie-data type="application/json">' in text
    assert "I would use hover on LoRAConfig to see its type." in text  # what the model wrote, per prompt


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Debian's chromium is needed for the HTML report test (.ci/run installs it)")
    return found


def rendered(page, fragment: str = "") -> str:
    """The DOM after the page's script ran, as headless Chromium sees it."""
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={page.parent / 'profile'}",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def visible_prompts(dom: str) -> list[str]:
    rows = re.findall(r'<tr class="prompt"([^>]*)>\s*<td>([^<]+)</td>', dom)
    return [pid for attrs, pid in rows if "hidden" not in attrs]


def test_every_prompt_shows_in_a_real_browser(page):
    dom = rendered(page)
    assert len(visible_prompts(dom)) == 27
    assert "27 of 27 prompts shown" in dom


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("#category=domain", 9),
        ("#label=prose", 1),
        ("#pass=no", 5),
        ("#category=domain&pass=no", 4),
    ],
)
def test_filters_work_in_a_real_browser(page, fragment, expected):
    dom = rendered(page, fragment)
    assert len(visible_prompts(dom)) == expected
    assert f"{expected} of 27 prompts shown" in dom
