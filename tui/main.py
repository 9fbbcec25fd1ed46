"""The ``mlp-tui`` command: the app by default, ``--headless`` for scripts."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Before torch loads GNU OpenMP: its threads spin 300,000 rounds at every barrier before they
# sleep, and on a busy machine that spinning starves the thread they wait for (the seed's epoch
# took 2-20 s instead of 0.4 s beside other work). 50,000 rounds cost nothing measurable on a
# quiet machine and halved the busy epoch (benchmarks/omp_wait.py, docs/performance.md); the
# thread count, and so every figure, is unchanged. A user's own setting wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "50000")

from mlp_tui.core.cli import build_parser, check_paths, run_headless  # noqa: E402
from mlp_tui.core.parsing import (  # noqa: E402
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
)

from .launching import LaunchFailed, Loaded  # noqa: E402
from .loading import LoadingFrame, Terminated  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlp_tui.core.store import RunStore

    from .app import MLPApp

ALLOW_SIGNALS = "TEXTUAL_ALLOW_SIGNALS"  # read by Textual's driver when it starts


def freeze_startup_objects() -> None:
    """Take what torch, the data and Textual made at startup (~190,000 objects) out of Python's
    full collections: each walked them all while holding the GIL, 100-180 ms in which training
    waits (see MLPApp.on_mount for the thresholds that make such collections rare). Called
    once the app's first frame is drawn: the collection before the freeze takes 90 ms."""
    gc.collect()
    gc.freeze()


