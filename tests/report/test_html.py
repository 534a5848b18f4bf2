"""The single-file HTML report: self-contained, every prompt, and filters that
work in a real browser (Debian's headless Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from pytest_punie.report import build_document
from pytest_punie.verdict import judge_suite
from pytest_punie.views.html import render_html

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
    assert text.count("<tr class=prompt data-id=") == 27
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
            "--virtual-time-budget=20000",
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
    dom = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)  # the rows drawn, not the script's text
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


def test_a_report_of_50000_prompts_stays_small_and_finds_a_prompt_by_filter(phase33, tmp_path):
    """phase33's 27 judged answers as 50,000 prompts (copies with their own ids): the page stays one
    offline file under 25 MB, its rows compressed in it; in a real browser the table is drawn a page
    at a time, and the id filter finds one prompt among all 50,000, as the category filter counts all."""
    import dataclasses

    import yaml

    from pytest_punie.suite import load_suite

    with open(phase33.path) as f:
        data = yaml.safe_load(f)
    copies = -(-50000 // 27)
    data["prompts"] = [{**p, "id": f"{p['id']}-{c}"} for c in range(copies) for p in data["prompts"]][:50000]
    path = tmp_path / "scaled.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps(data)), sort_keys=False))  # no shared nodes: no aliases
    scaled = load_suite(path)
    judged = {r.id: r for r in results_of(phase33, "phase33b_responses.jsonl")}
    results = [dataclasses.replace(judged[p.id.rsplit("-", 1)[0]], id=p.id, suite=str(path)) for p in scaled.prompts]
    doc = build_document([(judge_suite(scaled, results), results)], PROVENANCE)
    page = tmp_path / "big.html"
    page.write_text(render_html(doc), encoding="utf-8")
    assert page.stat().st_size < 25e6
    text = page.read_text()
    assert '<script id=punie-rows type="application/octet-stream">' in text and "<tr class=prompt" not in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    dom = rendered(page, "#id=text-01-1234")
    assert visible_prompts(dom) == ["text-01-1234"] and "1 of 50000 prompts shown" in dom
    dom = rendered(page, "#category=domain")
    domain = sum(p.category == "domain" for p in scaled.prompts)
    assert f"{domain} of 50000 prompts shown" in dom
    assert len(visible_prompts(dom)) == 100 and "page 1 of " in dom  # one page drawn
