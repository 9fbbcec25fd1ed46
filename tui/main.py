"""The ``mlp-tui`` command: the app by default, ``--headless`` for scripts."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from mlp_tui.core.cli import EXIT_USAGE, build_parser, check_paths, make_trainer, run_headless
from mlp_tui.core.config import ConfigError


def freeze_startup_objects() -> None:
    """Take what torch, the data and Textual made at startup (~190,000 objects) out of Python's
    full collections: each walked them all while holding the GIL, 100-180 ms in which training
    waits (see MLPApp.on_mount for the thresholds that make such collections rare)."""
    gc.collect()
    gc.freeze()


def run_app(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Load everything first, so a bad path or file is one line on stderr, not a broken app."""
    # torch loads only now: --help, --version and a typo answer at once.
    from mlp_tui.core.checkpoint import CheckpointError
    from mlp_tui.core.data import DataError
    from mlp_tui.core.trainer import keep_this_thread_serial

    keep_this_thread_serial()  # the UI thread must not start a second OpenMP team (see there)
    check_paths(parser, args)
    if args.save_dir and Path(args.save_dir).expanduser().is_file():
        parser.error(f"--save-dir: {args.save_dir} is a file")
    try:
        trainer = make_trainer(args, None)
    except (DataError, CheckpointError, ConfigError) as exc:
        print(f"mlp-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mlp-tui: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE

    from .app import MLPApp  # Textual loads only when the app runs

    app = MLPApp(
        trainer,
        paused=bool(args.resume),
        saved=bool(args.resume),
        save_dir=Path(args.save_dir).expanduser() if args.save_dir else None,
        autosave=Path(args.save).expanduser() if args.save else None,
        metrics_out=Path(args.metrics_out).expanduser() if args.metrics_out else None,
    )
    freeze_startup_objects()
    try:
        app.run()
    finally:
        app.trainer.stop()  # whatever happened, no training thread outlives the app
    return app.return_code or 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from .bench import main as bench

        return bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.headless:
        return run_headless(args, parser)
    return run_app(args, parser)


if __name__ == "__main__":
    sys.exit(main())
