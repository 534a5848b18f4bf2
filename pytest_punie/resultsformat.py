"""The results document's shape, typed: what report/ builds, the gate and every view read,
and a baseline saves (docs/results-format.md says what each field means).

TypedDicts, not classes: the document is JSON in and out (``document_to_json`` and
``document_from_json``), so the format on disk is exactly the dict; a key a document written
by an older version lacks is optional (``total=False``) and read with ``.get``. Two parts are
free-form on purpose (``JsonObject``): a response as the server sent it and a scorer's details
(their keys are the server's and the scorer's), and a source's record (its keys depend on
the kind of source: a model, recorded responses, a server).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypedDict, cast

FORMAT = "pytest-punie/results/1"
RESERVED_NAMES = ("overall", "critical", "metrics", "format_lock")
"""Keys a suite entry's ``rules`` (and the gate's) keep beside its categories' names."""

JsonObject = dict[str, Any]
"""A JSON object whose keys the results format does not fix (a raw response, a scorer's details)."""

SuiteRules = dict[str, float | list[str] | dict[str, float | None] | bool | None]
"""The gate rules a suite pre-registered: each category's ``max_regression`` by name, and
``overall`` (a float), ``critical`` (prompt ids), ``metrics`` (name -> allowance), ``format_lock``."""


class Interval(TypedDict):
    """Wilson 95% interval of a pass rate over prompts, the independent units."""

    over: str  # always "prompts"
    passes: int  # prompts that passed
    n: int  # prompts judged
    pass_rate: float  # passes / n, rounded to 6 places
    low: float  # lower bound
    high: float  # upper bound


class SampleRate(TypedDict):
    """With --punie-repeat: the pass rate over every sample (a point estimate, never an interval)."""

    n: int
    passes: int
    pass_rate: float


class CategoryRow(TypedDict, total=False):
    """One judged row: a category, a suite's overall, or (with more keys) a suite-level metric."""

    score: float | None  # the value the threshold bounds, rounded to 6 places
    score_exact: str | None  # the same as an exact fraction ("3/5")
    metric: str  # mean_score or pass_rate
    mean_score: float | None
    pass_rate: float | None
    threshold: str  # as written (">= 0.95")
    threshold_op: str
    threshold_value: float
    passed: bool | None  # None when not every prompt of the row ran (not judged)
    prompts: int  # prompts the suite has in the row
    prompts_run: int
    prompts_passed: int
    interval: Interval
    samples: SampleRate
    pass_hat_k: dict[str, float]  # k -> mean over prompts of pass^k


class MetricRow(CategoryRow, total=False):
    """A suite-level metric (Phase 26's field_access_rate): a row over the prompts it names."""

    description: str
    prompt_ids: list[str]


class Expected(TypedDict, total=False):
    """What a correct answer does, as the suite says it."""

    kind: str  # direct, tool or field_access
    tools: list[str]
    match: str  # any or all
    text: str  # in words
    fields: list[str]
    fields_match: str


class PromptLock(TypedDict, total=False):
    """A prompt's format lock at its first generated position (the opener's probability and margin)."""

    expects_call: bool
    p_opener: float
    runner_up: str
    margin: float  # nats toward the right first token
    p_opener_at: dict[str, float]  # temperature -> P(opener sampled first)
    wrapper_loglik: float | None
    opened: bool  # this response's first token was the opener
    source: str
    bound: bool  # p_opener and margin are upper bounds (a server's top_logprobs lacked the opener)
    system_prompts: int
    margin_range: list[float]


class PromptRow(TypedDict, total=False):
    """One prompt's result, in suite order."""

    id: str
    suite: str  # the suite's path
    category: str
    query: str
    expected: Expected
    score: float | None  # the primary scorer's
    scores: dict[str, float | None]  # every registered scorer's
    scores_exact: dict[str, str]
    passed: bool
    label: str  # failure mode
    served: str | None  # what the serving path did with the calls
    error: str | None  # no whole response: why
    retries: int
    seconds: float | None
    details: JsonObject  # the scorers' details
    variant: str
    response: JsonObject | None  # as the server (or backend) sent it
    format_lock: PromptLock


