"""The suite schema: one JSON Schema, exported for editors and used to check.

The checker below walks the small subset of JSON Schema this file uses, so
that every error can name the YAML line, the key path and a did-you-mean.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from pytest_punie.registry import SCORERS
from pytest_punie.suite.suitetypes import LEGACY_RULES
from pytest_punie.suite.yamlsource import KeyPath, LocatedYaml

THRESHOLD_PATTERN = r"^\s*(>=|>)\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$"

_threshold = {
    "type": "string",
    "pattern": THRESHOLD_PATTERN,
    "description": "An operator and a value: '>= 0.95', '> 0.60' or '>= 95%'.",
}
_fraction = {"type": "number", "minimum": 0, "maximum": 1}
_names = {"type": "array", "items": {"type": "string", "minLength": 1}}

MAX_TOKENS = 262_144  # Qwen3's longest context: a larger budget is a typo, not a plan
MAX_TIMEOUT_S = 86_400

_SCHEMA: dict[str, Any] = {  # primary_scorer's enum is filled from the scorer registry by suite_schema()
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://pytest-punie.invalid/suite.schema.json",
    "title": "pytest-punie eval suite",
    "type": "object",
    "additionalProperties": False,
    "required": ["suite", "system_prompt", "categories", "overall_threshold", "prompts"],
    "properties": {
        "suite": {"type": "string", "minLength": 1, "description": "The suite's name."},
        "description": {"type": "string", "description": "Free text about the suite."},
        "system_prompt": {
            "type": "string",
            "minLength": 1,
            "description": "The system message every query is asked with (each suite has its own).",
        },
        "system_prompt_variants": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "description": "Paraphrases of the system prompt: with --punie-prompt-sensitivity each prompt's "
            "format lock is also measured under each, and the range is reported.",
        },
        "primary_scorer": {"enum": [], "description": "The scorer the verdict uses."},
        "legacy_rules": {
            "enum": list(LEGACY_RULES),
            "description": "Whose rules the legacy scorer reproduces: the Phase 33 eval script (keywords in the "
            "extracted program) or the Phase 26 validation script (markers in the raw text).",
        },
        "threshold_metric": {
            "enum": ["mean_score", "pass_rate"],
            "description": "What the thresholds bound: the mean prompt score (legacy) or the share of prompts passed.",
        },
        "pass_score": {**_fraction, "description": "A prompt passes at this score or above."},
        "tool_surface": {"type": "string", "description": "Path of a tool-surface YAML, relative to the suite."},
        "max_turns": {
            "type": "integer",
            "minimum": 1,
            "maximum": 8,
            "description": "Model turns per prompt: after each program, its printed output goes back as a "
            "<tool_response> turn and the model continues, up to this many turns (default 1: the first only).",
        },
        "tool_response_role": {
            "enum": ["user", "tool"],
            "description": "How a program's output goes back: 'user' (default), a user turn holding "
            "<tool_response>...</tool_response>, as the training data writes it; 'tool', a message of the chat "
            "template's tool role, for a model whose template renders it (Qwen3's renders both the same).",
        },
        "sandbox": {
            "type": "object",
            "additionalProperties": False,
            "description": "Where the outcome scorer runs the programs: the workspace and the tools.",
            "properties": {
                "workspace": {
                    "type": "string",
                    "description": "A workspace folder (its files and workspace.yaml), relative to the suite; "
                    "default: the packaged Punie workspace, which holds every path phase33 and phase26 name.",
                },
                "tools": {
                    "type": "string",
                    "description": "An importable module whose functions replace the sandbox's by name "
                    "(the users' own toolset, e.g. punie.agent.toolset).",
                },
                "time_limit_s": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 600,
                    "description": "A program's execution time limit (the tools' own time not counted); default 5.",
                },
                "memory_mb": {
                    "type": "integer",
                    "minimum": 16,
                    "maximum": 65536,
                    "description": "A program's memory limit in MiB; default 256.",
                },
                "tool_timeout_s": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 3600,
                    "description": "One tool call's time limit (a hung tool is stopped); default 60.",
                },
            },
        },
        "sampling": {
            "type": "object",
            "additionalProperties": False,
            "description": "How this suite's prompts are generated.",
            "properties": {
                "temperature": {"type": "number", "minimum": 0, "description": "Sampling temperature (0: greedy)."},
                "top_p": {"type": "number", "minimum": 0, "maximum": 1, "description": "Nucleus sampling bound."},
                "max_tokens": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_TOKENS,
                    "description": "Tokens per answer.",
                },
                "stop": {**_names, "description": "Stop strings; [] stops at the model's end of sequence only."},
                "timeout_s": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": MAX_TIMEOUT_S,
                    "description": "Each prompt's own generation time limit, counted from when it is scheduled.",
                },
                "seed": {"type": "integer", "description": "Sampling seed (temperature > 0)."},
            },
        },
        "overall_threshold": _threshold,
        "overall_max_regression": {**_fraction, "description": "Largest allowed drop against a baseline."},
        "categories": {
            "type": "object",
            "minProperties": 1,
            "description": "The categories, by name, each with its pre-registered threshold.",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["threshold"],
                "properties": {
                    "threshold": _threshold,
                    "max_regression": {**_fraction, "description": "Largest allowed drop against a baseline."},
                    "description": {"type": "string", "description": "Free text about the category."},
                },
            },
        },
        "metrics": {
            "type": "object",
            "description": "Suite-level metrics over a named set of prompts, each with a pre-registered threshold.",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["threshold"],
                "properties": {
                    "description": {"type": "string", "description": "Free text about the metric."},
                    "categories": {**_names, "minItems": 1, "description": "every prompt of these categories"},
                    "prompts": {**_names, "minItems": 1, "description": "these prompt ids"},
                    "threshold": _threshold,
                    "max_regression": {**_fraction, "description": "Largest allowed drop against a baseline."},
                },
            },
        },
        "format_lock": {
            "type": "object",
            "additionalProperties": False,
            "description": "Pre-registered format-lock bound: a prompt that passes greedily while P(opener) at its "
            "first generated position is below min_p_opener is reported FRAGILE.",
            "properties": {
                "min_p_opener": {**_fraction, "description": "The FRAGILE bound (default 0.9)."},
                "gate": {
                    "type": "boolean",
                    "description": "A candidate whose per-prompt margins are significantly lower than the "
                    "baseline's (lock weakened) FAILs the gate.",
                },
            },
        },
        "reproducibility": {
            "type": "object",
            "additionalProperties": False,
            "required": ["seeds_passing", "of", "overall"],
            "description": "Pre-registered rule for --punie-seeds: the recipe is REPRODUCIBLE when at least "
            "seeds_passing of the `of` training seeds reach the overall threshold.",
            "properties": {
                "seeds_passing": {"type": "integer", "minimum": 1, "description": "Seeds that must pass."},
                "of": {"type": "integer", "minimum": 1, "description": "Seeds trained."},
                "overall": _threshold,
            },
        },
        "pipeline_expect": {
            "type": "object",
            "additionalProperties": False,
            "description": "Pre-registered pipeline expectations (a registry entry's expect table overrides them).",
            "properties": {
                "min_loss_decrease": {
                    "type": "number",
                    "minimum": 0,
                    "description": "Train loss must fall by this much (default 0.1).",
                },
                "warn_final_loss_above": {
                    "type": "number",
                    "minimum": 0,
                    "description": "A warning above this final loss (default 2.0).",
                },
                "max_final_train_loss": {"type": "number", "minimum": 0, "description": "Largest final train loss."},
                "max_final_val_loss": {"type": "number", "minimum": 0, "description": "Largest final validation loss."},
                "min_val_reduction": {**_fraction, "description": "Validation loss must fall by this share."},
                "planned_iters": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Iterations the training log must reach.",
                },
                "min_bits": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 16,
                    "description": "Fewest bits of the quantized model (default 5).",
                },
                "low_bits_on_purpose": {"type": "boolean", "description": "Accept fewer bits than min_bits, said."},
                "eos_token": {
                    "type": "string",
                    "minLength": 1,
                    "description": "The expected eos (default: the template's end of turn).",
                },
                "max_kl_mean": {
                    "type": "number",
                    "minimum": 0,
                    "description": "parity: the largest mean KL(reference || model under test) per assistant token",
                },
                "min_top1_agreement": {
                    **_fraction,
                    "description": "parity: the smallest share of assistant tokens where both agree on the top token",
                },
                "max_kl_share_of_base": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "parity: the model's mean KL must stay below this share of the base's own KL "
                    "to the reference (default per bits: 4: 0.5, 5: 0.25, 6: 0.15, 8: 0.1, unquantized: 0.05)",
                },
            },
        },
        "datasets": {
            "type": "object",
            "description": "Training datasets this suite's model was trained on (for the data lint).",
            "additionalProperties": {"type": "string"},
        },
        "prompts": {
            "type": "array",
            "minItems": 1,
            "description": "The prompts: each one pytest item.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "category", "query", "expect"],
                "properties": {
                    "id": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9_.-]+$",
                        "description": "Unique id: the item's name.",
                    },
                    "category": {"type": "string", "description": "One of the suite's categories."},
                    "query": {"type": "string", "minLength": 1, "description": "What the person asks."},
                    "max_tokens": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_TOKENS,
                        "description": "This prompt's own token budget.",
                    },
                    "critical": {"type": "boolean", "description": "A regression here FAILs the gate."},
                    "expect": {
                        "type": "object",
                        "additionalProperties": False,
                        "description": "What a right answer does.",
                        "properties": {
                            "direct": {
                                "type": "boolean",
                                "description": "no tool call is the correct outcome (answer in words); no tools then",
                            },
                            "tools": {**_names, "minItems": 1, "description": "the tools to call through execute_code"},
                            "keywords": {
                                **_names,
                                "minItems": 1,
                                "description": "the legacy scorer's keywords (default: tools)",
                            },
                            "match": {"enum": ["any", "all"], "description": "any one of the tools, or all"},
                            "args": {
                                "type": "object",
                                "description": "tool -> parameter -> regex the literal argument must match",
                                "additionalProperties": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                            "fields": {**_names, "description": "result fields the program must read"},
                            "fields_match": {
                                "enum": ["any", "all"],
                                "description": "all of the fields (default) or any one of them",
                            },
                            "answer": {
                                "type": "object",
                                "additionalProperties": False,
                                "description": "What the final answer (after the tool response) must state",
                                "properties": {
                                    "mentions": {
                                        **_names,
                                        "minItems": 1,
                                        "description": "facts as references to a tool's real result, resolved "
                                        "at run time: typecheck.error_count, ruff_check.violations[0].code",
                                    },
                                },
                            },
                            "state": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["file"],
                                "description": "What the workspace holds after the conversation's writes",
                                "properties": {
                                    "file": {
                                        "type": "string",
                                        "minLength": 1,
                                        "description": "the file, relative to the workspace",
                                    },
                                    "contains": {
                                        "type": "string",
                                        "minLength": 1,
                                        "description": "text the file holds",
                                    },
                                    "lacks": {
                                        "type": "string",
                                        "minLength": 1,
                                        "description": "text the file no longer holds",
                                    },
                                    "defines": {
                                        "type": "string",
                                        "minLength": 1,
                                        "description": "a class, function or module-level name the file "
                                        "defines, found by libcst (a renamed symbol's new name)",
                                    },
                                    "does_not_define": {
                                        "type": "string",
                                        "minLength": 1,
                                        "description": "a name the file no longer defines (its old name)",
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

_JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
}


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _JSON_TYPES[expected])


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(sorted(options))}"


def suite_schema() -> dict[str, Any]:
    """The suite schema, its primary_scorer enum the registered scorers (never a hand-kept list)."""
    scorers = SCORERS.entries()
    primary = {
        "enum": [e.name for e in scorers],
        "description": "The scorer the verdict uses: " + "; ".join(f"{e.name}: {e.description}" for e in scorers) + ".",
    }
    return {**_SCHEMA, "properties": {**_SCHEMA["properties"], "primary_scorer": primary}}


def check_schema(doc: LocatedYaml, schema: dict[str, Any] | None = None) -> None:
    """Raise the first schema violation as a SuiteError with file and line."""
    _check(doc, doc.data, schema if schema is not None else suite_schema(), ())


def _check(doc: LocatedYaml, value: Any, schema: dict[str, Any], path: KeyPath) -> None:
    if "enum" in schema and value not in schema["enum"]:
        raise doc.error(path, f"{value!r} is not one of {schema['enum']}")
    expected = schema.get("type")
    if expected and not _type_ok(value, expected):
        raise doc.error(path, f"expected {expected}, found {type(value).__name__} {value!r}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise doc.error(path, "must not be empty")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise doc.error(path, f"{value!r} does not match {schema.get('description') or schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise doc.error(path, f"{value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise doc.error(path, f"{value} is above the maximum {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        if extra is False:  # unknown keys first: a misspelt key is not a missing one
            for key in value:
                if key not in props:
                    raise doc.error(path + (key,), f"unknown key {key!r}" + _did_you_mean(key, list(props)))
        for key in schema.get("required", []):
            if key not in value:
                raise doc.error(path, f"missing required key {key!r}")
        if len(value) < schema.get("minProperties", 0):
            raise doc.error(path, "must not be empty")
        for key, child in value.items():
            if key in props:
                _check(doc, child, props[key], path + (key,))
            elif isinstance(extra, dict):
                _check(doc, child, extra, path + (key,))
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise doc.error(path, "must not be empty")
        if "items" in schema:
            for i, child in enumerate(value):
                _check(doc, child, schema["items"], path + (i,))


def schema_json() -> str:
    """The suite schema as JSON (evalsuites/suite.schema.json, for editors)."""
    return json.dumps(suite_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":  # python -m pytest_punie.suite.schema > evalsuites/suite.schema.json
    print(schema_json(), end="")
