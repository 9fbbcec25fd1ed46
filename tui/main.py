"""The ``mlp-tui`` command: the app by default, ``--headless`` for scripts, ``bench``."""

from __future__ import annotations

import sys

from mlp_tui.core.cli import build_parser, run_headless


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.headless:
        return run_headless(args, parser)
    print("mlp-tui: the app is not there yet; use --headless", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
