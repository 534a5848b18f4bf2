"""``python -m pytest_punie same A B``: whether two saved results documents measured the same thing
prompt for prompt (each prompt's scores, label and generated token ids, each category's figures
and the verdict), e.g. a sweep over several hosts against the same sweep on one machine. Only
answered prompts count as the same: two runs that answered nothing are not "equal"."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_punie.errors import PunieError


def main(argv: list[str] | None = None) -> int:
    """Compare two documents; 0 when the same prompt for prompt, 1 when not, 2 when unreadable."""
    parser = argparse.ArgumentParser(prog="python -m pytest_punie same", description=__doc__.split("\n")[0])
    parser.add_argument("first", type=Path, help="a run's folder (its results.json) or a results JSON file")
    parser.add_argument("second", type=Path, help="the other document")
    args = parser.parse_args(argv)
    try:
        docs = [read(p) for p in (args.first, args.second)]
    except PunieError as err:
        print(f"pytest-punie same: {err.describe()}", file=sys.stderr)
        return 2
    differences = compare(*docs)
    answered = sum(1 for p in docs[0]["prompts"] if p.get("response") and not p.get("error"))
    if differences:
        print(f"not the same: {len(differences)} difference(s)")
        for line in differences[:20]:
            print(f"  {line}")
        return 1
    print(
        f"the same: {answered} answered prompts, their scores, labels and token ids, every category "
        f"and the verdict ({docs[0]['verdict']})"
    )
    return 0


def read(path: Path) -> dict[str, Any]:
    """A results document, from a run's folder or a JSON file."""
    from pytest_punie.cli.reportcmd import read_saved

    doc, source = read_saved(path)
    if "prompts" not in doc:
        raise PunieError(source, None, "a document with no prompts (data lint or checks only)")
    return dict(doc)


def answers(doc: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    """Each prompt's measurement, by suite, variant and id (None: not answered)."""
    out = {}
    for p in doc["prompts"]:
        answered = p.get("response") and not p.get("error")
        tokens = ((p.get("response") or {}).get("punie") or {}).get("token_ids")
        key = (p["suite"], p.get("variant", ""), p["id"])
        out[key] = (p["scores"], p["label"], tokens) if answered else None
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two documents, one line each (empty: the same)."""
    out = []
    mine, theirs = answers(a), answers(b)
    for key in sorted(set(mine) | set(theirs)):
        name = f"{key[0]}[{key[1]}]::{key[2]}" if key[1] else f"{key[0]}::{key[2]}"
        if key not in mine or key not in theirs:
            out.append(f"{name}: in one document only")
        elif mine[key] is None or theirs[key] is None:
            out.append(f"{name}: not answered in {'both' if mine[key] == theirs[key] else 'one'}")
        elif mine[key] != theirs[key]:
            pairs = zip(("scores", "label", "token ids"), mine[key], theirs[key], strict=True)
            what = [n for n, x, y in pairs if x != y]
            out.append(f"{name}: {', '.join(what)} differ")
    if a.get("categories") != b.get("categories"):
        out.append("category figures differ")
    if a.get("verdict") != b.get("verdict"):
        out.append(f"verdict {a.get('verdict')} / {b.get('verdict')}")
    if not any(v is not None for v in mine.values()):
        out.append("no prompt was answered: nothing was measured to compare")
    return out