class LockSensitivity(TypedDict):
    """The lock under the suite's system-prompt paraphrases."""

    system_prompts: int
    min_margin_any_system_prompt: float
    widest_range: float
    prompts_changing_side: list[str]


class LockSummary(TypedDict, total=False):
    """A category's (or a suite's) format lock: its weakest prompt and what sampling would do."""

    sensitivity: LockSensitivity
    prompts: int
    min_margin: float
    min_margin_prompt: str
    under_1_nat: list[str]
    expected_wrong_openings: dict[str, float]  # temperature -> expected wrong first tokens
    observed_wrong_openings: int


class SuiteLock(TypedDict):
    """A suite entry's format lock summary."""

    categories: dict[str, LockSummary]
    overall: LockSummary
    min_p_opener: float
    temperature: float | None  # a temperature variant's own


class SuiteEntry(TypedDict, total=False):
    """One suite at one variant: its rows, failure modes, serving statuses and gate rules."""

    suite: str  # the suite's name
    variant: str  # "" for the model under test
    path: str
    digest: str
    scorer: str  # its primary scorer
    complete: bool
    passed: bool
    no_response: list[str]
    categories: dict[str, CategoryRow]
    overall: CategoryRow
    metrics: dict[str, MetricRow]
    failure_modes: dict[str, int]
    served: dict[str, int]
    invalid: list[str]  # prompts whose primary score depends on a dropped call
    rules: SuiteRules
    format_lock: SuiteLock


class RunWarning(TypedDict):
    """What makes the numbers untrustworthy (dropped calls, a failed preflight, a fragile lock)."""

    code: str
    parser: str | None
    prompts: list[str]
    message: str


class Unanswered(TypedDict):
    """A prompt left without a whole response, and why."""

    id: str
    variant: str
    error: str | None


class Completeness(TypedDict, total=False):
    """Whether the run measured everything it was asked to."""

    state: str  # whole, partial, unanswered or interrupted
    reasons: list[str]
    unanswered: list[Unanswered]


class Disagreement(TypedDict):
    """A prompt the legacy and strict scorers judge differently, and why in the users' terms."""

    id: str
    suite: str
    variant: str
    legacy: float
    strict: float
    legacy_passed: bool
    strict_passed: bool
    reason: str


class Agreement(TypedDict):
    """Legacy against strict, prompt by prompt."""

    prompts: int
    agree: int
    disagree: int
    disagreements: list[Disagreement]


class Sampling(TypedDict, total=False):
    """The sampling a run used."""

    default: JsonObject  # the suite's sampling with the run's overrides applied
    overrides: dict[str, dict[str, int | None]]  # prompt id -> its own max_tokens
    suites: dict[str, JsonObject]  # several suites: each one's own
    run_overrides: JsonObject  # what --punie-temperature / --punie-max-tokens / --punie-seed changed


class SuiteDigest(TypedDict):
    """A suite the run judged against, by the digest of its canonical content."""

    suite: str
    path: str
    digest: str


class FileDigest(TypedDict):
    """A file the run read, by its digest."""

    path: str
    digest: str


class Provenance(TypedDict, total=False):
    """What produced the numbers."""

    time: str
    model: JsonObject  # what answered: a source's record
    suites: list[SuiteDigest]
    tool_surfaces: list[FileDigest]
    sampling: Sampling
    scorer: str
    versions: dict[str, str | None]
    host: dict[str, str]
    invocation: list[str]
    workers: int
    repeat: int
    variants: dict[str, JsonObject]  # several variants: each one's record
    sandbox: JsonObject  # where programs ran: workspaces (name, digest) and, tool by tool, what computed it


class MatrixCell(TypedDict):
    """One row's score and verdict at one variant."""

    score: float | None
    passed: bool | None


class MatrixRow(TypedDict, total=False):
    """A row (category, overall, metric) at every variant, and whether it holds at all of them."""

    variants: dict[str, MatrixCell]
    holds: bool | None


class SweepPoint(TypedDict):
    """One checkpoint of a sweep: its eval score beside its validation loss."""

    suite: str
    variant: str
    checkpoint: str
    iteration: int | None
    eval_score: float | None
    strict_score: float | None
    val_loss: float | None
    passed: bool | None
    digest: str | None


