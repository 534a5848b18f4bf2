"""The per-category table printed at the end of a pytest run."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "not judged"}[passed]


def _strict_mean(doc: dict[str, Any], suite: dict[str, Any], category: str | None) -> str:
    scores = [
        p["scores"].get("strict")
        for p in doc["prompts"]
        if p["suite"] == suite["path"]
        and p.get("variant", "") == suite.get("variant", "")
        and (category is None or p["category"] == category)
    ]
    scores = [s for s in scores if s is not None]
    return _pct(sum(scores) / len(scores)) if scores else "-"


def render_terminal(doc: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for suite in doc["suites"]:
        metric = next(iter(suite["categories"].values()))["metric"]
        variant = f" [{suite['variant']}]" if suite.get("variant") else ""
        lines.append(
            f"suite {suite['suite']}{variant} ({suite['path']}, {suite['digest'][:19]}), "
            f"scorer {suite['scorer']}, thresholds on {metric.replace('_', ' ')}"
        )
        header = f"{'category':<12} {'prompts':>7} {'passed':>6} {'score':>7} {'strict':>7}  {'threshold':<10} verdict"
        lines.append(header)
        lines.append("-" * len(header))
        rows = list(suite["categories"].items()) + [("overall", suite["overall"])]
        for name, c in rows:
            run = f"{c['prompts_run']}/{c['prompts']}"
            lines.append(
                f"{name:<12} {run:>7} {c['prompts_passed']:>6} {_pct(c['score']):>7} "
                f"{_strict_mean(doc, suite, None if name == 'overall' else name):>7}  "
                f"{c['threshold']:<10} {_verdict(c['passed'])}"
            )
        modes = ", ".join(f"{k} {v}" for k, v in sorted(suite["failure_modes"].items(), key=lambda kv: -kv[1]))
        lines.append(f"failure modes: {modes}")
        if not suite["complete"]:
            lines.append(
                f"partial run: {suite['overall']['prompts_run']} of {suite['overall']['prompts']} prompts; "
                "categories with unrun prompts and the overall threshold are not judged"
            )
        if suite["no_response"]:
            lines.append(f"no response (fails the run): {', '.join(suite['no_response'])}")
    prov = doc["provenance"]
    model = prov.get("model", {})
    ident = model.get("digest") or model.get("artifact_digest") or ""
    lines.append(
        f"model: {model.get('kind', '?')} {model.get('path') or model.get('name') or ''} {ident[:19]}".rstrip()
    )
    samp = prov.get("sampling", {})
    lines.append(
        "sampling: "
        + ", ".join(f"{k}={v}" for k, v in samp.get("default", {}).items() if k != "stop")
        + (f"; per prompt: {samp['overrides']}" if samp.get("overrides") else "")
    )
    versions = prov.get("versions", {})
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    reason = "every pre-registered threshold holds" if doc["verdict"] == "PASS" else "see FAIL rows above"
    if doc.get("strict_mode") and doc["verdict"] == "FAIL":
        reason += " (--punie-strict: any missed prompt fails)"
    lines.append(f"VERDICT: {doc['verdict']} ({reason})")
    return lines
