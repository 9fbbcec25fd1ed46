"""Command-line options shared by the app and ``--headless``, and the headless run itself."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import __version__
from .config import ConfigError, TrainConfig, show_value
from .parsing import (
    EXIT_DIVERGED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    OneLineParser,
    field_type,
    file_in_the_way,
    not_a_file,
)

# torch is imported only once the arguments are good: --help, --version and a typo answer at once.
if TYPE_CHECKING:
    from .events import EpochReport, Event
    from .recorder import Recorder
    from .trainer import Trainer


# (flag, TrainConfig field, help)
CONFIG_FLAGS = (
    ("--epochs", "epochs", "epochs to reach, also when resuming (default 10)"),
    ("--lr", "lr", "learning rate (default 0.1)"),
    ("--batch-size", "batch_size", "examples per batch (default 256)"),
    ("--hidden", "hidden", "hidden units, one layer (default 256)"),
    ("--layers", "layers", "hidden layers' widths, e.g. 512,256 or 512x256 (default 256)"),
    ("--activation", "activation", "relu (default), sigmoid, tanh, leaky_relu or gelu"),
    ("--init", "init", "normal (randn * init scale, default), zeros, xavier or kaiming"),
    ("--init-scale", "init_scale", "std of the initial weights with --init normal (0.01)"),
    ("--dropout", "dropout", "dropout rate on every hidden layer, or one per layer (0)"),
    ("--val", "val", "training images held out as a validation set, the same every run (0)"),
    ("--momentum", "momentum", "SGD momentum (default 0)"),
    ("--weight-decay", "weight_decay", "SGD weight decay (default 0)"),
    ("--seed", "seed", "random seed for init and shuffling (default 0)"),
    ("--device", "device", "auto, cpu, cuda, cuda:N or mps (default auto)"),
    ("--engine", "engine", "fused (fast, default) or autograd (the seed verbatim)"),
    (
        "--divergence-factor",
        "divergence_factor",
        "stop when loss > this x first loss (10); off (or 0): no check",
    ),
    (
        "--schedule",
        "schedule",
        "lr schedule: constant (default), step:E:F, cosine, warmup:W, onecycle",
    ),
    ("--slow", "slow", "slow motion: at most this many batches a second (0: full speed)"),
    (
        "--precision",
        "precision",
        "fp32 (default, the seed's); opt-in faster, less exact products: bf16 (a CPU with "
        "bf16 instructions) or tf32 (CUDA)",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="mlp-tui",
        description="Train d2l's scratch MLP on Fashion-MNIST: a live terminal app, or --headless.",
        epilog="Subcommands: 'mlp-tui runs' lists and compares the recorded runs, "
        "'mlp-tui sweep' trains a grid or a random search, 'mlp-tui lr-find' runs the lr "
        "range test, 'mlp-tui bench' measures throughput (each has --help).",
    )
    parser.add_argument("--version", action="version", version=f"mlp-tui {__version__}")
    parser.add_argument("--headless", action="store_true", help="train without the app")
    parser.add_argument(
        "--paused", action="store_true", help="app: start paused (space trains, n one batch)"
    )
    for flag, field, help_text in CONFIG_FLAGS:
        parser.add_argument(flag, dest=field, type=field_type(field), help=help_text)
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument(
        "--save", metavar="FILE", help="checkpoint to write (each epoch and at exit)"
    )
    parser.add_argument(
        "--resume",
        metavar="FILE",
        help="checkpoint to continue from (headless: saved back to it, unless --save or --no-save)",
    )
    parser.add_argument(
        "--no-save", action="store_true", help="headless: write no checkpoint, not even --resume's"
    )
    parser.add_argument("--metrics-out", metavar="FILE", help="JSON Lines, one object per epoch")
    parser.add_argument(
        "--store",
        metavar="PATH",
        help="the run store every run is recorded in ($MLP_TUI_STORE, else runs.sqlite "
        "in the data dir)",
    )
    parser.add_argument("--no-store", action="store_true", help="record nothing")
    parser.add_argument("--name", help="the run's name in the store (default: what differs)")
    parser.add_argument("--save-dir", metavar="DIR", help="app: where checkpoints go")
    parser.add_argument(
        "--export",
        metavar="DIR",
        help="at the end, write metrics.csv, confusion.csv, per_class.csv, misclassified.png "
        "and confusion.png into DIR (with --resume and no epochs left: without training)",
    )
    return parser


def config_overrides(args: argparse.Namespace) -> dict:
    """The config fields the user set on the command line (not the defaults)."""
    return {f: getattr(args, f) for _, f, _ in CONFIG_FLAGS if getattr(args, f) is not None}


def check_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject settings that are each fine but not together (``--hidden 64 --layers 512,256``,
    two dropout rates for one layer) before any data is loaded. A resumed run is checked with
    its checkpoint's settings, once they are read."""
    if args.hidden is not None and args.layers is not None and (args.hidden,) != args.layers:
        parser.error(
            f"--hidden {args.hidden} and --layers {show_value(args.layers)} disagree: give one "
            "(--hidden N is --layers N)"
        )
    if not args.resume:
        try:
            TrainConfig(**config_overrides(args)).validated()
        except ConfigError as exc:
            parser.error(f"--{exc}")