class Sweep(TypedDict):
    """A checkpoint sweep and its best checkpoints by eval and by validation loss."""

    checkpoints: list[SweepPoint]
    best_by_eval: str | dict[str, str | None] | None  # one name, or each suite's own
    best_by_val_loss: str | None


class SeedRow(TypedDict, total=False):
    """A category (or overall) across training seeds."""

    name: str
    threshold: str | None
    per_seed: dict[str, MatrixCell]
    min: float
    median: float
    max: float
    mean: float
    sd: float | None  # seed to seed (n - 1); None for one seed
    interval: JsonObject  # low, high and the bootstrap's method, reps and seed


class SeedRuleVerdict(TypedDict):
    """A pre-registered k-of-n reproducibility rule, judged."""

    seeds_passing: int
    of: int
    overall: str
    seeds_reaching: list[str]
    verdict: str  # REPRODUCIBLE, NOT REPRODUCIBLE or NOT JUDGED
    why: str
    operating_characteristic: list[dict[str, float]]
    model: str


class SeedPrompt(TypedDict):
    """How many seeds passed a prompt."""

    id: str
    seeds_passing: int
    of: int


class SuiteSeeds(TypedDict, total=False):
    """One suite's training seeds as the unit of analysis."""

    seeds: list[int]
    categories: list[SeedRow]
    overall: SeedRow
    prompts: list[SeedPrompt]
    decided_by_luck: list[str]
    not_measured: dict[str, str | None]  # seed -> why it is in no figure
    stopped_at: dict[str, str]  # seed -> the stage gate that stopped its build (a not-measured seed)
    asked: list[int]  # every seed the run asked for; the figures cover only ``seeds``
    covers: str  # what the figures cover, in words ("1 of 2 seeds: seed 1 not measured")
    resumed: dict[str, str]  # seed -> how its adapter training was resumed (not one uninterrupted run)
    rule: SeedRuleVerdict


class Repeats(TypedDict, total=False):
    """What --punie-repeat measured."""

    k: int
    temperature: float | None
    prompts: int
    identical_prompts: int
    note: str


class ResponseCacheCount(TypedDict):
    """Responses taken from the response cache and generated."""

    hits: int
    misses: int
    folders: list[str]


class FindingRow(TypedDict):
    """A data-lint finding as the document keeps it (``datalint.findings.Finding.to_dict``)."""

    check: str
    severity: str
    path: str
    line: int | None
    message: str


class ChecksCount(TypedDict):
    """A run with nothing to judge: the checks that ran and failed."""

    ran: int
    failed: int
    findings: int


class GateVerdict(TypedDict, total=False):
    """The regression gate's verdict and its reasons."""

    verdict: str  # PASS, FAIL, INCONCLUSIVE or REFUSED
    reasons: list[str]
    alpha: float


class RegressionRow(TypedDict):
    """A row (category, overall, metric) against the baseline: the change and whether it is noise."""

    baseline: float | None  # never None in a comparison: a row without a score is not compared
    candidate: float | None
    delta: float
    worse: int
    better: int
    p_value: float
    prompts: int
    candidate_interval: tuple[float, float] | None
    baseline_interval: tuple[float, float] | None


# a prompt that passed in one run and missed in the other ("from" and "to" are its two verdicts)
Flip = TypedDict(
    "Flip",
    {
        "id": str,
        "suite": str,
        "variant": str,
        "category": str,
        "from": bool,
        "to": bool,
        "score_from": float | None,
        "score_to": float | None,
    },
)

# a prompt whose failure mode changed, from the baseline's label to the candidate's
LabelChange = TypedDict("LabelChange", {"id": str, "from": str, "to": str})

# one of the prompts whose format-lock margin dropped most
LockDrop = TypedDict(
    "LockDrop",
    {"id": str, "variant": str, "from": float, "to": float, "p_opener_from": float, "p_opener_to": float},
)


class LockComparison(TypedDict):
    """The format lock of a candidate against its baseline: per-prompt margins, paired."""

    verdict: str  # weakened, held or strengthened
    prompts: int
    median_change: float
    mean_change: float
    w_plus: float
    p_value: float
    alpha: float
    test: str
    largest_drops: list[LockDrop]


