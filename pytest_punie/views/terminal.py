"""The per-category table printed at the end of a pytest run."""

from __future__ import annotations

from pytest_punie.metrics import exact_score, mean_score
from pytest_punie.resultsformat import CategoryRow, JsonObject, PromptRow, RunDocument, Sampling, SuiteEntry
from pytest_punie.views.formatting import pct


def _verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "not judged"}[passed]


def judged_rows(suite: SuiteEntry) -> list[tuple[str, CategoryRow, str]]:
    """The rows a suite is judged on, in order: (name, row, kind) for each
    category, the overall, and each suite-level metric."""
    rows: list[tuple[str, CategoryRow, str]] = [(name, c, "category") for name, c in suite["categories"].items()]
    rows.append(("overall", suite["overall"], "overall"))
    rows += [(name, m, "metric") for name, m in (suite.get("metrics") or {}).items()]
    return rows


def _rows_of(doc: RunDocument, suite: SuiteEntry, name: str, kind: str) -> list[PromptRow]:
    """The prompts a judged row covers: a category's, a metric's named prompts, or all of the suite's."""
    ids = set((suite.get("metrics") or {}).get(name, {}).get("prompt_ids") or ()) if kind == "metric" else None
    return [
        p
        for p in doc["prompts"]
        if p["suite"] == suite["path"]
        and p.get("variant", "") == suite.get("variant", "")
        and (kind == "overall" or (p["id"] in ids if ids is not None else p["category"] == name))
    ]


def _scorer_mean(rows: list[PromptRow], scorer: str) -> str:
    scores = [exact_score(p, scorer) for p in rows if p["scores"].get(scorer) is not None]
    mean = mean_score(scores)
    return pct(float(mean)) if mean is not None else "-"


def runs_rate(rows: list[PromptRow]) -> tuple[int, int]:
    """(programs that ran to their end, prompts that asked for one and were answered): how often the
    model's Code Mode answer is a program that runs in the sandbox at all."""
    asked = [
        p
        for p in rows
        if (p.get("expected") or {}).get("kind") != "direct" and not p.get("error") and "outcome" in p["details"]
    ]
    ran = sum(1 for p in asked if (p["details"].get("outcome") or {}).get("ran") is True)
    return ran, len(asked)


def _runs(rows: list[PromptRow]) -> str:
    ran, asked = runs_rate(rows)
    return pct(ran / asked) if asked else "-"


def render_terminal(doc: RunDocument) -> list[str]:
    """The per-category table and verdict printed at the end of a run."""
    lines: list[str] = []
    for suite in doc["suites"]:
        metric = next(iter(suite["categories"].values()))["metric"]
        variant = f" [{suite['variant']}]" if suite.get("variant") else ""
        lines.append(
            f"suite {suite['suite']}{variant} ({suite['path']}, {suite['digest'][:19]}), "
            f"scorer {suite['scorer']}, thresholds on {metric.replace('_', ' ')}"
        )
        rows = judged_rows(suite)
        w = max(12, *(len(name) for name, _, _ in rows))
        header = (
            f"{'category':<{w}} {'prompts':>7} {'passed':>6} {'score':>7} {'strict':>7} {'outcome':>7} {'runs':>6}"
            f"  {'threshold':<10} verdict"
        )
        lines.append(header)
        lines.append("-" * len(header))
        for name, c, kind in rows:
            if kind == "metric" and name == rows[-len(suite.get("metrics") or {})][0]:
                lines.append(f"{'suite metrics':<{w}} (over the prompts each names)")
            run = f"{c['prompts_run']}/{c['prompts']}"
            covered = _rows_of(doc, suite, name, kind)
            lines.append(
                f"{name:<{w}} {run:>7} {c['prompts_passed']:>6} {pct(c['score']):>7} "
                f"{_scorer_mean(covered, 'strict'):>7} {_scorer_mean(covered, 'outcome'):>7} {_runs(covered):>6}  "
                f"{c['threshold']:<10} {_verdict(c['passed'])}"
            )
        modes = ", ".join(f"{k} {v}" for k, v in sorted(suite["failure_modes"].items(), key=lambda kv: -kv[1]))
        lines.append(f"failure modes: {modes}")
        if len(doc["suites"]) > 1:
            judged = "PASS" if suite["passed"] else "FAIL" if suite["complete"] else "not judged (partial)"
            lines.append(f"suite verdict {suite['suite']}{variant}: {judged}")
        if not suite["complete"]:
            lines.append(
                f"partial run: {suite['overall']['prompts_run']} of {suite['overall']['prompts']} prompts; "
                "categories with unrun prompts and the overall threshold are not judged"
            )
        if suite["no_response"]:
            lines.append(f"no whole response (the run is INCOMPLETE): {', '.join(suite['no_response'])}")
        lines.append(served_line(suite))
        lines += repeat_lines(doc, suite)
    lines += agreement_lines(doc)
    prov = doc["provenance"]
    model = prov.get("model", {})
    ident = model.get("digest") or model.get("artifact_digest") or ""
    how = ", ".join(str(x) for x in (model.get("kind"), model.get("backend")) if x)
    where = model.get("path") if model.get("name") and model.get("path") != model.get("name") else ""
    parts = [f"model: {model.get('name') or model.get('path') or '?'} ({how})", where or "", ident[:19]]
    lines.append(" ".join(p for p in parts if p))
    lines.append("sampling: " + sampling_text(prov.get("sampling", {})))
    versions = prov.get("versions", {})
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    for warning in doc.get("warnings") or []:
        lines.append(f"WARNING: {warning['message']}")
    lines.append(f"VERDICT: {doc['verdict']} ({verdict_reason(doc)})")
    return lines