class Interrupts:
    """Ctrl+C and SIGTERM end the app at once, as they end a headless run.

    Textual turns the terminal's signal keys off and reads Ctrl+C as a key that only says
    "press q to quit"; ``TEXTUAL_ALLOW_SIGNALS`` leaves them on, so Ctrl+C is SIGINT here too.
    A signal's handler runs on the UI thread between two bytecodes, maybe inside the event
    loop's own code, so it only schedules the exit on the loop (``call_soon_threadsafe`` also
    wakes it): Textual then restores the terminal and the training thread stops at its next
    batch. Without a handler SIGTERM killed the process and left the terminal in the app's
    alternate screen with the mouse captured.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, app: MLPApp) -> None:
        self.app = app
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}  # what signal.signal gave back
        self._allowed: str | None = None
        self._leaving = False

    def __enter__(self) -> Interrupts:
        self._allowed = os.environ.get(ALLOW_SIGNALS)
        os.environ[ALLOW_SIGNALS] = "1"
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        self._leaving = True
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        if self._allowed is None:
            os.environ.pop(ALLOW_SIGNALS, None)
        else:
            os.environ[ALLOW_SIGNALS] = self._allowed

    @property
    def exit_code(self) -> int:
        return EXIT_TERMINATED if self.received[0] == signal.SIGTERM else EXIT_INTERRUPTED

    def _on_signal(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the app is not running yet (or any more): nothing to restore
            if self._leaving:
                return
            raise KeyboardInterrupt from None
        loop.call_soon_threadsafe(self.app.exit, None, self.exit_code)


def save_interrupted(app: MLPApp) -> bool:
    """Keep an interrupted run's unsaved batches: in ``--save`` if given, else in a new file in
    the save dir (the name the save key offers). ``q`` asks first; a signal leaves nobody to ask.
    """
    # The training thread has ended: the trainer's own counters are final (the screen may not
    # have taken the run's last reports in).
    trainer, screen = app.trainer, app.main
    if trainer.step_count == screen.run.saved_step:
        return True
    from mlp_tui.core.checkpoint import CheckpointError

    from . import files

    path = screen.autosave or files.default_checkpoint_path(
        screen.save_dir, trainer.config.layers, trainer.epoch, trainer.step_count
    )
    try:  # here and now once the training thread has ended, else by it on its way out
        trainer.save(path).result(files.SAVE_TIMEOUT_S)
    except (CheckpointError, TimeoutError) as exc:
        print(f"mlp-tui: not saved: {exc or 'the save did not finish'}", file=sys.stderr)
        return False
    print(f"saved {path}", file=sys.stderr)
    return True


def open_store(args: argparse.Namespace) -> tuple[RunStore | None, str]:
    """The store every run of the app is recorded in (``--store``, else the default), or None
    with the reason it cannot be used: the app says it once and trains all the same."""
    from mlp_tui.core.store import RunStore, StoreError, default_path

    if args.no_store:
        return None, ""
    try:
        return RunStore(Path(args.store).expanduser() if args.store else default_path()), ""
    except StoreError as exc:
        text = str(exc)
        return None, text if "not recorded" in text else f"{text}; runs are not recorded"


def check_launch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> bool:
    """What can be wrong with the command line, found before the app draws anything, without
    torch: a bad path, flag or name, a data folder without the files (one line, exit 2).
    Whether the data are on disk (else the run's load downloads them)."""
    from mlp_tui.core.config import ConfigError, check_device_name
    from mlp_tui.core.data_files import DataError, locate
    from mlp_tui.core.store import StoreError, check_name

    check_paths(parser, args, devices=False)  # the devices take torch: see load_run
    if args.save_dir and Path(args.save_dir).expanduser().is_file():
        parser.error(f"--save-dir: {args.save_dir} is a file")
    if args.name is not None:
        try:
            check_name(args.name)
        except StoreError as exc:
            parser.error(f"--name: {exc}")
    try:
        check_device_name(args.device or "auto")  # a name; whether it is here takes torch
    except ConfigError as exc:
        parser.error(f"--{exc}")
    try:
        return locate(args.data_dir) is not None  # not found anywhere: the download's to say
    except DataError as exc:
        parser.exit(EXIT_USAGE, f"mlp-tui: {exc}\n")


def load_run(
    args: argparse.Namespace, phase: Callable[[str], object], on_disk: bool = True
) -> Loaded:
    """On the app's loading thread, once its first frame is drawn: torch, the device, the run
    store, the data (downloaded unless ``on_disk``) and the trainer; ``phase`` is told each
    step. Raises LaunchFailed with the line to show for a device this machine lacks, bad data
    or a bad checkpoint."""
    from mlp_tui.core.cli import check_device, load_problem, make_trainer

    phase("torch")
    from mlp_tui.core.config import ConfigError
    from mlp_tui.core.threads import keep_this_thread_serial

    keep_this_thread_serial()  # nothing trains on this thread: no OpenMP team of its own
    try:
        check_device(args)
    except ConfigError as exc:
        raise LaunchFailed(f"mlp-tui: --{exc}", EXIT_USAGE) from None
    store, store_problem = open_store(args)
    try:
        trainer = make_trainer(
            args, None, lambda name: phase("download" if name == "data" and not on_disk else name)
        )
    except Exception as exc:
        problem = load_problem(exc)
        if problem is None:
            raise
        raise LaunchFailed(problem, EXIT_USAGE) from None
    return Loaded(trainer, store, store_problem)


def build_app(args: argparse.Namespace, parser: argparse.ArgumentParser) -> MLPApp:
    """The app, once the command line is known to be good (else one line on stderr and exit
    2). It draws its first frame at once and loads the run meanwhile (``load_run``)."""
    # The data's files are read and inflated on a thread from now, while Textual and torch
    # import; torch loads only in the app: --help, --version and a typo answer at once.
    from mlp_tui.core.data_files import prefetch

    prefetch(args.data_dir)
    on_disk = check_launch(args, parser)
    from mlp_tui.core.cli import config_overrides
    from mlp_tui.core.config import TrainConfig

    from .app import MLPApp  # Textual loads only when the app runs

    return MLPApp(
        load=lambda phase: load_run(args, phase, on_disk),
        preview=None if args.resume else TrainConfig(**config_overrides(args)),
        resume=args.resume,
        paused=bool(args.resume) or args.paused,
        saved=bool(args.resume),
        save_dir=Path(args.save_dir).expanduser() if args.save_dir else None,
        autosave=Path(args.save).expanduser() if args.save else None,
        metrics_out=Path(args.metrics_out).expanduser() if args.metrics_out else None,
        run_name=args.name,
        after_first_frame=lambda: freeze_startup_objects(),  # looked up late: tests replace it
    )


def leave_while_loading(app: MLPApp, code: int) -> None:
    """End the process now if the run is still loading: the loading thread is inside torch's
    import, which may not be torn down under it, and waiting for it would keep the shell's
    prompt back for up to a second or two after the app has gone."""
    thread = app.loading_thread
    if thread is not None and thread.is_alive():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_app(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The loading frame at once (on a terminal), then the app, which loads the run."""
    with LoadingFrame() as frame:
        try:
            app = build_app(args, parser)
        except KeyboardInterrupt:  # Ctrl+C while Textual imports: no traceback
            print("mlp-tui: interrupted while loading", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Terminated:  # SIGTERM while the loading frame is up
            print("mlp-tui: terminated while loading", file=sys.stderr)
            return EXIT_TERMINATED
        frame.hand_over()
    interrupts = Interrupts(app)
    try:
        with interrupts:
            app.run()
    except KeyboardInterrupt:
        pass  # a signal before the app ran: it drew nothing, so there is nothing to restore
    finally:
        if app.loaded:
            app.trainer.stop()  # whatever happened, no training thread outlives the app
    if app.launch_failed is not None:  # bad data, a bad checkpoint: said on the shell's screen
        print(app.launch_failed.text, file=sys.stderr)
        return app.launch_failed.code
    if not app.loaded:  # quit (q, ctrl+c, SIGTERM) while the run loaded: nothing trained
        if interrupts.received:
            print("mlp-tui: interrupted while loading", file=sys.stderr)
        code = interrupts.exit_code if interrupts.received else 0
        leave_while_loading(app, code)
        return code
    if interrupts.received:
        saved = save_interrupted(app)
        print("mlp-tui: interrupted", file=sys.stderr)
        return interrupts.exit_code if saved else EXIT_FAILED
    if app.saved_on_quit is not None:  # the words ctrl+c uses, on stdout: nothing went wrong
        print(f"saved {app.saved_on_quit}")
    return app.return_code or 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lr-find"]:  # here, not in core.cli: lr_find_cli builds on core.cli
        from mlp_tui.core.lr_find_cli import main as lr_find

        return lr_find(argv[1:])
    if argv[:1] in (["bench"], ["runs"], ["sweep"]):  # subcommands that need no Textual
        from mlp_tui.core.cli import main as subcommand

        return subcommand(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.headless:
        return run_headless(args, parser)
    return run_app(args, parser)


if __name__ == "__main__":
    sys.exit(main())
