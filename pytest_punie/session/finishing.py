"""The end of a run: the gathered results judged, gated and written as documents; the exit status
(the verdict); the terminal's sections. Pure of the session's other rooms: it reads what was
gathered, the run's options and the source an interruption leaves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_punie.errors import PunieError
from pytest_punie.resultsformat import RunDocument
from pytest_punie.session.gathered import Gathered
from pytest_punie.sources import ResponseSource
from pytest_punie.sources.sourceoptions import SourceOptions
from pytest_punie.views.write import OutputPaths

# the exit status of an INVALID run: the measurement is broken (not a FAIL of the model)
EXIT_INVALID = 6
# the exit status of an INCOMPLETE run: prompts left without a whole response by the harness or
# the transport (a time limit, a dropped connection); rerun to finish (an interruption keeps pytest's 2)
EXIT_INCOMPLETE = 7


@dataclass
class Finished:
    """What finishing made: the document, what was written, or why nothing was."""

    document: RunDocument | None = None
    """The run's results document (None: nothing was judged)."""
    written: list[str] = field(default_factory=list)
    """What was written, as lines for the summary."""
    interrupted_early: list[str] = field(default_factory=list)
    """Said when an interruption came before any prompt was judged."""


def finish(
    config: pytest.Config,
    gathered: Gathered,
    opts: SourceOptions,
    outputs: OutputPaths,
    source: ResponseSource | None,
    exitstatus: int,
    done: Finished,
) -> int:
    """Judge, gate and write the documents; return the run's exit status."""
    asked = bool(outputs.json or outputs.md)  # a document asked for is written, clean or not
    if not (gathered.results or gathered.findings or gathered.parity) and not (asked and gathered.checks_run):
        if exitstatus == pytest.ExitCode.INTERRUPTED and source is not None:
            done.interrupted_early = interrupted_lines(source)
        return exitstatus
    from pytest_punie.report.rundocument import RunFacts, build_run_document
    from pytest_punie.views.write import write_documents

    facts = RunFacts(
        root=config.rootpath,
        scorer=config.getoption("punie_scorer"),
        strict_mode=bool(config.getoption("punie_strict")),
        repeat=opts.repeat,
        invocation=list(config.invocation_params.args),
        workers=getattr(config.option, "numprocesses", None) or 0,
        interrupted=exitstatus == pytest.ExitCode.INTERRUPTED,
        variants=expected_variants(opts),
    )
    try:
        doc = build_run_document(gathered.results, gathered.sources, gathered.findings, facts)
        if not gathered.results:  # a data lint (or pipeline) run: what ran, so a clean run says so
            doc["checks"] = {
                "ran": gathered.checks_run,
                "failed": gathered.checks_failed,
                "findings": len(gathered.findings),
            }
        if gathered.parity:  # the parity items' figures, beside a bits sweep's
            rows = [*(doc.get("parity") or []), *gathered.parity]
            doc["parity"] = sorted(rows, key=lambda p: (str(p.get("model")), p.get("bits") or 0))
    except PunieError as err:
        config.get_terminal_writer().line(f"pytest-punie: {err.describe()}", red=True)
        return int(pytest.ExitCode.TESTS_FAILED)
    if gathered.results:
        from pytest_punie.gate.rungate import GateOptions, apply_gate

        apply_gate(doc, GateOptions.from_config(config))
    done.document = doc
    done.written = write_documents(doc, gathered.results, outputs)
    return exit_status(doc, exitstatus, gathered)


def expected_variants(opts: SourceOptions) -> tuple[str, ...]:
    """The variants this run asks for (for the xdist scheduler and completeness)."""
    from pytest_punie.sources.variants import variants_of

    try:
        return tuple(v.name for v in variants_of(opts))
    except PunieError:
        return ("",)


def exit_status(doc: RunDocument, exitstatus: int, gathered: Gathered) -> int:
    """The verdict (and, when comparing, the gate) is the exit status; other
    failing tests still fail the run; pytest's own statuses stand."""
    if not gathered.results or exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return exitstatus
    if doc["verdict"] == "INVALID":  # a broken measurement is neither PASS nor FAIL
        return EXIT_INVALID
    if doc["verdict"] == "INCOMPLETE":  # an unfinished measurement neither
        return EXIT_INCOMPLETE
    ok = doc["verdict"] == "PASS" and not gathered.other_failures
    if "gate" in doc:
        ok = ok and doc["gate"]["verdict"] == "PASS"
    return int(pytest.ExitCode.OK if ok else pytest.ExitCode.TESTS_FAILED)


def summary_sections(config: pytest.Config, done: Finished, judged: bool) -> list[tuple[str | None, list[str]]]:
    """(section title or None, lines) for the terminal summary."""
    doc = done.document
    if doc is None and done.interrupted_early:
        return [("pytest-punie eval", done.interrupted_early)]
    if doc is None:
        return []
    if not judged:
        return _parity_section(doc)
    from pytest_punie.views.gateview import render_gate_terminal
    from pytest_punie.views.matrixview import render_matrix_terminal
    from pytest_punie.views.terminal import render_terminal

    out: list[tuple[str | None, list[str]]] = [("pytest-punie eval", render_terminal(doc))]
    if "matrix" in doc:
        out.append(("pytest-punie variants", render_matrix_terminal(doc)))
    if any(s.get("format_lock") for s in doc.get("suites", [])):
        from pytest_punie.views.lockview import render_lock_terminal

        out.append(("pytest-punie format lock", render_lock_terminal(doc)))
    if doc.get("seeds"):
        from pytest_punie.views.seedsview import render_seeds_terminal

        out.append(("pytest-punie training seeds", render_seeds_terminal(doc.get("seeds") or {})))
    if doc.get("bits_sweep"):
        from pytest_punie.views.bitsview import render_bits_terminal

        out.append(("pytest-punie bits sweep", render_bits_terminal(doc.get("bits_sweep") or {})))
    out += _parity_section(doc)
    if "comparison" in doc:
        out.append(("pytest-punie regression gate", render_gate_terminal(doc)))
    elif doc.get("gate", {}).get("verdict") == "REFUSED":
        out.append(("pytest-punie regression gate", ["GATE: REFUSED", doc["gate"]["reasons"][0]]))
    tail = [f"saved baseline {doc['saved_as']}"] if doc.get("saved_as") else []
    compare_md = config.getoption("punie_compare_md")
    if compare_md and doc.get("comparison"):
        tail.append(f"wrote {compare_md}")
    tail += done.written
    if tail:
        out.append((None, tail))
    return out


def _parity_section(doc: RunDocument) -> list[tuple[str | None, list[str]]]:
    """The parity table, where the run measured parity."""
    if not doc.get("parity"):
        return []
    from pytest_punie.views.parityview import render_parity_terminal

    return [("pytest-punie parity", render_parity_terminal(doc.get("parity") or []))]


def interrupted_lines(source: Any) -> list[str]:
    """What an interruption during generation leaves: no prompt judged, the completed responses kept."""
    kept = source.completed if source is not None else 0
    cache = source.response_cache if source is not None else None
    where = f" in {cache.folder}" if cache is not None else ""
    resume = "rerun to resume from them" if cache is not None else "they are not kept (--punie-no-cache)"
    return [
        f"{kept} responses were completed before the interruption{where}: {resume}",
        "VERDICT: INCOMPLETE (the run was interrupted (Ctrl-C or SIGTERM) before any prompt was judged: "
        "nothing is judged, saved or gated)",
    ]