def verdict_reason(doc: RunDocument) -> str:
    """Why the verdict is what it is, in one clause."""
    if doc["verdict"] == "INVALID":
        return "the measurement is broken, not the model judged: see WARNING; exit status 6"
    if doc["verdict"] == "INCOMPLETE":
        reasons = (doc.get("completeness") or {}).get("reasons") or ["the run was interrupted"]
        return f"{reasons[0]}: nothing is judged, saved or gated"
    reason = "every pre-registered threshold holds" if doc["verdict"] == "PASS" else what_failed(doc)
    if doc.get("strict_mode") and doc["verdict"] == "FAIL":
        reason += " (--punie-strict: any missed prompt fails)"
    return reason


def _below(names: list[str], of: int, what: str) -> str:
    """'2 of 7 categories below threshold: lsp, cst'."""
    noun = what if of == 1 else f"{what[:-1]}ies" if what.endswith("y") else f"{what}s"
    return f"{len(names)} of {of} {noun} below threshold: {', '.join(names)}"


def what_failed(doc: RunDocument) -> str:
    """A FAIL in the words a person writes: which categories, metrics and overalls missed, per suite."""
    parts = []
    for suite in doc["suites"]:
        cats, metrics = suite["categories"], suite.get("metrics") or {}
        bits = []
        if below := [n for n, c in cats.items() if c["passed"] is False]:
            bits.append(_below(below, len(cats), "category"))
        if below := [n for n, m in metrics.items() if m["passed"] is False]:
            bits.append(_below(below, len(metrics), "metric"))
        overall = suite["overall"]
        if overall["passed"] is False:
            bits.append(f"overall {pct(overall['score'])} misses {overall['threshold']}")
        if suite.get("no_response"):
            bits.append(f"no response: {', '.join(suite['no_response'])}")
        if bits:
            where = f"{suite['suite']}{' [' + suite['variant'] + ']' if suite.get('variant') else ''}: "
            parts.append((where if len(doc["suites"]) > 1 else "") + "; ".join(bits))
    return "; ".join(parts) or "a prompt missed"


SERVED_WORDS = {
    "parsed": "calls parsed",
    "dropped": "calls dropped",
    "no-call": "no call",
    "unclosed": "call never closed",
    "raw-unavailable": "raw text unavailable",
    "None": "no response",
}


def served_line(suite: SuiteEntry) -> str:
    """What the serving path did, counted per status."""
    counts = suite.get("served") or {}
    text = ", ".join(f"{SERVED_WORDS.get(k, k)} {v}" for k, v in counts.items())
    if counts.get("raw-unavailable"):
        text += " (without the raw text a dropped call can only be seen when the server says tool_calls)"
    return f"served: {text}"


def sampling_text(samp: Sampling) -> str:
    """The sampling this run used: the suite's, with the run's overrides applied."""

    def one(values: JsonObject) -> str:
        return ", ".join(f"{k}={v}" for k, v in values.items() if k != "stop")

    per_suite = samp.get("suites") or {}
    if len({one(v) for v in per_suite.values()}) > 1:
        text = "; ".join(f"{name}: {one(v)}" for name, v in per_suite.items())
    else:
        text = one(samp.get("default", {}))
    if samp.get("run_overrides"):
        text += " (run overrides: " + ", ".join(f"{k}={v}" for k, v in samp["run_overrides"].items()) + ")"
    overrides = samp.get("overrides") or {}
    if overrides:
        shown = ", ".join(f"{k} {v}" for k, v in list(overrides.items())[:4])
        more = f" and {len(overrides) - 4} more (results.json has them all)" if len(overrides) > 4 else ""
        text += f"; per prompt: {shown}{more}"
    return text


def agreement_lines(doc: RunDocument) -> list[str]:
    """Where the legacy and strict scorers disagree, prompt by prompt."""
    agreement = doc.get("scorer_agreement")
    if not agreement:
        return []
    lines = [
        f"scorer agreement: legacy and strict agree on {agreement['agree']} of {agreement['prompts']} prompts "
        "(pass or fail at the suite's pass score)"
    ]
    for d in agreement["disagreements"]:
        variant = f"[{d['variant']}]" if d.get("variant") else ""
        lines.append(
            f"  {d['id']}{variant}: legacy {'pass' if d['legacy_passed'] else 'fail'} ({d['legacy']:.2f}), "
            f"strict {'pass' if d['strict_passed'] else 'fail'} ({d['strict']:.2f}): {d['reason']}"
        )
    return lines


def repeat_lines(doc: RunDocument, suite: SuiteEntry) -> list[str]:
    """--punie-repeat: per category, the sample pass rate, pass^k and its interval."""
    prompts = [
        p
        for p in doc["prompts"]
        if p["suite"] == suite["path"]
        and p.get("variant", "") == suite.get("variant", "")
        and "samples" in p["details"]
    ]
    if not prompts:
        return []
    k = max(int(p["details"]["samples"]) for p in prompts)
    note = (doc.get("repeats") or {}).get("note")
    lines = [f"repeats: {k} samples per prompt" + (f" ({note})" if note else "")]
    lines.append(f"  {'category':<12} {'samples':>7} {'pass rate':>9} {'pass^' + str(k):>7}  95% interval (prompts)")
    for name, c, _kind in judged_rows(suite):
        samples, hat, iv = c.get("samples"), c.get("pass_hat_k") or {}, c.get("interval")
        if not samples:
            continue
        interval = f"[{iv['low']:.3f}, {iv['high']:.3f}] over {iv['n']} prompts" if iv else "-"
        lines.append(
            f"  {name:<12} {samples['n']:>7} {pct(samples['pass_rate']):>9} {pct(hat.get(str(k))):>7}  {interval}"
        )
    return lines
