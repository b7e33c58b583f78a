"""``python -m migratectl`` and the ``migratectl`` console script."""

from __future__ import annotations

import gc
import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:  # answered before the command line is even built
        from migratectl import __version__

        print(f"migratectl {__version__}")
        return
    # A run builds large, long-lived object graphs (the models, the reflected schema) and
    # frees little: Python's default thresholds would re-scan them over and over (a third of
    # a 500-table `check`). Collect young objects rarely and the old generation almost never.
    gc.set_threshold(50_000, 20, 100)
    from migratectl.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