def check_paths(
    parser: argparse.ArgumentParser, args: argparse.Namespace, devices: bool = True
) -> None:
    """Reject missing or unusable paths, and settings that do not go together, before any
    data is loaded; with ``devices``, also a device or precision this machine lacks (that
    takes torch: the app checks it once torch has loaded, see ``check_device``)."""
    check_config(parser, args)
    if args.resume and not Path(args.resume).expanduser().is_file():
        problem = "is a directory" if Path(args.resume).expanduser().is_dir() else "does not exist"
        parser.error(f"--resume: {args.resume} {problem}")
    if args.data_dir and not Path(args.data_dir).expanduser().is_dir():
        parser.error(f"--data-dir: {args.data_dir} is not a directory")
    for flag, value in (("--save", args.save), ("--metrics-out", args.metrics_out)):
        if value and Path(value).expanduser().is_dir():
            parser.error(f"{flag}: {value} is a directory")
    kind = not_a_file(Path(args.save).expanduser()) if args.save else None
    if kind is not None:  # a device, a FIFO: a save would replace it with a regular file
        parser.error(f"--save: {args.save} is {kind}, not a regular file")
    if args.export and Path(args.export).expanduser().is_file():
        parser.error(f"--export: {args.export} is a file, not a folder")
    for flag, value in (("--save", args.save), ("--metrics-out", args.metrics_out)):
        blocker = file_in_the_way(Path(value).expanduser()) if value else None
        if blocker is not None:  # found now, not after a whole run
            parser.error(f"{flag}: {blocker} is a file, not a folder")
    if devices:
        try:
            check_device(args)
        except ConfigError as exc:
            parser.error(f"--{exc}")


def check_device(args: argparse.Namespace) -> None:
    """The ConfigError of a ``--device`` or ``--precision`` this machine cannot run."""
    from .device import resolve_device

    device = resolve_device(args.device or "auto")
    if args.precision:  # a resumed run's own is checked once its checkpoint is read
        from .precision import check

        check(args.precision, device)


def prepare_folders(
    parser: argparse.ArgumentParser, args: argparse.Namespace, save_to: str | None
) -> None:
    """Make the folders the run will write to, before it trains: one that cannot be made or
    written is found now, not after the whole run, and one that is made is said."""
    import tempfile

    wanted = [("--export", Path(args.export).expanduser())] if args.export else []
    for flag, value in (("--save", save_to), ("--metrics-out", args.metrics_out)):
        if value:
            wanted.append((flag, Path(value).expanduser().parent))
    for flag, folder in wanted:
        if not folder.is_dir():
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                parser.error(f"{flag}: cannot make the folder {folder}: {exc.strerror or exc}")
            print(f"made the folder {folder}")
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            parser.error(f"{flag}: cannot write into {folder}: {exc.strerror or exc}")


def open_recorder(args: argparse.Namespace, trainer: Trainer, on_problem) -> Recorder | None:
    """The run's recorder in the store ``--store`` names (None with ``--no-store``, or after
    one ``on_problem`` line when the store cannot be used: the run trains all the same)."""
    from .recorder import record
    from .store import RunStore, StoreError, check_name, default_path

    if args.no_store:
        return None
    try:
        name = None if args.name is None else check_name(args.name)
        store = RunStore(Path(args.store).expanduser() if args.store else default_path())
    except StoreError as exc:
        on_problem(f"{exc}; this run is not recorded (it trains all the same)")
        return None
    return record(trainer, store, on_problem, name)


def make_trainer(
    args: argparse.Namespace, on_event, phase: Callable[[str], object] = lambda name: None
) -> Trainer:
    """Load the data and build a trainer, new or resumed. Raises DataError/CheckpointError.
    ``phase`` is told each step as it begins: "data", then "run"."""
    from . import data
    from .device import resolve_device
    from .trainer import Trainer

    overrides = config_overrides(args)
    device = resolve_device(args.device or "auto")
    phase("data")
    dataset = data.load(args.data_dir, device)
    phase("run")
    if args.resume:
        return Trainer.from_checkpoint(args.resume, dataset, on_event, **overrides)
    return Trainer(TrainConfig(**overrides), dataset, on_event)


