"""The run's results document, on the controller: every worker's prompt
results judged per suite (and variant), with the run's provenance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from pytest_punie.errors import SuiteError
from pytest_punie.provenance import file_digest, host, now_utc, package_versions
from pytest_punie.report.document import build_document
from pytest_punie.results import PromptResult
from pytest_punie.resultsformat import (
    FORMAT,
    Completeness,
    FindingRow,
    JsonObject,
    PromptRow,
    Provenance,
    Repeats,
    ResponseCacheCount,
    RunDocument,
    Sampling,
)
from pytest_punie.suite import Suite, load_suite
from pytest_punie.toolsurface import DEFAULT_SURFACE
from pytest_punie.verdict import SuiteVerdict, judge_suite


@dataclass(frozen=True)
class RunFacts:
    """What the document says about the run itself (from the pytest config)."""

    root: Path
    scorer: str | None = None
    strict_mode: bool = False
    repeat: int = 1
    invocation: tuple[str, ...] | list[str] = ()
    workers: int = 0
    interrupted: bool = False  # pytest stopped before every item ran (Ctrl-C, a signal)
    variants: tuple[str, ...] = ("",)  # every variant the run was asked for


def _sampling(suites: list[Suite], run_overrides: JsonObject | None = None) -> Sampling:
    """The sampling the run used: the suite's default with the run's overrides
    (--punie-temperature, --punie-max-tokens, --punie-seed) applied, and the
    per-prompt max_tokens that still apply."""
    applied = {k: v for k, v in (run_overrides or {}).items() if v is not None}
    default = {**(suites[0].sampling.as_dict() if suites else {}), **applied}
    overrides: dict[str, dict[str, int | None]] = {
        p.id: {"max_tokens": p.max_tokens}
        for s in suites
        for p in s.prompts
        if p.max_tokens not in (None, s.sampling.max_tokens) and "max_tokens" not in applied
    }
    out: Sampling = {"default": default, "overrides": overrides}
    per_suite = {s.name: {**s.sampling.as_dict(), **applied} for s in suites}
    if len(suites) > 1:  # each suite generates with its own sampling
        out["suites"] = per_suite
    if applied:
        out["run_overrides"] = applied
    return out


def group_results(results: list[PromptResult]) -> dict[tuple[str, str], list[PromptResult]]:
    """Results by (suite path, variant); a prompt that ran twice keeps its last result."""
    by_suite: dict[tuple[str, str], dict[str, PromptResult]] = {}
    for r in results:
        by_suite.setdefault((r.suite, r.variant), {})[r.id] = r
    return {key: list(rs.values()) for key, rs in by_suite.items()}


def judge_results(
    results: list[PromptResult], scorer: str | None, root: Path | None = None
) -> list[tuple[SuiteVerdict, list[PromptResult]]]:
    """The results grouped by suite and variant, each group judged against its suite (digest checked)."""
    out = []
    for (path, _variant), rs in sorted(group_results(results).items(), key=lambda kv: (kv[0][0], _order(kv[0][1]))):
        suite = load_suite(root / path if root else path)
        suite = dataclasses.replace(suite, path=path)
        digests = {r.suite_digest for r in rs}
        if digests != {suite.digest}:
            raise SuiteError(
                path, None, "the suite file changed while the run was going on; results are not comparable"
            )
        out.append((judge_suite(suite, rs, scorer), rs))
    return out


def _order(variant: str) -> tuple[int, int, float, str]:
    """Variants in a natural order: training seed, checkpoint iteration, then temperature."""
    import re

    seed = re.search(r"seed=(\d+)", variant)
    ck = re.search(r"ckpt=(\d+)", variant)
    t = re.search(r"t=([0-9.]+)", variant)
    return (
        int(seed.group(1)) if seed else -1,
        int(ck.group(1)) if ck else -1,
        float(t.group(1)) if t else -1.0,
        variant,
    )


def _sorted_findings(findings: list[FindingRow]) -> list[FindingRow]:
    return sorted(findings, key=lambda f: (f["path"], f["line"] or 0, f["check"]))


def answered_by(source: JsonObject) -> JsonObject:
    """What answered a variant, as two processes must agree on it: the verified artifact digest
    (or the served model's name and address), the checkpoint and the sampling; never build
    bookkeeping (who built it, how long hashing took)."""
    keys: tuple[str, ...]
    if source.get("digest"):
        keys = ("digest", "checkpoint", "sampling_overrides", "tool_parser")
    else:
        keys = ("kind", "name", "url", "served_model", "sampling_overrides")
    return {k: source.get(k) for k in keys if k in source}


def _where(source: JsonObject) -> str:
    worker = source.get("worker", "main") + (f" on {source['host']}" if source.get("host") else "")
    what = source.get("digest") or source.get("served_model") or source.get("name")
    where = source.get("path") or source.get("url") or "?"
    return f"worker {worker}: {what} ({where})"


def _identities(sources: list[JsonObject]) -> dict[str, JsonObject]:
    """What answered, per variant, with the workers that generated it. Every worker must have
    seen the same artifact: a difference is named by its digests and where each came from."""
    out: dict[str, JsonObject] = {}
    for s in sources:
        variant = s.get("variant", "")
        seen = out.get(variant)
        if seen is None:
            out[variant] = {**s, "workers": [s.get("worker", "main")], "hosts": [s.get("host", "")]}
            out[variant].pop("worker", None)
            out[variant].pop("host", None)
            continue
        if answered_by(seen) != answered_by(s):
            mine = {**seen, "worker": seen["workers"][0]}
            raise SuiteError(
                None,
                None,
                f"variant {variant or '(the model under test)'} was answered by two different models: "
                f"{_where(mine)} / {_where(s)}",
            )
        if s.get("worker", "main") not in seen["workers"]:
            seen["workers"].append(s.get("worker", "main"))
        if s.get("host", "") not in seen["hosts"]:
            seen["hosts"].append(s.get("host", ""))
        if s.get("builds"):  # a build made by either worker is a build of this run
            seen["builds"] = [
                {**b, "built_now": bool(b.get("built_now") or o.get("built_now"))}
                for b, o in zip(seen.get("builds") or s["builds"], s["builds"], strict=False)
            ]
    return out


def _sandbox_provenance(results: list[PromptResult], suites: list[Suite]) -> JsonObject:
    """Where the programs ran, when any did: each workspace (name, digest) and, tool by tool, what
    computed its results ("computed by ruff 0.x", "declared by the workspace", the suite's toolset)."""
    workspaces = sorted({r["workspace"] for res in results for r in res.details.get("execution") or []})
    if not workspaces:
        return {}
    from pytest_punie.sandbox import tool_provenance
    from pytest_punie.sandbox.toolset import load_user_tools

    modules = sorted({str((s.extra.get("sandbox") or {}).get("tools") or "") for s in suites})
    tools = {m or "(none)": tool_provenance(load_user_tools(m or None), m or None) for m in modules}
    return {"workspaces": workspaces, "tools": tools}


def _provenance(
    results: list[PromptResult], suites: list[Suite], idents: dict[str, JsonObject], facts: RunFacts
) -> Provenance:
    """What every number of the run is traceable to: the model, suites, tools, sampling, versions, host."""
    surfaces = sorted({s.tool_surface or str(DEFAULT_SURFACE) for s in suites})
    provenance: Provenance = {
        "time": now_utc(),
        "model": next(iter(idents.values())) if idents else {"kind": "unknown"},
        "suites": [{"suite": s.name, "path": s.path, "digest": s.digest} for s in suites],
        "tool_surfaces": [{"path": p, "digest": file_digest(p)} for p in surfaces],
        "sampling": _sampling(suites, next(iter(idents.values()), {}).get("sampling_overrides")),
        "scorer": facts.scorer or "suite primary",
        "versions": package_versions(),
        "host": host(),
        "invocation": list(facts.invocation),
        "workers": facts.workers,
        "repeat": facts.repeat,
    }
    if len(idents) > 1 or len([v for v in facts.variants if v]) > 1:  # a sweep, even with one variant answered
        provenance["variants"] = idents
    sandbox = _sandbox_provenance(results, suites)
    if sandbox:
        provenance["sandbox"] = sandbox
    return provenance


def build_run_document(
    results: list[PromptResult], sources: list[JsonObject], findings: list[FindingRow], facts: RunFacts
) -> RunDocument:
    """The whole run's document: the verdicts, the sources that answered, the findings, completeness."""
    if not results:  # a data-lint (or pipeline) run: findings and provenance only
        return {
            "format": FORMAT,
            "findings": _sorted_findings(findings),
            "provenance": {
                "time": now_utc(),
                "versions": package_versions(),
                "host": host(),
                "invocation": list(facts.invocation),
            },
        }
    verdicts = judge_results(results, facts.scorer, facts.root)
    idents = _identities(sources)
    suites = [v.suite for v, _ in verdicts]
    provenance = _provenance(results, suites, idents, facts)
    variants = [r.variant for r in results]
    doc = build_document(verdicts, provenance, strict_mode=facts.strict_mode)
    if len(set(variants)) > 1:
        from pytest_punie.report.matrix import matrix_of, sweep_of

        doc["matrix"] = matrix_of(doc)
        if any("ckpt=" in v for v in variants):
            doc["sweep"] = sweep_of(doc, idents)
        if any(v.startswith("bits=") for v in variants):
            from pytest_punie.report.bitsweep import bits_sweep_of

            doc["bits_sweep"] = bits_sweep_of(doc, idents)
            doc["parity"] = [i["bits_sweep"]["parity"] for i in idents.values() if i.get("bits_sweep")]
        if any(v.startswith("seed=") for v in variants):
            from pytest_punie.report.seeds import seeds_of

            doc["seeds"] = seeds_of(doc, {s.name: s.extra.get("reproducibility") for s in suites})
    from pytest_punie.report.formatlock import DEFAULT_MIN_P_OPENER, add_format_lock

    add_format_lock(
        doc, {s.name: (s.extra.get("format_lock") or {}).get("min_p_opener", DEFAULT_MIN_P_OPENER) for s in suites}
    )
    doc["findings"] = _sorted_findings(findings)
    doc["completeness"] = completeness(doc, facts)
    doc["response_cache"] = response_cache_of(sources)
    if facts.repeat > 1:
        doc["repeats"] = repeats_of(doc, facts.repeat)
    if doc["completeness"]["state"] in ("interrupted", "unanswered") and doc["verdict"] != "INVALID":
        doc["verdict"] = "INCOMPLETE"  # nothing is judged on a run whose measurement did not finish
        doc["overall"]["passed"] = False
    return doc


def response_cache_of(sources: list[JsonObject]) -> ResponseCacheCount | None:
    """Responses taken from the response cache and generated, over every source of the
    run (xdist workers and variants; a cache shared by two variants counted once)."""
    caches = {c["instance"]: c for s in sources if isinstance(c := s.get("response_cache"), dict) and "instance" in c}
    if not caches:
        return None
    return {
        "hits": sum(int(c["hits"]) for c in caches.values()),
        "misses": sum(int(c["misses"]) for c in caches.values()),
        "folders": sorted({str(c["folder"]) for c in caches.values()}),
    }


def repeats_of(doc: RunDocument, k: int) -> Repeats:
    """What --punie-repeat measured: at temperature 0 the samples are (nearly always)
    identical and say nothing new; say so rather than count them as evidence."""
    sampled = [p for p in doc["prompts"] if "samples" in p["details"]]
    identical = sum(
        1
        for p in sampled
        if len(set(p["details"]["sample_scores"])) == 1 and len(set(p["details"]["sample_labels"])) == 1
    )
    temperature = doc["provenance"]["sampling"]["default"].get("temperature")
    out: Repeats = {"k": k, "temperature": temperature, "prompts": len(sampled), "identical_prompts": identical}
    if temperature == 0:
        out["note"] = (
            f"temperature 0: the {k} samples were identical for {identical} of {len(sampled)} prompts; "
            "greedy repeats add no information, and intervals are over prompts, never over samples"
        )
    else:
        out["note"] = "intervals are over prompts (the independent units); samples give pass rates and pass^k"
    return out


def completeness(doc: RunDocument, facts: RunFacts) -> Completeness:
    """Whether the run measured everything it was asked to: ``whole``, ``partial`` (-k, --lf,
    a variant that produced nothing), ``unanswered`` (prompts left without a whole response by
    the harness or the transport: a time limit, a dropped connection, a crash) or ``interrupted``.
    A prompt the harness did not let finish is never the model's failure."""
    reasons = []
    if facts.interrupted:
        reasons.append("the run was interrupted (Ctrl-C or a signal) before every item ran")
    lost = [p for p in doc["prompts"] if p.get("error")]
    if lost:
        reasons.append(unanswered_reason(lost, finishing_command(facts.invocation)))
    for s in doc["suites"]:
        if not s["complete"]:
            name = s["suite"] + (f"[{s['variant']}]" if s["variant"] else "")
            reasons.append(f"{name}: {s['overall']['prompts_run']} of {s['overall']['prompts']} prompts ran")
    for path in dict.fromkeys(s["path"] for s in doc["suites"]):
        ran = {s["variant"] for s in doc["suites"] if s["path"] == path}
        reasons += [f"{path}[{v}]: no prompt produced a result" for v in facts.variants if v not in ran]
    state = "interrupted" if facts.interrupted else "unanswered" if lost else "partial" if reasons else "whole"
    out: Completeness = {"state": state, "reasons": reasons}
    if lost:
        out["unanswered"] = [{"id": p["id"], "variant": p.get("variant", ""), "error": p["error"]} for p in lost]
    return out


def finishing_command(invocation: list[str] | tuple[str, ...]) -> str:
    """The run's own command without its budget: what finishes a run the budget stopped, from the caches."""
    import shlex

    args, skip = [], False
    for a in invocation:
        if skip:
            skip = False
        elif a == "--punie-budget":
            skip = True
        elif not a.startswith("--punie-budget="):
            args.append(a)
    return "pytest " + " ".join(shlex.quote(a) for a in args)


def unanswered_reason(lost: list[PromptRow], finish_with: str | None = None) -> str:
    """How many prompts the harness or transport left without a whole response, why, and how to
    finish; a model a stage gate stopped gets that gate named, and no "rerun" advice (a rerun
    stops at the same gate); work the run's budget did not start gets the command that finishes it."""
    from pytest_punie.budget import BUDGET_STOP
    from pytest_punie.models.gates import gate_that_stopped

    budgeted = [p for p in lost if BUDGET_STOP.search(str(p["error"]))]
    lost_rest = [p for p in lost if p not in budgeted]
    timeouts = [p for p in lost_rest if str(p["error"]).startswith("timeout")]
    gated = {p.get("variant") or "the model": gate for p in lost_rest if (gate := gate_that_stopped(str(p["error"])))}
    stopped = [p for p in lost_rest if (p.get("variant") or "the model") in gated and p not in timeouts]
    other = [p for p in lost_rest if p not in timeouts and p not in stopped]
    kinds = []
    if budgeted:
        m = BUDGET_STOP.search(str(budgeted[0]["error"]))
        kinds.append(
            f"{len(budgeted)} not started within --punie-budget={m.group(1) if m else '?'} (first: "
            f"{budgeted[0]['id']}: {budgeted[0]['error']}); what was done is cached: finish with "
            f"{finish_with or 'the same command without --punie-budget'}"
        )
    if timeouts:
        kinds.append(f"{len(timeouts)} cut by their own time limit (text kept, label timeout)")
    if stopped:
        which = ", ".join(f"{v} at '{g}'" for v, g in gated.items())
        kinds.append(
            f"{len(stopped)} whose model a stage gate stopped ({which}): a rerun stops there again; change what "
            "the gate names first (the data, or the entry's pre-registered bounds, on purpose)"
        )
    if other:
        kinds.append(f"{len(other)} with no response (first: {other[0]['id']}: {other[0]['error']})")
    advice = ""
    if timeouts or other:
        advice = "; rerun to finish: completed responses are kept and reused"
    if timeouts:
        advice += "; give slow prompts more time with --punie-timeout-scale=2"
    return f"{len(lost)} prompt(s) without a whole response: {'; '.join(kinds)}{advice}"
