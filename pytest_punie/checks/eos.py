"""The end-of-sequence check that would have caught Phase 25: the model's
eos ids must include the chat template's end-of-turn token, or generation
runs past the end of its answer (and the eval's stop strings hide it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROBE = "PUNIE_END_OF_TURN_PROBE"


def end_of_turn(tok: Any) -> str | None:
    """The token the chat template writes right after an assistant message."""
    try:
        text = str(
            tok.apply_chat_template(
                [{"role": "user", "content": "u"}, {"role": "assistant", "content": PROBE}], tokenize=False
            )
        )
    except Exception:
        return None
    rest = text.split(PROBE, 1)[1] if PROBE in text else ""
    added = sorted(tok.get_added_vocab(), key=len, reverse=True)
    return next((t for t in added if rest.startswith(t)), None)


def _ids(value: Any) -> list[int]:
    if isinstance(value, int):
        return [value]
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


def check_eos(directory: Path, eos_token: str | None = None, source: str = "the chat template") -> list[str]:
    """config.json and generation_config.json name the end-of-turn id as eos."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(directory))
    token = eos_token or end_of_turn(tok)
    if token is None:
        return [f"{directory}: the chat template writes no special token after an assistant turn: no end of turn"]
    eot = tok.convert_tokens_to_ids(token)
    problems = []
    for name in ("config.json", "generation_config.json"):
        path = directory / name
        if not path.is_file():
            continue
        ids = _ids(json.loads(path.read_text()).get("eos_token_id"))
        if eot not in ids:
            shown = [f"{i} {tok.convert_ids_to_tokens(i)!r}" for i in ids] or ["none"]
            problems.append(
                f"{path}: eos_token_id is {', '.join(shown)}, not the end-of-turn {token!r} ({eot}, from {source}): "
                "generation would run past the end of every answer"
            )
    return problems


def eos_token_id(directory: Path, eos_token: str | None = None) -> tuple[str | None, int | None]:
    """The end-of-turn token a model must stop on (given, or the chat template's) and its id."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(directory))
    token = eos_token or end_of_turn(tok)
    if token is None:
        return None, None
    found: Any = tok.convert_tokens_to_ids(token)
    return token, int(found)