def load_problem(exc: BaseException) -> str | None:
    """The one line that says what is wrong with an input ``make_trainer`` was given (bad
    data, a bad checkpoint, a bad value, a file it cannot read), or None for anything else."""
    from .checkpoint import CheckpointError
    from .data import DataError

    if isinstance(exc, (DataError, CheckpointError, ConfigError)):
        return f"mlp-tui: {exc}"
    if isinstance(exc, OSError):
        return f"mlp-tui: {exc.filename}: {exc.strerror}"
    return None


def load_trainer(args: argparse.Namespace, on_event) -> tuple[Trainer | None, int]:
    """``make_trainer`` for headless runs: (trainer, 0), or (None, exit code) after one line
    on stderr for bad data, a bad checkpoint, a bad value or Ctrl+C."""
    from .data_files import prefetch

    prefetch(args.data_dir)  # the files read and inflated while torch imports, on a thread
    try:
        return make_trainer(args, on_event), 0
    except KeyboardInterrupt:  # Ctrl+C while the data loads is a plain SIGINT
        print("mlp-tui: interrupted while loading", file=sys.stderr)
        return None, EXIT_INTERRUPTED
    except Exception as exc:
        problem = load_problem(exc)
        if problem is None:
            raise
        print(problem, file=sys.stderr)
    return None, EXIT_USAGE


def format_epoch(report: EpochReport, epochs: int) -> str:
    val = (
        ""
        if report.val_acc is None or report.val_loss is None
        else f"val loss {report.val_loss:.4f}  val acc {report.val_acc:.4f}  "
    )
    return (
        f"epoch {report.epoch:>3}/{epochs}  train loss {report.train_loss:.4f}  "
        f"train acc {report.train_acc:.4f}  {val}test acc {report.test_acc:.4f}  "
        f"lr {report.lr:g}  {report.seconds:.2f} s  {report.examples_per_s:,.0f} ex/s"
    )


class HeadlessPrinter:
    """Prints a line per epoch, a progress bar on a terminal, and writes --metrics-out."""

    def __init__(self, trainer, metrics_path: str | None, save_path: str | None) -> None:
        self.trainer = trainer
        self.tty = sys.stdout.isatty()
        self.save_path = save_path
        self.metrics: TextIO | None = None
        self.metrics_path = metrics_path
        self.metrics_failed = False  # a line was lost: the run's exit code says so
        self.said: set[str] = set()  # the problems said: each once, not once an epoch
        if metrics_path:
            path = Path(metrics_path).expanduser()
            self.metrics = open(path, "w", encoding="utf-8")  # closed in close()
            for report in trainer.history:
                self._write_metrics(report)

    def say(self, problem: str) -> None:
        """``mlp-tui: problem`` on stderr, the first time it happens (a full disk fails every
        epoch's save and metrics line the same way)."""
        if problem not in self.said:
            self.said.add(problem)
            print(f"\nmlp-tui: {problem}" if self.tty else f"mlp-tui: {problem}", file=sys.stderr)

    def _metrics_failed(self, exc: OSError) -> None:
        self.metrics_failed = True
        self.say(f"cannot write {self.metrics_path}: {exc.strerror or exc}")

    def _write_metrics(self, report: EpochReport) -> None:
        assert self.metrics is not None
        try:
            self.metrics.write(json.dumps(report.as_dict()) + "\n")
            self.metrics.flush()
        except OSError as exc:
            self._metrics_failed(exc)

    def __call__(self, event: Event) -> None:
        from .events import BatchReport, EpochReport, Health, RunState, SaveFailed, StateChanged

        if isinstance(event, BatchReport) and self.tty:
            done = event.batch / event.batches
            bar = "#" * int(done * 30)
            print(
                f"\repoch {event.epoch:>3} [{bar:<30}] {event.batch}/{event.batches}"
                f"  loss {event.losses[-1]:.4f}  {event.examples_per_s:,.0f} ex/s",
                end="",
                flush=True,
            )
        elif isinstance(event, EpochReport):
            prefix = "\r\033[K" if self.tty else ""
            print(prefix + format_epoch(event, self.trainer.config.epochs), flush=True)
            if self.metrics:
                self._write_metrics(event)
            if self.save_path:
                self.trainer.save(self.save_path)
        elif isinstance(event, StateChanged) and event.state is RunState.DIVERGED:
            print(f"\nmlp-tui: diverged: {event.reason}", file=sys.stderr)
            self.trainer.stop()
        elif isinstance(event, SaveFailed):
            self.say(event.message)
        elif isinstance(event, Health):
            prefix = "\r\033[K" if self.tty else ""  # over the progress bar
            for hint in event.hints:
                print(f"{prefix}hint: {hint.line}", flush=True)

    def close(self) -> None:
        """Close --metrics-out; a failure (a full disk) is said, not raised: the run's
        checkpoint is still to be saved."""
        if self.metrics:
            metrics, self.metrics = self.metrics, None
            try:
                metrics.close()
            except OSError as exc:
                self._metrics_failed(exc)


