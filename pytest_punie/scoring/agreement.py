"""Do the two scorers agree? Per prompt, pass or fail at the suite's pass
score, and for each disagreement the reason in the users' terms.

When the legacy and strict scorers disagree on every prompt, something
other than the model is being measured (Phase 40: the server had dropped
the calls). Saying so in every report is what makes that visible.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pytest_punie.resultsformat import Agreement, Disagreement, PromptRow

SERVING_DROP = "dropped call: the serving path dropped a call the model wrote (legacy reads the served message)"


def disagreement_reason(label: str, served: str | None, legacy_passed: bool, details: dict[str, Any]) -> str:
    """Why legacy and strict judge one response differently."""
    if served == "dropped":
        return SERVING_DROP
    if label == "direct-answer" and not legacy_passed:
        return "direct answer showing ```json: no tool call, but legacy counts the fence as one"
    if label == "fields-not-read" and legacy_passed:
        return "field named outside the program: legacy finds a result field pattern anywhere in the text"
    if label == "direct-call":
        return "direct call: the tool is called without the execute_code wrapper (legacy gives 0.5)"
    if label == "prose":
        return "prose naming a tool: no call at all (legacy gives 0.5 for a mention)"
    if label in ("hallucinated-tool", "bad-field", "sandbox-violation", "syntax-error"):
        return f"{label}: the program would not run in the sandbox (legacy only looks for the tool's name)"
    if label == "wrapped-wrong-tool" and legacy_passed:
        return "keyword substring: the expected name appears in the program but is not the tool called"
    if label in ("wrapped-partial", "wrapped-correct") and not legacy_passed:
        return f"{label}: strict credits the calls as the sandbox runs them; legacy's keyword rules do not"
    problems = details.get("problems") or []
    if problems:
        return f"{label}: {problems[0]}"
    return label


def scorer_agreement(prompts: list[PromptRow], pass_scores: dict[str, Fraction]) -> Agreement:
    """``prompts`` are results-document prompt objects; ``pass_scores`` maps
    a suite path to its pass score."""
    disagreements: list[Disagreement] = []
    for p in prompts:
        pass_score = pass_scores[p["suite"]]
        legacy, strict = Fraction(p["scores_exact"]["legacy"]), Fraction(p["scores_exact"]["strict"])
        got = p["error"] is None
        legacy_passed, strict_passed = got and legacy >= pass_score, got and strict >= pass_score
        if legacy_passed != strict_passed:
            disagreements.append(
                {
                    "id": p["id"],
                    "suite": p["suite"],
                    "variant": p.get("variant", ""),
                    "legacy": round(float(legacy), 6),
                    "strict": round(float(strict), 6),
                    "legacy_passed": legacy_passed,
                    "strict_passed": strict_passed,
                    "reason": disagreement_reason(p["label"], p.get("served"), legacy_passed, p["details"]),
                }
            )
    return {
        "prompts": len(prompts),
        "agree": len(prompts) - len(disagreements),
        "disagree": len(disagreements),
        "disagreements": disagreements,
    }