class BaselineRef(TypedDict):
    """Which baseline a comparison is against: what answered it and when."""

    model: JsonObject | None
    time: str | None


class BaselineAnswer(TypedDict):
    """What the baseline answered a prompt both runs have (the side-by-side view)."""

    suite: str
    variant: str
    id: str
    passed: bool
    label: str
    score: float | None
    text: str


class Scope(TypedDict):
    """The prompts the comparison stands on."""

    common_prompts: int
    candidate_prompts: int
    baseline_prompts: int
    restricted: bool


class SeedSetDifference(TypedDict):
    """One suite's two recipes compared over their seed sets."""

    prompts: int
    baseline_seeds: int
    candidate_seeds: int
    baseline_pass_rate: float
    candidate_pass_rate: float
    difference: float
    interval: JsonObject  # low, high, reps, seed
    allowance: float


class Comparison(TypedDict, total=False):
    """A candidate against its baseline: what the gate's verdict rests on."""

    kind: str  # "seed sets" for two recipes' seed sets
    method: str
    suites: dict[str, SeedSetDifference]
    baseline: BaselineRef
    categories: dict[str, RegressionRow]
    metrics: dict[str, RegressionRow]
    flips: list[Flip]
    label_changes: list[LabelChange]
    baseline_answers: list[BaselineAnswer]
    label_moves: dict[str, int]
    measurement_changed: list[str]
    format_lock: LockComparison
    scope: Scope
    baseline_name: str
    baseline_path: str


class RunDocument(TypedDict, total=False):
    """The results document of a run: every number a view prints or the gate reads."""

    format: str
    verdict: str  # PASS, FAIL, INVALID or INCOMPLETE
    warnings: list[RunWarning]
    strict_mode: bool
    overall: CategoryRow
    categories: dict[str, CategoryRow]  # several suites: keys suite:category
    failure_modes: dict[str, int]
    scorer_agreement: Agreement
    suites: list[SuiteEntry]
    prompts: list[PromptRow]
    provenance: Provenance
    matrix: dict[str, MatrixRow]
    sweep: Sweep
    seeds: dict[str, SuiteSeeds] | None
    findings: list[FindingRow]
    parity: list[JsonObject]  # per model and bits: the parity figures, bounds and problems
    bits_sweep: JsonObject  # --punie-bits: each width's parity, size, speed and eval; the smallest that holds
    checks: ChecksCount
    completeness: Completeness
    response_cache: ResponseCacheCount | None
    repeats: Repeats
    gate: GateVerdict
    comparison: Comparison
    saved_as: str


def key_prefix(entries: int, one_path: bool, suite_name: str, variant: str) -> str:
    """What a document puts before a row's (category's, metric's, rule's) name: nothing for one
    suite entry, the variant for one suite's variants, else the suite and its variant."""
    if entries == 1:
        return ""
    if one_path:
        return f"{variant}:"
    return f"{suite_name}:{variant + ':' if variant else ''}"


def row_key(suites: Sequence[SuiteEntry], suite_name: str, variant: str, name: str) -> str:
    """The one way a row is keyed in a document with these suite entries (its ``categories``, the
    gate's rules and comparison rows): ``git``, ``t=0.7:git`` or ``phase33:t=0.7:git``."""
    return key_prefix(len(suites), len({s.get("path") for s in suites}) == 1, suite_name, variant) + name


def document_to_json(doc: RunDocument) -> str:
    """The one way a document is written (a baseline, --punie-json): indented, non-ASCII kept."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def document_writer(doc: RunDocument) -> Callable[[TextIO], None]:
    """``document_to_json``'s very text, streamed into an open file: a 50,000-prompt document is
    written without its whole text in memory."""

    def write(fh: TextIO) -> None:
        json.dump(doc, fh, indent=2, ensure_ascii=False)
        fh.write("\n")

    return write


class NotADocument(ValueError):
    """JSON, but not a results document."""


def document_from_json(text: str) -> RunDocument:
    """The one way a document is read back: ValueError when the text is not JSON (with its line),
    NotADocument when it is JSON but not a results document."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or "prompts" not in doc:
        raise NotADocument("not a pytest-punie results document (no prompts)")
    return cast(RunDocument, doc)
