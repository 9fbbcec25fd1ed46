"""Shared by the engine's tests: the real console script and its entry point in this process,
an event log that can be awaited, and the parts of a run that must be equal between two runs
(not the timings)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import torch
from mlp_tui.core.events import EpochReport, Event, RunState, StateChanged
from mlp_tui.core.trainer import Trainer

TRACEBACK = "Traceback (most recent call last)"


def mlp_tui_command() -> list[str]:
    """The installed ``mlp-tui`` script next to this Python, else the same entry point via -m."""
    script = Path(sys.executable).with_name("mlp-tui")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "mlp_tui.tui.main"]


def run_cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*mlp_tui_command(), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def run_main(*args: str) -> subprocess.CompletedProcess:
    """``run_cli`` without the launch: the console script's entry point called in this process,
    its exit code, stdout and stderr in the same shape. A launch costs 1-3 s (a fresh
    interpreter imports torch), so each family of checks keeps one or two through the real
    script and runs the rest here."""
    from mlp_tui.tui.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's errors and --help, as the interpreter sees them
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(["mlp-tui", *args], code, out.getvalue(), err.getvalue())


def metrics(history: list[EpochReport]) -> list[tuple[int, float, float, float, float]]:
    """What a user compares between runs: everything in the epoch rows but the timings."""
    return [(r.epoch, r.train_loss, r.train_acc, r.test_acc, r.lr) for r in history]


def params(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.net.params]


def same_params(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


class EventLog:
    """An ``on_event`` listener that keeps every event and lets the test thread wait for one."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def mark(self) -> int:
        with self._changed:
            return len(self.events)

    def wait_for(
        self, match: Callable[[Event], bool], since: int = 0, timeout: float = 30
    ) -> Event:
        """The first event from index ``since`` on that matches, waiting for it if need be."""

        def found() -> Event | None:
            return next((e for e in self.events[since:] if match(e)), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                seen = [type(e).__name__ for e in self.events[since:]]
                raise AssertionError(f"no matching event in {timeout} s; got {seen}")
            return found()

    def wait_state(self, state: RunState, since: int = 0, timeout: float = 30) -> StateChanged:
        return self.wait_for(
            lambda e: isinstance(e, StateChanged) and e.state is state, since, timeout
        )

    def of(self, kind: type) -> list:
        with self._changed:
            return [e for e in self.events if isinstance(e, kind)]


def start(trainer: Trainer, paused: bool = False) -> threading.Thread:
    thread = threading.Thread(target=trainer.run, kwargs={"paused": paused}, daemon=True)
    thread.start()
    return thread


def finish(thread: threading.Thread, timeout: float = 60) -> None:
    thread.join(timeout)
    assert not thread.is_alive(), "the training thread did not end"
