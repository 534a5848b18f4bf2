"""The HTML report's prompt table at scale: above ``PAGED_FROM`` prompts the rows travel compressed in
the page (gzip, base64) and are drawn a page at a time, each prompt's details on demand, the filters
working on every row; the page stays one offline file that opens quickly at 50,000 prompts."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from pytest_punie.resultsformat import RunDocument
from pytest_punie.scoring.parse import written_text
from pytest_punie.views.execution import execution_lines, transcript_lines

PAGED_FROM = 2000  # prompts: from here the table is paged and its rows compressed
PAGE_ROWS = 100
DETAIL_CHARS = 1200  # a row's details are cut here in the paged view (the whole is in results.json)


def _lock_text(p: dict[str, Any]) -> str:
    lock = p.get("format_lock")
    return f"{lock['p_opener']:.2f}, {lock['margin']:+.2f}" if lock else "-"


def _detail(p: dict[str, Any]) -> str:
    """A prompt's details as text: the query, what was expected and called, the problems, what the model
    wrote, what its programs did and the conversation after the tool."""
    d = p.get("details") or {}
    expected = p.get("expected") or {}
    joiner = " and " if expected.get("match") == "all" else " or "
    parts = [
        f"query: {p.get('query')}",
        f"expected: {expected.get('text') or joiner.join(expected.get('tools') or [])}; "
        f"called: {', '.join(d.get('tools_called') or []) or 'none'}; finish: {d.get('finish_reason')}",
        *[f"problem: {x}" for x in d.get("problems") or []],
        *([f"error: {p['error']}"] if p.get("error") else []),
        "--- the model wrote",
        written_text(p.get("response")) or "(nothing)",
    ]
    ran = execution_lines(d)
    if ran:
        parts += ["--- in the sandbox", *ran]
    talk = transcript_lines(p.get("response"))
    if talk:
        parts += ["--- the conversation after the tool", *talk]
    text = "\n".join(parts)
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + " ... (cut: the whole is in results.json)"


def packed_rows(doc: RunDocument) -> str:
    """Every prompt's row and details, as gzip-compressed JSON in base64 (what the paged table reads)."""
    rows = [
        [
            p["id"] + (f" [{p['variant']}]" if p.get("variant") else ""),
            p["category"],
            round(float(p["scores"]["legacy"] or 0), 2),
            round(float(p["scores"]["strict"] or 0), 2),
            bool(p["passed"]),
            p["label"],
            str(p.get("served")),
            _lock_text(dict(p)),
            round(float(p.get("seconds") or 0), 2),
            _detail(dict(p)),
        ]
        for p in doc["prompts"]
    ]
    raw = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


FILTER_BINDING = """
for (const k of Object.keys(sel)) {
  const s = document.getElementById('f-' + k);
  s.addEventListener(k === 'id' ? 'input' : 'change', () => { sel[k] = s.value; apply(); });
}
for (const part of location.hash.replace(/^#/, '').split('&')) {
  const [k, v] = part.split('=');
  if (k in sel && v) { sel[k] = decodeURIComponent(v); document.getElementById('f-' + k).value = sel[k]; }
}
"""  # the filters bound to their controls and read from the address: both tables' scripts share it

PAGED_SCRIPT = """
const doc = JSON.parse(document.getElementById('punie-data').textContent);
const sel = {category: 'all', label: 'all', pass: 'all', served: 'all', id: ''};
const PAGE = PAGE_ROWS;
let rows = [], kept = [], page = 0;
function esc(s) { const d = document.createElement('div'); d.textContent = s; return d.innerHTML; }
function draw() {
  const table = document.getElementById('prompts');
  for (const tr of Array.from(table.querySelectorAll('tr.prompt, tr.detail'))) tr.remove();
  const last = Math.max(0, Math.ceil(kept.length / PAGE) - 1);
  page = Math.min(page, last);
  const html = [];
  for (const r of kept.slice(page * PAGE, (page + 1) * PAGE)) {
    const pass = r[4] ? 'yes' : 'no';
    html.push('<tr class="prompt" data-pass="' + pass + '"><td>' + esc(r[0]) + '</td><td>' + esc(r[1]) +
      '</td><td class=num>' + r[2].toFixed(2) + '</td><td class=num>' + r[3].toFixed(2) + '</td><td class=' +
      (r[4] ? 'pass' : 'miss') + '>' + pass + '</td><td>' + esc(r[5]) + '</td><td>' + esc(r[6]) +
      '</td><td class=num>' + esc(r[7]) + '</td><td class=num>' + r[8].toFixed(2) + '</td></tr>' +
      '<tr class="detail"><td colspan=9><details><summary>query, output, calls</summary><pre>' + esc(r[9]) +
      '</pre></details></td></tr>');
  }
  table.insertAdjacentHTML('beforeend', html.join(''));
  document.getElementById('shown').textContent = kept.length + ' of ' + rows.length + ' prompts shown';
  document.getElementById('page').textContent = 'page ' + (page + 1) + ' of ' + (last + 1);
}
function apply() {
  const q = sel.id.toLowerCase();
  kept = rows.filter(r => (sel.category === 'all' || r[1] === sel.category) &&
    (sel.label === 'all' || r[5] === sel.label) && (sel.served === 'all' || r[6] === sel.served) &&
    (sel.pass === 'all' || (r[4] ? 'yes' : 'no') === sel.pass) && (!q || r[0].toLowerCase().includes(q)));
  page = 0; draw();
}
async function load() {
  const b64 = document.getElementById('punie-rows').textContent.trim();
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  rows = JSON.parse(await new Response(stream).text());
FILTER_BINDING
  document.getElementById('prev').addEventListener('click', () => { page = Math.max(0, page - 1); draw(); });
  document.getElementById('next').addEventListener('click', () => { page += 1; draw(); });
  apply();
}
load();
"""
PAGED_SCRIPT = PAGED_SCRIPT.replace("PAGE_ROWS", str(PAGE_ROWS)).replace("FILTER_BINDING", FILTER_BINDING)
