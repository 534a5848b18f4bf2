"""A gated run's prompts side by side: what the baseline answered beside what
the candidate answered, with a word diff, the flips first. This is the view the
users' own ``eval_comparison.py`` gave them; here it comes from the results
documents alone (the baseline's answers are kept in the comparison)."""

from __future__ import annotations

import difflib
import re

from pytest_punie.resultsformat import RunDocument
from pytest_punie.scoring.parse import written_text
from pytest_punie.views.formatting import esc


def word_diff(before: str, after: str) -> str:
    """``after`` as HTML with the words removed since ``before`` in <del> and those added in <ins>."""
    a, b = re.split(r"(\s+)", before), re.split(r"(\s+)", after)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            out.append(f"<del>{esc(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{esc(''.join(b[j1:j2]))}</ins>")
        if op == "equal":
            out.append(esc("".join(a[i1:i2])))
    return "".join(out)


def _mark(passed: bool, label: str, score: float | None) -> str:
    shown = "-" if score is None else f"{score:.2f}"
    return f"<span class={'pass' if passed else 'miss'}>{'pass' if passed else 'miss'}</span> {esc(label)} {shown}"


def side_by_side(doc: RunDocument) -> str:
    """Each prompt both runs answered: baseline and candidate verdicts, and their answers in two
    columns with a word diff; flipped prompts first, then changed answers, then the unchanged."""
    answers = (doc.get("comparison") or {}).get("baseline_answers")
    if not answers:
        return ""
    mine = {(p["suite"], p.get("variant", ""), p["id"]): p for p in doc["prompts"]}
    rows = []
    for base in answers:
        cand = mine.get((base["suite"], base["variant"], base["id"]))
        if cand is None:
            continue
        text = written_text(cand.get("response"))
        flipped = bool(base["passed"]) != bool(cand["passed"])
        rows.append((not flipped, text == base["text"], base, cand, text))
    rows.sort(key=lambda r: (r[0], r[1]))
    out = []
    for _, same, base, cand, text in rows:
        flip = "flip" if bool(base["passed"]) != bool(cand["passed"]) else ""
        what = "same answer" if same else "answer changed"
        out.append(
            f'<tr class="answer {flip}" data-id="{esc(base["id"])}" data-same="{"yes" if same else "no"}">'
            f"<td>{esc(base['id'])}</td><td>{esc(cand['category'])}</td>"
            f"<td>{_mark(base['passed'], base['label'], base['score'])}</td>"
            f"<td>{_mark(cand['passed'], cand['label'], cand['score'])}</td><td>{what}</td></tr>"
            "<tr><td colspan=5><details><summary>baseline | candidate</summary><div class=sbs>"
            f"<div><b>baseline</b><pre>{esc(base['text'] or '(nothing)')}</pre></div>"
            f"<div><b>candidate</b><pre>{esc(text or '(nothing)')}</pre></div></div>"
            f"{'' if same else '<p><b>diff</b></p><pre class=diff>' + word_diff(base['text'], text) + '</pre>'}"
            "</details></td></tr>"
        )
    head = "<tr><th>id</th><th>category</th><th>baseline</th><th>candidate</th><th>answer</th></tr>"
    return f"<h3>Prompt by prompt</h3><table class=sbs-table>{head}{''.join(out)}</table>"
