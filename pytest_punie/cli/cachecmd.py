"""``python -m pytest_punie cache [list|prune]``: the build cache, listed and pruned (what it holds:
models/cachetool.py)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from pytest_punie.models.cachetool import list_lines, size_text, to_prune


def main(argv: list[str] | None = None) -> int:
    """``python -m pytest_punie cache``: list the build cache, or prune it."""
    from pytest_punie.models.cache import default_cache_dir

    parser = argparse.ArgumentParser(
        prog="python -m pytest_punie cache", description="the build cache: list it, or prune it"
    )
    parser.add_argument("action", nargs="?", choices=("list", "prune"), default="list")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the project (its .punie/cache)")
    parser.add_argument("--older-than", type=float, metavar="DAYS", help="prune: entries unused this long")
    parser.add_argument("--keep-last", type=int, metavar="N", help="prune: keep the N most recently used per step")
    parser.add_argument("--unused", action="store_true", help="prune: entries no registered model resolved to")
    parser.add_argument("--dry-run", action="store_true", help="prune: say what would go, remove nothing")
    args = parser.parse_args(argv)
    root = default_cache_dir(args.root.resolve())
    if args.action == "list":
        print("\n".join(list_lines(root)))
        return 0
    if args.older_than is None and args.keep_last is None and not args.unused:
        parser.error("prune needs --older-than DAYS, --keep-last N or --unused")
    registered = None
    if args.unused:
        from pytest_punie.models.resolve import load_registry

        registered = set(load_registry(args.root.resolve()))
    drop = to_prune(root, args.older_than, args.keep_last, args.unused, registered)
    for e in drop:
        print(f"{'would remove' if args.dry_run else 'removed'} {e.path} ({size_text(e.bytes)})")
        if not args.dry_run:
            shutil.rmtree(e.path, ignore_errors=True)
    print(f"{len(drop)} entries, {size_text(sum(e.bytes for e in drop))}{' (dry run)' if args.dry_run else ' freed'}")
    return 0
