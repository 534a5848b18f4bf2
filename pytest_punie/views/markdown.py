"""A Markdown results document, like the tables users keep in research notes."""

from __future__ import annotations

from pytest_punie.resultsformat import PromptRow, RunDocument
from pytest_punie.views.formatting import pct
from pytest_punie.views.terminal import (
    agreement_lines,
    judged_rows,
    repeat_lines,
    sampling_text,
    served_line,
    verdict_reason,
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _snippet(prompt: PromptRow, width: int = 60) -> str:
    if prompt["error"]:
        return "error: " + prompt["error"]
    called = prompt["details"].get("tools_called") or []
    if called:
        return "calls " + ", ".join(called)
    msg = ((prompt.get("response") or {}).get("choices") or [{}])[0].get("message") or {}
    text = (msg.get("content") or "").strip()
    return text[:width] + ("..." if len(text) > width else "")


def render_markdown(doc: RunDocument) -> str:
    """The results as Markdown (a PR comment, a CI summary)."""
    if "suites" not in doc:  # a data lint (or pipeline) run: what ran and what was found
        return render_checks_markdown(doc)
    prov = doc["provenance"]
    out = [f"# Eval results: {doc['verdict']}", ""]
    model = prov.get("model", {})
    out.append(f"- model: `{model.get('kind')}` `{model.get('path') or model.get('name')}` `{model.get('digest')}`")
    for s in doc["suites"]:
        out.append(f"- suite: `{s['suite']}` `{s['path']}` `{s['digest']}` (scorer: {s['scorer']})")
    out.append(f"- sampling: {sampling_text(prov.get('sampling', {}))}")
    out.append("- versions: " + ", ".join(f"{k} {v}" for k, v in prov.get("versions", {}).items() if v))
    out.append(f"- time: {prov.get('time')}")
    out.append("")
    for warning in doc.get("warnings") or []:
        out += [f"> **WARNING** {_cell(warning['message'])}", ""]
    if doc["verdict"] == "INVALID":
        out += [f"**Verdict: INVALID** ({verdict_reason(doc)})", ""]
    agreement = agreement_lines(doc)
    if agreement:
        out += [f"**{agreement[0]}**", ""]
        if len(agreement) > 1:
            out += ["| prompt | legacy | strict | why they disagree |", "|---|---|---|---|"]
            for d in doc["scorer_agreement"]["disagreements"]:
                out.append(
                    f"| {d['id']}{' [' + d['variant'] + ']' if d.get('variant') else ''} "
                    f"| {'pass' if d['legacy_passed'] else 'fail'} {d['legacy']:.2f} "
                    f"| {'pass' if d['strict_passed'] else 'fail'} {d['strict']:.2f} | {_cell(d['reason'])} |"
                )
            out.append("")
    out += _parity_markdown(doc)
    for s in doc["suites"]:
        title = s["suite"] + (f" [{s['variant']}]" if s.get("variant") else "")
        out += [f"## {title}: categories", ""]
        out.append("| category | prompts | passed | score | threshold | verdict |")
        out.append("|---|---:|---:|---:|---|---|")
        for name, c, kind in judged_rows(s):
            name = {"overall": "**overall**", "metric": f"metric: {name}"}.get(kind, name)
            verdict = {True: "PASS", False: "FAIL", None: "not judged"}[c["passed"]]
            out.append(
                f"| {name} | {c['prompts_run']}/{c['prompts']} | {c['prompts_passed']} | {pct(c['score'])} "
                f"| {c['threshold']} | {verdict} |"
            )
        out += ["", "Failure modes: " + ", ".join(f"{k} {v}" for k, v in s["failure_modes"].items()), ""]
        out += [served_line(s), ""]
        repeats = repeat_lines(doc, s)
        if repeats:
            out += ["```", *repeats, "```", ""]
        out += [f"## {title}: prompts", ""]
        out.append("| id | category | legacy | strict | pass | label | served | what it did |")
        out.append("|---|---|---:|---:|---|---|---|---|")
        for p in doc["prompts"]:
            if p["suite"] != s["path"] or p.get("variant", "") != s.get("variant", ""):
                continue
            out.append(
                f"| {p['id']} | {p['category']} | {p['scores']['legacy']:.2f} | {p['scores']['strict']:.2f} "
                f"| {'yes' if p['passed'] else 'no'} | {p['label']} | {p.get('served') or '-'} | {_cell(_snippet(p))} |"
            )
        out.append("")
    return "\n".join(out)


def _parity_markdown(doc: RunDocument) -> list[str]:
    """A bits sweep's table and answer, and the parity figures, where the run measured them."""
    out: list[str] = []
    if doc.get("bits_sweep"):
        from pytest_punie.views.bitsview import render_bits_terminal

        out += ["## Bits sweep", "", "```", *render_bits_terminal(doc.get("bits_sweep") or {}), "```", ""]
    if doc.get("parity"):
        from pytest_punie.views.parityview import render_parity_terminal

        out += ["## Parity", "", "```", *render_parity_terminal(doc.get("parity") or []), "```", ""]
    return out


def render_checks_markdown(doc: RunDocument) -> str:
    """A run with nothing to judge (data lint, pipeline checks): the checks, the findings, provenance."""
    checks = doc.get("checks")
    findings = doc.get("findings") or []
    out = ["# Checks: " + ("no findings" if not findings else f"{len(findings)} finding(s)"), ""]
    ran, failed = (checks["ran"], checks["failed"]) if checks else ("?", "?")
    out.append(f"- checks run: {ran}, failed: {failed}")
    out.append(f"- time: {doc['provenance'].get('time')}")
    out.append("")
    if findings:
        out += ["| where | check | severity | message |", "|---|---|---|---|"]
        for f in findings:
            where = f"{f['path']}:{f['line']}" if f.get("line") is not None else f["path"]
            out.append(f"| {_cell(where)} | {f['check']} | {f['severity']} | {_cell(f['message'])} |")
    out += ["", *_parity_markdown(doc)]
    return "\n".join(out) + "\n"
