"""``mlp-tui lr-find``: the lr range test without the app, for a new network or a checkpoint."""

from __future__ import annotations

import argparse
import json
import sys

from .cli import CONFIG_FLAGS, check_paths, load_trainer
from .lr_find import BATCHES, END_LR, RULES, START_LR
from .parsing import EXIT_FAILED, EXIT_OK, OneLineParser, field_type


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _batches(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 13 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"{value} is outside [13, 100000]")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="mlp-tui lr-find",
        description="The lr range test: train a copy of the network with an lr rising "
        "exponentially each batch until the loss blows up, and suggest an lr. The network is "
        "a new one (the options below) or a checkpoint's, from its current weights "
        "(--resume); the checkpoint is not changed.",
    )
    for flag, field, help_text in CONFIG_FLAGS:
        parser.add_argument(flag, dest=field, type=field_type(field), help=help_text)
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--resume", metavar="FILE", help="test from this checkpoint's weights")
    parser.add_argument("--start-lr", type=_positive, default=START_LR, help="(default 1e-5)")
    parser.add_argument("--end-lr", type=_positive, default=END_LR, help="(default 10)")
    parser.add_argument(
        "--batches", type=_batches, default=BATCHES, help="batches at most (default 200)"
    )
    parser.add_argument(
        "--rule",
        choices=tuple(RULES),
        default="steepest",
        help="steepest: the steepest descent of the smoothed loss (default); "
        "minimum: the smoothed loss's minimum lr / 10",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"suggested_lr": ..., "lrs": [...], "losses": [...]}',
    )
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.start_lr >= args.end_lr:
        parser.error(f"--start-lr {args.start_lr:g} must be below --end-lr {args.end_lr:g}")
    # What check_paths reads of a training run's options, absent here.
    args.save = args.metrics_out = args.export = None
    check_paths(parser, args)
    trainer, failed = load_trainer(args, None)
    if trainer is None:
        return failed
    from .lr_find import range_test
    from .threads import use_all_cores

    use_all_cores()
    result = range_test(
        trainer,
        start_lr=args.start_lr,
        end_lr=args.end_lr,
        batches=args.batches,
        rule=args.rule,
    )
    suggested = "none" if result.suggested_lr is None else f"{result.suggested_lr:.3g}"
    summary = (
        f"lr range test: {len(result.lrs)} batches from lr {args.start_lr:g}, {result.ended}; "
        f"suggested lr {suggested} ({result.rule})"
    )
    if args.json:
        body = {
            "suggested_lr": result.suggested_lr,
            "lrs": list(result.lrs),
            "losses": list(result.losses),
        }
        print(json.dumps(body))
        print(summary, file=sys.stderr)  # the rule in words, beside the machine's answer
    else:
        print(summary)
        other = {"steepest": result.minimum_lr, "minimum": result.steepest_lr}[args.rule]
        other_rule = RULES["minimum" if args.rule == "steepest" else "steepest"]
        if other is not None and other != result.suggested_lr:
            print(f"({other_rule}: {other:.3g})")
        print(f"train with it: mlp-tui --lr {suggested}" if result.suggested_lr else "")
    return EXIT_OK if result.suggested_lr is not None else EXIT_FAILED
