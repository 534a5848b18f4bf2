"""``python -m pytest_punie cache [list|prune]``: the build cache, seen and pruned."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Dispatch the sub-command (there is one: ``cache``)."""
    if not argv or argv[0] != "cache":
        print("usage: python -m pytest_punie cache [list|prune] [--help]", file=sys.stderr)
        return 2
    from pytest_punie.models.cachetool import main as cache_main

    return cache_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