def save_path(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str | None:
    """Where a headless run keeps its checkpoint: ``--save``, else the resumed file (a resumed
    run continues in it), else nowhere."""
    if args.no_save and args.save:
        parser.error("--no-save: it contradicts --save; give one of them")
    if args.no_save:
        return None
    return args.save or args.resume


def run_headless(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.paused:
        parser.error("--paused: only the app starts paused (a headless run has no keys)")
    check_paths(parser, args)
    if args.name is not None:
        from .store import StoreError, check_name

        try:
            check_name(args.name)
        except StoreError as exc:
            parser.error(f"--name: {exc}")
    save_to = save_path(args, parser)
    prepare_folders(parser, args, save_to)
    from .data_files import prefetch

    prefetch(args.data_dir)  # the files read and inflated while torch imports, on a thread
    from .checkpoint import CheckpointError
    from .events import EpochReport, RunState, StateChanged

    listeners: list = []
    trainer, failed = load_trainer(args, lambda event: [listen(event) for listen in listeners])
    if trainer is None:
        return failed
    try:
        printer = HeadlessPrinter(trainer, args.metrics_out, save_to)
    except OSError as exc:
        print(f"mlp-tui: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE

    diverged = False
    signalled: list[int] = []

    def on_signal(signum, frame) -> None:
        signalled.append(signum)
        trainer.stop()

    told = False

    def watch(event: Event) -> None:
        nonlocal diverged, told
        diverged |= isinstance(event, StateChanged) and event.state is RunState.DIVERGED
        # On CUDA, after the first epoch has tried them: why the fused kernels did not run
        off = getattr(trainer.steps, "kernels_error", "")
        if not told and isinstance(event, EpochReport) and trainer.device.type == "cuda":
            told = True
            if off and off != "off":
                print(f"mlp-tui: the GPU step runs as PyTorch operations, not fused kernels: {off}")

    listeners += [watch, printer]
    if trainer.data.held_out:
        print(trainer.data.describe_split())
    from .native import switched_off

    why = getattr(trainer.steps, "why_not_compiled", None)  # the device path has none
    if why and not switched_off():
        print(f"mlp-tui: the CPU step runs as PyTorch operations, which is slower: {why}")
    if trainer.config.precision != "fp32":
        from .precision import describe

        print(describe(trainer.config.precision))
    recorder = open_recorder(args, trainer, lambda text: print(f"mlp-tui: {text}", file=sys.stderr))
    if recorder is not None:
        listeners.append(recorder)
        print(f"recording run {recorder.short_id} in {recorder.store.path}")
    if args.export:
        from .export import HeadlessExport

        exporter = HeadlessExport(args.export)  # collects each epoch's per-class accuracy
        listeners.append(exporter)
    # Train on this thread (torch's fastest: see trainer.keep_this_thread_serial); Ctrl+C and
    # SIGTERM ask the loop to stop after the current batch instead of interrupting it.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    steps_before = trainer.step_count
    try:
        trainer.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        printer.close()
    exported = exporter.write(trainer) if args.export else True

    def end() -> int:
        # The resumed file is rewritten only when the run moved on; --save is written whatever.
        if save_to and (args.save or trainer.step_count != steps_before):
            try:
                trainer.save(save_to).result()  # also after the epoch's: how the run ended
                print(f"saved {save_to}", file=sys.stderr if diverged or signalled else sys.stdout)
            except CheckpointError as exc:
                printer.say(str(exc))  # once: the epochs' failed saves may have said it already
                return EXIT_FAILED
        if diverged:
            return EXIT_DIVERGED
        if signalled:
            print("\nmlp-tui: interrupted", file=sys.stderr)
            return EXIT_TERMINATED if signalled[0] == signal.SIGTERM else EXIT_INTERRUPTED
        # Like a failed save, a lost --metrics-out line fails the run (its checkpoint is kept).
        wrote = exported and not printer.metrics_failed
        return EXIT_OK if trainer.state is RunState.FINISHED and wrote else EXIT_FAILED

    try:
        return end()
    finally:
        if recorder is not None:  # after the last save: what the store could not take yet
            recorder.close()


def main(argv: list[str] | None = None) -> int:
    """Headless entry point (``python -m mlp_tui.core.cli``), and ``bench``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from .bench import main as bench

        return bench(argv[1:])
    if argv[:1] == ["runs"]:
        from .runs_cli import main as runs

        return runs(argv[1:])
    if argv[:1] == ["sweep"]:
        from .sweep_cli import main as sweep

        return sweep(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_headless(args, parser)


if __name__ == "__main__":
    sys.exit(main())
