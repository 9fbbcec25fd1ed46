"""``mlp-tui sweep``: train a grid or a random search, every member a run in the store.

mlp-tui sweep lr=0.03,0.1,0.3 hidden=64,256,1024 --epochs 10 --val 5000
mlp-tui sweep lr=log:0.01:1 hidden=int:16:1024 --trials 20 --seeds 3
mlp-tui sweep --resume s3       # the members not done yet (running the same spec does too)
mlp-tui sweep lr=0.1,0.3 --solo  # one by one (default: as populations where shapes agree)
mlp-tui sweep --show s3 --json  # the ranked results, without training
mlp-tui sweep --list
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import FIELDS, ConfigError, TrainConfig
from .parsing import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    OneLineParser,
    field_type,
)
from .store import RunStore, StoreError, default_path
from .sweep import SweepSpec, parse_spec


class _Raising(OneLineParser):
    """For a sweep typed in the app: a mistake is a ConfigError to show, not an exit."""

    def error(self, message: str):
        raise ConfigError(message)


def build_parser(kind: type[OneLineParser] = OneLineParser) -> argparse.ArgumentParser:
    parser = kind(
        prog="mlp-tui sweep",
        description="Train every member of a sweep (a grid, or a random search with --trials), "
        "each a run in the store, then rank them.",
        epilog="FIELD=VALUES: a comma list (lr=0.03,0.1,0.3; a stack of layers is one value, "
        "layers=256,512x256) or a range to draw from, log:LOW:HIGH (log-uniform), "
        "int:LOW:HIGH or uni:LOW:HIGH. Any setting can be swept but the device.",
    )
    parser.add_argument("axes", nargs="*", metavar="FIELD=VALUES")
    parser.add_argument("--trials", type=_count("--trials"), default=0,
                        help="a random search of this many draws")  # fmt: skip
    parser.add_argument("--seeds", type=_count("--seeds"), default=1,
                        help="repeat each configuration over this many seeds")  # fmt: skip
    parser.add_argument("--draw-seed", type=_count("--draw-seed", 0), default=0,
                        help="the random search's own seed (default 0)")  # fmt: skip
    for field in FIELDS:  # every setting, as for a run: what is not swept is fixed
        flag = "--" + field.replace("_", "-")
        parser.add_argument(flag, dest=field, type=field_type(field), help=FIELDS[field].label)
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--store", metavar="PATH", help="the run store (default as for a run)")
    parser.add_argument("--resume", metavar="SWEEP", help="train what is left of sweep SWEEP")
    parser.add_argument("--show", metavar="SWEEP", help="the results of sweep SWEEP, no training")
    parser.add_argument("--list", action="store_true", help="the sweeps in the store")
    parser.add_argument("--json", action="store_true", help="print the ranked results as JSON")
    parser.add_argument("--no-chart", action="store_true", help="the table only")
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--together",
        dest="mode",
        action="store_const",
        const="together",
        default="auto",
        help="train the members as populations, stacked by layer shape, in one pass over the "
        "data (each equal to its solo run up to float rounding; dropout members solo). "
        "Default: together when every stack holds two members or more, else one by one",
    )
    how.add_argument("--solo", dest="mode", action="store_const", const="solo",
                     help="train the members one by one, each with its own trainer")  # fmt: skip
    return parser


def _count(flag: str, least: int = 1):
    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < least:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of {least} or more")
        return int(text)

    parse.__name__ = flag
    return parse


def spec_of(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SweepSpec:
    overrides = {f: getattr(args, f) for f in FIELDS if getattr(args, f) is not None}
    try:
        base = TrainConfig().replace(**overrides)
        spec = parse_spec(
            args.axes, base, trials=args.trials, seeds=args.seeds, draw_seed=args.draw_seed
        )
    except ConfigError as exc:
        parser.error(str(exc))
    for field in spec.fields:
        if field in overrides or (field in ("hidden", "layers") and {"hidden", "layers"} & set(
            overrides
        )):  # fmt: skip
            parser.error(f"{field} is swept: drop --{field.replace('_', '-')}")
    return spec


def parse_command(text: str, base: TrainConfig | None = None) -> SweepSpec:
    """A sweep as typed in one line (``lr=0.1,0.3 --epochs 3``), on top of ``base``'s device;
    ConfigError with one line for anything wrong."""
    return parse_typed(text, base)[0]


def parse_typed(text: str, base: TrainConfig | None = None) -> tuple[SweepSpec, str]:
    """``parse_command``'s spec and the training mode typed (``--solo``, ``--together``, or
    "auto")."""
    parser = build_parser(_Raising)
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{text!r}: {exc}") from None
    try:
        args = parser.parse_args(words)
    except SystemExit:  # --help or --version: words for a terminal, not a sweep
        raise ConfigError("--help is for the command line: mlp-tui sweep --help") from None
    if not args.axes:
        raise ConfigError("name a field to sweep, e.g. lr=0.03,0.1,0.3")
    if args.device is None and base is not None:
        args.device = base.device
    return spec_of(args, parser), args.mode


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    path = Path(args.store).expanduser() if args.store else default_path()
    modes = [bool(args.axes), bool(args.resume), bool(args.show), args.list]
    if sum(modes) != 1:
        parser.error("give the fields to sweep, or one of --resume, --show, --list")
    try:
        if args.list:
            return _list(path)
        if args.resume or args.show:
            number, spec = _stored_spec(path, args.resume or args.show, parser, args)
            if args.show:
                return _show(path, spec, number, args)
        else:
            spec, number = spec_of(args, parser), None
        return _train(path, spec, args)
    except StoreError as exc:
        print(f"mlp-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _list(path: Path) -> int:
    from . import sweep_store

    if not path.exists():
        print(f"no sweeps yet ({path} does not exist)")
        return EXIT_OK
    with RunStore(path, readonly=True) as store:
        rows = sweep_store.sweeps(store)
    if not rows:
        print("no sweeps yet")
    for row in rows:
        print(f"{row.short_id}  {row.status:<9} {row.members:>4} runs  {row.created}  {row.spec}")
    return EXIT_OK


def _stored_spec(
    path: Path, text: str, parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[int, SweepSpec]:
    """The spec of a stored sweep, read back from its command line (with this one's device)."""
    from . import sweep_store

    number = sweep_store.parse_sweep_id(text)
    if not path.exists():
        raise StoreError(f"no sweep {text}: {path} does not exist")
    with RunStore(path, readonly=True) as store:
        row = sweep_store.find(store, number)
    stored = parser.parse_args(shlex.split(row.spec))
    stored.device = args.device
    return number, spec_of(stored, parser)


def _show(path: Path, spec: SweepSpec, number: int, args: argparse.Namespace) -> int:
    from . import sweep_results

    with RunStore(path, readonly=True) as store:
        results = sweep_results.load(store, spec, number)
    print_results(results, args)
    return EXIT_OK


def print_results(results, args: argparse.Namespace) -> None:
    from . import sweep_chart, sweep_results
    from .runs_cli import grid

    if args.json:
        print(json.dumps(results.as_dict(), allow_nan=False))
        return
    print(f"sweep {results.sweep}: {results.spec.text}")
    print(grid(*sweep_results.table(results)))
    print(results.note)
    heat = sweep_chart.heat_map(results)
    if heat is not None:
        print()
        print(sweep_chart.heat_text(heat, results.metric))
    if not args.no_chart and results.best is not None:
        print()
        print(sweep_chart.text(sweep_chart.chart_of(results)))


def _train(path: Path, spec: SweepSpec, args: argparse.Namespace) -> int:
    from . import data, sweep_results
    from .checkpoint import CheckpointError
    from .data import DataError
    from .device import resolve_device
    from .sweep_mode import plan
    from .sweep_run import SweepRun

    out = sys.stderr if args.json else sys.stdout  # --json: stdout holds the JSON alone
    try:
        device = resolve_device(spec.base.device)
        dataset = data.load(args.data_dir, device)
    except (DataError, CheckpointError, ConfigError) as exc:
        print(f"mlp-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    store = RunStore(path)
    printer = SweepPrinter(out)
    try:
        sweep = SweepRun(
            spec, store, dataset, printer, lambda t: print(f"mlp-tui: {t}", file=sys.stderr)
        )
    except ConfigError as exc:  # what the data cannot train (--val 60000): nothing recorded
        print(f"mlp-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    how = plan(sweep.pending(), args.mode)
    sweep.training = how.training()
    print(f"training {how.text}", file=out, flush=True)
    signalled: list[int] = []

    def on_signal(signum, frame) -> None:
        signalled.append(signum)
        sweep.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = sweep.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    with store:
        results = sweep_results.load(store, spec, sweep.number)
    print_results(results, args)
    if signalled:
        print(f"mlp-tui: interrupted; the members done are kept: mlp-tui sweep --resume "
              f"{sweep.sweep_id} trains the rest", file=sys.stderr)  # fmt: skip
        return EXIT_TERMINATED if signalled[0] == signal.SIGTERM else EXIT_INTERRUPTED
    if status == "failed":  # each failed member's line said why
        return EXIT_FAILED
    return EXIT_OK if status == "finished" else EXIT_INTERRUPTED


class SweepPrinter:
    """A line as each member starts, one per epoch, and how each ended."""

    def __init__(self, out) -> None:
        self.out = out
        self.total = 0
        self.runs: dict[int, str] = {}  # member index -> its run's id
        self.last = -1  # the member whose line came last

    def __call__(self, event) -> None:
        from .events import EpochReport
        from .sweep_run import MemberEnded, MemberEvent, MemberStarted, SweepStarted

        if isinstance(event, SweepStarted):
            self.total = len(event.members)
            what = "resuming" if event.resumed else "sweep"
            done = f"; {len(event.done)} done already" if event.done else ""
            self._say(f"{what} {event.sweep}: {self.total} members{done}")
        elif isinstance(event, MemberStarted):
            member = event.member
            self._say(f"[{member.index + 1}/{self.total}] {event.run} {member.name}")
            self.runs[member.index], self.last = event.run, member.index
        elif isinstance(event, MemberEvent) and isinstance(event.event, EpochReport):
            index = event.member.index
            # members trained together (--together) take turns: each line says whose it is
            if index != self.last:
                self.last = -1  # from now on, every line names its run
            who = "    " if index == self.last else f"  {self.runs.get(index, '?')} "
            self._say(f"{who}{epoch_line(event.event, event.member.config.epochs)}")
        elif isinstance(event, MemberEnded) and event.status != "finished":
            reason = f": {event.reason}" if event.reason else ""
            self._say(f"    {event.member.name}: {event.status}{reason}")

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def epoch_line(report, epochs: int) -> str:
    val = "" if report.val_acc is None else f"  val acc {report.val_acc:.4f}"
    return (
        f"epoch {report.epoch:>3}/{epochs}  train loss {report.train_loss:.4f}{val}"
        f"  test acc {report.test_acc:.4f}  {report.seconds:.2f} s"
    )
