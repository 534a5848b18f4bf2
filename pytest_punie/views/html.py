"""A single-file HTML report: no network, no CDN. Styles, script and the
results document are inline, so the file can be attached to CI and opened
anywhere. Per-prompt rows filter by category, label, pass and served status
(also from the URL: ``report.html#label=prose&pass=no``) and open to show
the query, what the model wrote, the calls parsed, the expected tools, both
scores and the timings."""

from __future__ import annotations

import json
from typing import Any

from pytest_punie.resultsformat import Flip, PromptRow, RunDocument, SuiteEntry
from pytest_punie.scoring.parse import written_text
from pytest_punie.views.bitsview import render_bits_html
from pytest_punie.views.charts import baseline_scores, category_chart, failure_mode_chart, variant_matrix
from pytest_punie.views.execution import execution_lines, transcript_lines
from pytest_punie.views.formatting import esc, pct
from pytest_punie.views.matrixview import best_by_eval_text
from pytest_punie.views.pagedrows import FILTER_BINDING, PAGED_FROM, PAGED_SCRIPT, packed_rows
from pytest_punie.views.parityview import render_parity_html
from pytest_punie.views.sidebyside import side_by_side
from pytest_punie.views.terminal import agreement_lines, judged_rows, sampling_text, verdict_reason

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
.PASS{color:#17803d}.FAIL{color:#b3261e}.INVALID,.INCOMPLETE,.INCONCLUSIVE,.REFUSED{color:#8a5a00}
table{border-collapse:collapse;margin:.5em 0 1.2em}
td,th{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:.5em .8em;margin:.5em 0}
.pass{color:#17803d}.miss{color:#b3261e}.thin{color:#b3261e;font-weight:bold}pre{background:#f7f7f7;padding:.6em;white-space:pre-wrap;overflow-x:auto}
details{margin:0}summary{cursor:pointer}#filters label{margin-right:1em}.small{color:#666;font-size:12px}
svg.chart{display:block;margin:.4em 0 .8em;max-width:100%;height:auto}
.sbs{display:grid;grid-template-columns:1fr 1fr;gap:.8em}
del{background:#fbd3cf}ins{background:#cdeccf;text-decoration:none}
tr.flip td:first-child{border-left:4px solid #b3261e}
"""

_SCRIPT = """
const doc = JSON.parse(document.getElementById('punie-data').textContent);
const rows = Array.from(document.querySelectorAll('tr.prompt'));
const sel = {category: 'all', label: 'all', pass: 'all', served: 'all', id: ''};
function apply() {
  let shown = 0;
  const q = sel.id.toLowerCase();
  for (const r of rows) {
    const ok = Object.entries(sel).every(([k, v]) => k === 'id' || v === 'all' || r.dataset[k] === v) &&
      (!q || r.dataset.id.toLowerCase().includes(q));
    r.hidden = !ok; if (r.nextElementSibling) r.nextElementSibling.hidden = !ok;
    if (ok) shown++;
  }
  document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' prompts shown';
}
FILTER_BINDING
apply();
""".replace("FILTER_BINDING", FILTER_BINDING)


def _options(key: str, values: list[str]) -> str:
    opts = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in ["all", *values])
    return f'<label>{key} <select id="f-{key}">{opts}</select></label>'


def _categories(doc: RunDocument, suite: SuiteEntry) -> str:
    """A suite's chart (bars, thresholds, intervals, baseline marks), its failure modes and its table."""
    rows = []
    for name, c, kind in judged_rows(suite):
        name = f"metric: {name}" if kind == "metric" else name
        iv = c.get("interval")
        interval = f"[{iv['low']:.2f}, {iv['high']:.2f}]" if iv else "-"
        verdict = {True: "PASS", False: "FAIL", None: "not judged"}[c["passed"]]
        rows.append(
            f"<tr><td>{esc(name)}</td><td class=num>{c['prompts_run']}/{c['prompts']}</td>"
            f"<td class=num>{c['prompts_passed']}</td><td class=num>{pct(c['score'])}</td>"
            f"<td>{esc(c['threshold'])}</td><td class=num>{interval}</td><td>{verdict}</td></tr>"
        )
    head = "<tr><th>category</th><th>prompts</th><th>passed</th><th>score</th><th>threshold</th>"
    head += "<th>pass rate 95% CI (prompts)</th><th>verdict</th></tr>"
    title = suite["suite"] + (f" [{suite['variant']}]" if suite.get("variant") else "")
    heading = f"<h2>{esc(title)} <span class=small>({esc(suite['path'])}, scorer {esc(suite['scorer'])})</span></h2>"
    chart = category_chart(suite, baseline_scores(doc, suite))
    legend = (
        "<p class=small>bar: the thresholded score; black mark: the pre-registered threshold; whisker: the 95% "
        "Wilson interval of the pass rate over the prompts"
        + ("; blue triangle: the baseline's score" if doc.get("comparison") else "")
        + "</p>"
    )
    modes = failure_mode_chart(suite)
    modes = f"<p class=small>answers by label</p>{modes}" if modes else ""
    return f"{heading}{chart}{legend}{modes}<table>{head}{''.join(rows)}</table>"


def _execution(details: dict[str, Any]) -> str:
    """What the programs did in the sandbox: each call, what it returned or raised, what was printed."""
    lines = execution_lines(details)
    if not lines:
        return ""
    return (
        "<details class=execution><summary>in the sandbox</summary><pre>" + esc("\n".join(lines)) + "</pre></details>"
    )


def _transcript(response: dict[str, Any] | None) -> str:
    """A conversation's later turns (the tool responses, the model's answers), collapsible."""
    lines = transcript_lines(response)
    if not lines:
        return ""
    return (
        "<details class=transcript><summary>the conversation after the tool</summary><pre>"
        + esc("\n".join(lines))
        + "</pre></details>"
    )


def _lock_cell(p: PromptRow) -> str:
    """P(opener) and the margin in nats at the first generated position ("-": not recorded)."""
    lock = p.get("format_lock")
    if not lock:
        return "-"
    thin = " class=thin" if lock["margin"] < 1.0 else ""
    return f"<span{thin}>{lock['p_opener']:.2f}, {lock['margin']:+.2f}</span>"


def _lock_summary(suite: SuiteEntry) -> str:
    """The suite's format lock per category: the smallest margin, the prompts under 1 nat, the
    prompts expected to open wrongly at T = 0.3 / 0.7 / 1 (from the log-probabilities, no sampling)."""
    lock = suite.get("format_lock")
    if not lock:
        return ""
    rows = []
    for name, c in [*lock["categories"].items(), ("overall", lock["overall"])]:
        exp = c["expected_wrong_openings"]
        rows.append(
            f"<tr><td>{esc(name)}</td><td class=num>{c['prompts']}</td>"
            f"<td class=num>{c['min_margin']:+.2f} ({esc(c['min_margin_prompt'])})</td>"
            f"<td class=num>{len(c['under_1_nat'])}</td>"
            + "".join(f"<td class=num>{exp[t]:.2f}</td>" if t in exp else "<td>-</td>" for t in ("0.3", "0.7", "1"))
            + "</tr>"
        )
    head = (
        "<tr><th>category</th><th>prompts</th><th>min margin (nats)</th><th>under 1 nat</th>"
        "<th>expected wrong openings T=0.3</th><th>T=0.7</th><th>T=1</th></tr>"
    )
    return f"<h3>Format lock (first token, no sampling)</h3><table class=lock>{head}{''.join(rows)}</table>"


def _prompt_rows(doc: RunDocument) -> str:
    out = []
    for p in doc["prompts"]:
        d = p.get("details") or {}
        expected = p.get("expected") or {}
        variant = f" [{p['variant']}]" if p.get("variant") else ""
        served = str(p.get("served"))
        passed = "yes" if p["passed"] else "no"
        out.append(
            f'<tr class=prompt data-id="{esc(p["id"] + variant)}" data-category="{esc(p["category"])}" '
            f'data-label="{esc(p["label"])}" '
            f'data-pass="{passed}" data-served="{esc(served)}">'
            f"<td>{esc(p['id'])}{esc(variant)}</td><td>{esc(p['category'])}</td>"
            f"<td class=num>{p['scores']['legacy']:.2f}</td><td class=num>{p['scores']['strict']:.2f}</td>"
            f"<td class={'pass' if p['passed'] else 'miss'}>{passed}</td><td>{esc(p['label'])}</td>"
            f"<td>{esc(served)}</td><td class=num>{_lock_cell(p)}</td>"
            f"<td class=num>{p.get('seconds') or 0:.2f}</td></tr>"
        )
        calls = ", ".join(d.get("tools_called") or []) or "none"
        joiner = " and " if expected.get("match") == "all" else " or "
        wanted = expected.get("text") or joiner.join(expected.get("tools") or [])
        direct = ", ".join(d.get("direct_calls") or [])
        problems = "".join(f"<li>{esc(x)}</li>" for x in d.get("problems") or [])
        out.append(
            "<tr class=detail><td colspan=9><details><summary>query, output, calls</summary>"
            f"<p><b>query</b> {esc(p['query'])}</p>"
            f"<p><b>expected</b> {esc(wanted)}"
            f" &middot; <b>called</b> {esc(calls)}{' &middot; <b>direct</b> ' + esc(direct) if direct else ''}"
            f" &middot; <b>finish</b> {esc(d.get('finish_reason'))}</p>"
            f"{'<ul>' + problems + '</ul>' if problems else ''}"
            f"{'<p><b>error</b> ' + esc(p['error']) + '</p>' if p.get('error') else ''}"
            f"<pre>{esc(written_text(p.get('response')) or '(nothing)')}</pre>"
            f"{_execution(d)}{_transcript(p.get('response'))}</details></td></tr>"
        )
    return "".join(out)


def _comparison(doc: RunDocument) -> str:
    comp, gate = doc.get("comparison"), doc.get("gate")
    if not gate:
        return ""
    parts = [f"<h2 id=gate>Regression gate: {esc(gate['verdict'])}</h2><ul>"]
    parts += [f"<li>{esc(r)}</li>" for r in gate.get("reasons", [])]
    parts.append("</ul>")
    if comp and comp.get("format_lock"):
        lk = comp["format_lock"]
        parts.append(
            f"<p>Format lock <b>{esc(lk['verdict'])}</b>: median margin change {lk['median_change']:+.2f} nats over "
            f"{lk['prompts']} prompts ({esc(lk['test'])}: p = {lk['p_value']:.4f})</p>"
        )
    if comp and comp.get("kind") == "seed sets":
        rows = "".join(
            f"<tr><td>{esc(path)}</td><td class=num>{pct(c['baseline_pass_rate'])} ({c['baseline_seeds']} seeds)</td>"
            f"<td class=num>{pct(c['candidate_pass_rate'])} ({c['candidate_seeds']} seeds)</td>"
            f"<td class=num>{c['difference'] * 100:+.1f}</td>"
            f"<td>{c['interval']['low'] * 100:+.1f} to {c['interval']['high'] * 100:+.1f}</td></tr>"
            for path, c in comp["suites"].items()
        )
        parts.append(
            "<table><tr><th>suite</th><th>baseline recipe</th><th>candidate recipe</th><th>difference (points)</th>"
            f"<th>95% interval (seeds and prompts resampled)</th></tr>{rows}</table>"
        )
    elif comp:
        rows = "".join(
            f"<tr><td>{esc(n)}</td><td class=num>{pct(c['baseline'])}</td><td class=num>{pct(c['candidate'])}</td>"
            f"<td class=num>{c['delta'] * 100:+.1f}</td><td class=num>{c['worse']}</td><td class=num>{c['better']}</td>"
            f"<td class=num>{c['p_value']:.3f}</td></tr>"
            for n, c in comp["categories"].items()
        )
        parts.append(
            "<table><tr><th>category</th><th>baseline</th><th>candidate</th><th>delta</th><th>worse</th>"
            f"<th>better</th><th>p</th></tr>{rows}</table>"
        )
        parts.append(_flips(comp.get("flips", [])))
        parts.append(side_by_side(doc))
    return "".join(parts)


def _flips(flips: list[Flip]) -> str:
    """The prompts that changed between pass and miss, with their scores before and after."""
    rows = "".join(
        f'<tr class=flip data-id="{esc(f["id"])}"><td>{esc(f["id"])}</td><td>{esc(f["category"])}</td>'
        f"<td>{'pass' if f['from'] else 'miss'} &rarr; {'pass' if f['to'] else 'miss'}</td>"
        f"<td class=num>{f['score_from']:.2f} &rarr; {f['score_to']:.2f}</td></tr>"
        for f in flips
    )
    head = "<tr><th>id</th><th>category</th><th>baseline &rarr; candidate</th><th>score</th></tr>"
    return f"<h3>Flips</h3><table class=flips>{head}{rows or '<tr><td colspan=4>none</td></tr>'}</table>"


def _matrix(doc: RunDocument) -> str:
    """Per suite run at several variants: the category x variant matrix, and the sweep's choice."""
    by_path: dict[str, list[SuiteEntry]] = {}
    for suite in doc["suites"]:
        by_path.setdefault(suite["path"], []).append(suite)
    matrices = "".join(variant_matrix(entries, doc.get("sweep")) for entries in by_path.values() if len(entries) > 1)
    if not matrices:
        return ""
    sweep = doc.get("sweep")
    chosen = ""
    if sweep:
        best = best_by_eval_text(sweep)
        chosen = f"<p>best by eval: <b>{esc(best)}</b>; lowest validation loss: {esc(sweep['best_by_val_loss'])}</p>"
    legend = "<p class=small>cell colour: the score (red 0% to green 100%); outlined: the best variant</p>"
    return f"<h2>Variants</h2>{matrices}{legend}{chosen}"


def _seeds(doc: RunDocument) -> str:
    """Training seeds: a row per category with each seed's score, the spread and the interval;
    the prompts decided by the seed; the pre-registered rule with its operating characteristic."""
    seeds = doc.get("seeds")
    if not seeds:
        return ""
    parts = ["<h2 id=seeds>Training seeds</h2>"]
    for name, s in seeds.items():
        for seed, why in (s.get("not_measured") or {}).items():
            parts.append(
                f"<p class=warn>{esc(name)}: seed {esc(seed)} not measured (left out of every figure): {esc(why)}</p>"
            )
        for seed, how in (s.get("resumed") or {}).items():
            parts.append(f"<p class=warn>{esc(name)}: seed {esc(seed)}'s adapter was {esc(how)}</p>")
        if not s["seeds"]:
            parts.append(f"<p class=warn>{esc(name)}: no training seed measured: no spread, interval or rule</p>")
            continue
        if "not_measured" in s and "covers" in s:
            parts.append(f"<p class=warn>{esc(name)}: the figures below cover {esc(s['covers'])}</p>")
        head = "".join(f"<th>seed {x}</th>" for x in s["seeds"])
        rows = []
        for row in [*s["categories"], s["overall"]]:
            cells = "".join(
                f"<td class={'PASS' if row['per_seed'][str(x)]['passed'] else 'FAIL'}>"
                f"{pct(row['per_seed'][str(x)]['score'])}</td>"
                for x in s["seeds"]
            )
            iv = row.get("interval")
            interval = f"{pct(iv['low'])} - {pct(iv['high'])}" if iv else "-"
            sd = "-" if row["sd"] is None else f"{row['sd'] * 100:.1f}"
            rows.append(
                f"<tr><td>{esc(row['name'])}</td>{cells}<td>{pct(row['min'])}</td><td>{pct(row['median'])}</td>"
                f"<td>{pct(row['max'])}</td><td>{sd}</td><td>{interval}</td></tr>"
            )
        parts.append(
            f"<h3>{esc(name)}</h3><table class=seeds><tr><th>category</th>{head}<th>min</th><th>median</th>"
            f"<th>max</th><th>sd (points)</th><th>interval (seeds x prompts)</th></tr>{''.join(rows)}</table>"
        )
        luck = s["decided_by_luck"]
        parts.append(
            f"<p>Prompts decided by the seed (pass on some seeds, fail on others): {len(luck)} of "
            f"{len(s['prompts'])}{': ' + esc(', '.join(luck)) if luck else ''}</p>"
        )
        rule = s.get("rule")
        if rule:
            oc = ", ".join(f"{o['pass_probability']:.2f} at {pct(o['rate'])}" for o in rule["operating_characteristic"])
            parts.append(
                f"<p class=rule>Reproducibility: <b>{esc(rule['verdict'])}</b>: {esc(rule['why'])}. "
                f"This rule passes with probability {esc(oc)} (true pass rate; {esc(rule['model'])}).</p>"
            )
    return "".join(parts)


def _gate_line(doc: RunDocument) -> str:
    """The regression gate's verdict under the eval's, where the run was gated (details further down)."""
    gate = doc.get("gate")
    if not gate:
        return ""
    against = (doc.get("comparison") or {}).get("baseline_name")
    return (
        f'<p>Regression gate{" against " + esc(against) if against else ""}: <b class="{esc(gate["verdict"])}">'
        f'{esc(gate["verdict"])}</b> (<a href="#gate">why</a>)</p>'
    )


def _agreement(doc: RunDocument) -> str:
    """How often the two scorers agree; the prompts where they do not, folded."""
    lines = agreement_lines(doc)
    if not lines:
        return ""
    rest = "".join(f"<div>{esc(line.strip())}</div>" for line in lines[1:])
    return f"<details><summary>{esc(lines[0])}</summary>{rest}</details>" if rest else f"<p>{esc(lines[0])}</p>"


def render_html(doc: RunDocument) -> str:
    """The single-file HTML report: charts, tables, every prompt, no network."""
    prompts = doc["prompts"]
    filters = "".join(
        _options(key, sorted({str(p.get(field)) for p in prompts}))
        for key, field in (("category", "category"), ("label", "label"), ("served", "served"))
    ) + _options("pass", ["yes", "no"])
    filters += ' <label>id <input id="f-id" type=search placeholder="contains"></label>'
    warnings = "".join(f"<div class=warn>{esc(w['message'])}</div>" for w in doc.get("warnings") or [])
    agreement = _agreement(doc)
    prov = doc["provenance"]
    model = prov.get("model", {})
    head = (
        "<tr><th>id</th><th>category</th><th>legacy</th><th>strict</th><th>pass</th><th>label</th>"
        "<th>served</th><th>lock: P(opener), margin</th><th>seconds</th></tr>"
    )
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>pytest-punie: {esc(doc["verdict"])}</title>
<style>{_STYLE}</style></head><body>
<h1>Eval results: <span class="{esc(doc["verdict"])}">{esc(doc["verdict"])}</span></h1>
<p>{esc(verdict_reason(doc))}</p>{_gate_line(doc)}{warnings}
<p class=small>model {esc(model.get("name") or model.get("kind"))} &middot; {esc(model.get("backend", ""))} &middot;
{esc(model.get("digest") or model.get("path") or "")} &middot; sampling {esc(sampling_text(prov.get("sampling", {})))}
&middot; {esc(prov.get("time"))}</p>
{_matrix(doc)}
{"".join(_categories(doc, s) + _lock_summary(s) for s in doc["suites"])}
{agreement}
{_comparison(doc)}{_seeds(doc)}{render_bits_html(doc.get("bits_sweep"))}{render_parity_html(doc.get("parity") or [])}
<h2>Prompts</h2><div id=filters>{filters} <span id=shown class=small></span></div>
{_prompts_and_data(doc, head)}
</body></html>
"""


def _prompts_and_data(doc: RunDocument, head: str) -> str:
    """The prompt table, the provenance and the page's data and script: every row drawn in the page, or
    (above ``PAGED_FROM`` prompts) the rows compressed in it and drawn a page at a time."""
    prov = esc(json.dumps(doc["provenance"], indent=1, ensure_ascii=False))
    if len(doc["prompts"]) <= PAGED_FROM:
        data = json.dumps(doc, ensure_ascii=False).replace("</", "<\\/")
        return (
            f"<table id=prompts>{head}{_prompt_rows(doc)}</table><h2>Provenance</h2><pre>{prov}</pre>"
            f'<script id=punie-data type="application/json">{data}</script><script>{_SCRIPT}</script>'
        )
    light = {**doc, "prompts": [], "prompts_drawn_from": "punie-rows"}  # the rows travel packed, once
    data = json.dumps(light, ensure_ascii=False).replace("</", "<\\/")
    pager = "<p id=pager><button id=prev>previous</button> <span id=page class=small></span> "
    pager += "<button id=next>next</button></p>"
    return (
        f"{pager}<table id=prompts>{head}</table><h2>Provenance</h2><pre>{prov}</pre>"
        f'<script id=punie-data type="application/json">{data}</script>'
        f'<script id=punie-rows type="application/octet-stream">{packed_rows(doc)}</script>'
        f"<script>{PAGED_SCRIPT}</script>"
    )
