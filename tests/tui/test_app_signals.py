"""Ctrl+C and SIGTERM end the real app in a real terminal (tmux) within 2 s: the terminal is
left as it was found, the exit code says why, and the run's unsaved batches are on disk.

Textual reads Ctrl+C as a key that only says "press q to quit", and without a handler SIGTERM
killed the app in its alternate screen with the mouse still captured: see ``Interrupts`` in
``tui/main.py``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlp_tui.core.checkpoint import SUFFIX
from mlp_tui.core.parsing import EXIT_INTERRUPTED, EXIT_TERMINATED
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui import main as entry
from mlp_tui.tui.app import MLPApp
from textual.pilot import Pilot

from ..core._helpers import TRACEBACK, mlp_tui_command
from .conftest import wait_until

pytestmark = pytest.mark.slow  # the real app in a terminal, killed by signals

EXIT_LIMIT_S = 2.0
# after the app: the alternate screen off, no mouse reporting, the cursor shown
RESTORED = "0 0 0 0 1"
FLAGS = "#{alternate_on} #{mouse_any_flag} #{mouse_button_flag} #{mouse_sgr_flag} #{cursor_flag}"


class Terminal:
    """One tmux pane, 120x40, on a server of its own, running ``script`` in a shell."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, "-f", "/dev/null", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout

    def start(self, script: str) -> None:
        self.tmux("new-session", "-d", "-s", "app", "-x", "120", "-y", "40", script)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", "app")  # -J: wrapped lines joined

    def show(self, format: str) -> str:
        return self.tmux("display-message", "-p", "-t", "app", format).strip()

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            found = re.search(pattern, screen)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{screen}")
            time.sleep(0.05)

    def child_pid(self) -> int:
        """The program the pane's shell is running (``env`` execs it: same pid)."""
        shell = self.show("#{pane_pid}")
        (child,) = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        return int(child)

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    pane = Terminal(f"mlp-tui-signals-{os.getpid()}")
    yield pane
    pane.close()


def alive(pid: int) -> bool:
    """Running, not merely a zombie its shell has yet to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def seconds_to_exit(pid: int, limit: float = 10.0) -> float:
    started = time.monotonic()
    while alive(pid) and time.monotonic() - started < limit:
        time.sleep(0.01)
    return time.monotonic() - started


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.skipif(not Path("/proc/self").exists(), reason="the app's pid is found in /proc")
@pytest.mark.parametrize(
    ("how", "code", "with_save"),
    [("ctrl+c", EXIT_INTERRUPTED, False), ("sigterm", EXIT_TERMINATED, True)],
)
def test_ctrl_c_and_sigterm_end_the_app_within_2_s_and_keep_the_run(
    how, code, with_save, terminal, tiny_dir, tiny_data, tmp_path
):
    saves, run_file = tmp_path / "saves", tmp_path / "run.safetensors"
    program = [*mlp_tui_command(), "--data-dir", str(tiny_dir), "--epochs", "100000"]
    program += ["--batch-size", "64", "--device", "cpu", "--save-dir", str(saves)]
    if with_save:
        program += ["--save", str(run_file)]
    env = {k: os.environ[k] for k in ("PATH", "HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")}
    env["TERM"] = "xterm-256color"
    before, after = tmp_path / "stty-before", tmp_path / "stty-after"
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    terminal.start(
        f"stty -g > {shlex.quote(str(before))}; env {assignments} {shlex.join(program)}; "
        f"echo EXITED $?; stty -g > {shlex.quote(str(after))}; sleep 60"
    )
    terminal.wait_for("loss per batch")
    shown = terminal.wait_for(r"epoch ([3-9]|\d\d+)/100000\s+batch")  # a few epochs in
    pid = terminal.child_pid()

    if how == "ctrl+c":
        terminal.tmux("send-keys", "-t", "app", "C-c")
    else:
        os.kill(pid, signal.SIGTERM)
    took = seconds_to_exit(pid)
    print(f"\n{how}: the app was gone {took:.2f} s after the signal")
    assert took < EXIT_LIMIT_S

    screen = terminal.wait_for(r"EXITED \d+", timeout=5).string
    assert f"EXITED {code}" in screen and "mlp-tui: interrupted" in screen
    assert TRACEBACK not in screen
    assert terminal.show(FLAGS) == RESTORED
    deadline = time.monotonic() + 5
    while not after.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert after.read_text() == before.read_text()  # echo, canonical input, signals: as before

    (saved,) = [run_file] if with_save else sorted(saves.glob(f"*{SUFFIX}"))
    assert f"saved {saved}" in screen
    run = Trainer.from_checkpoint(saved, tiny_data)
    assert run.epoch >= int(shown.group(1)) - 1  # the status line showed the epoch under way
    assert run.step_count == run.epoch * run.batches_per_epoch + run.batch > 0


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_running_app_exits_with_its_code_and_saves(
    signum, code, tiny_dir, tiny_data, tmp_path, monkeypatch, capsys
):
    """The same path without a terminal: the app runs headless in this process."""
    run = MLPApp.run

    async def signal_once_training(pilot: Pilot) -> None:
        await wait_until(pilot, lambda: pilot.app.loaded and pilot.app.trainer.step_count > 15)
        handler = signal.getsignal(signum)  # not the default: it would end the test run
        assert handler not in (signal.SIG_DFL, signal.default_int_handler), handler
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(
        MLPApp, "run", lambda app: run(app, headless=True, auto_pilot=signal_once_training)
    )
    monkeypatch.setattr(entry, "freeze_startup_objects", lambda: None)  # not this process's
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    allowed = os.environ.get("TEXTUAL_ALLOW_SIGNALS")
    argv = ["--data-dir", str(tiny_dir), "--epochs", "100000", "--batch-size", "64"]
    argv += ["--device", "cpu", "--save", str(tmp_path / "run.safetensors")]

    assert entry.main(argv) == code

    assert {sig: signal.getsignal(sig) for sig in before} == before
    assert os.environ.get("TEXTUAL_ALLOW_SIGNALS") == allowed  # as it was: set only for the app
    err = capsys.readouterr().err
    assert f"saved {tmp_path / 'run.safetensors'}" in err and "mlp-tui: interrupted" in err
    saved = Trainer.from_checkpoint(tmp_path / "run.safetensors", tiny_data)
    assert saved.step_count > 15
