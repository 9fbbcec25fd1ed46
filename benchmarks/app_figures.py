"""What the app costs: the engine's epochs and key-to-effect latency under a running app, the
launch to the first frame, and the peak resident memory."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import re
import resource
import select
import signal
import struct
import sys
import termios
import time

from mlp_tui.core.events import RunState, SettingsChanged
from mlp_tui.core.trainer import Trainer

KEY_TIMEOUT_S = 5.0  # a key with no effect by then counts as this slow
# The training screen's status line ("epoch 1/10"): the run's first frame, after the starting
# screen's (drawn before torch loads; benchmarks/first_frame.py times both).
RUN_FRAME = re.compile(rb"epoch \d+/\d+")


async def drive_app(
    trainer: Trainer, epochs: int, presses: int
) -> tuple[list[float], list[float], float | None]:
    """Press +/- under the app while it trains (key-to-effect latencies), then let it train
    ``epochs`` more epochs untouched: their seconds, and the UI thread's CPU time over wall
    time meanwhile. The trainer's own epoch count must leave room for both."""
    from mlp_tui.tui.app import MLPApp
    from textual import events

    app = MLPApp(trainer, cursor_blink=False)
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)):
        # The moment the training thread applies an lr, stamped there: no polling on the UI
        # thread, which would itself slow the training being measured.
        loop = asyncio.get_running_loop()
        applied: asyncio.Queue[float] = asyncio.Queue()
        listener = trainer.on_event

        def stamped(event, listener=listener) -> None:
            if isinstance(event, SettingsChanged) and "lr" in event.changed:
                loop.call_soon_threadsafe(applied.put_nowait, time.perf_counter())
            listener(event)

        trainer.on_event = stamped
        going = (RunState.IDLE, RunState.RUNNING)
        while trainer.step_count < 20 and trainer.state in going:  # let training get going
            await asyncio.sleep(0.01)
        for i in range(presses):
            started = time.perf_counter()
            # As the terminal driver does (pilot.press would also wait for the app to idle).
            key, char = ("plus", "+") if i % 2 == 0 else ("minus", "-")
            app.post_message(events.Key(key, char))
            try:
                done = await asyncio.wait_for(applied.get(), KEY_TIMEOUT_S)
            except asyncio.TimeoutError:
                done = time.perf_counter()
            latencies.append((done - started) * 1000)
            await asyncio.sleep(0.05)
        # The epochs that start from here on are the app's steady state: a user watching,
        # not a key every 50 ms (whose cost the latencies above already show).
        first = len(trainer.history) + 1  # the epoch under way saw presses: not counted
        cpu, wall = time.thread_time(), time.perf_counter()  # this thread runs the app
        while len(trainer.history) < first + epochs and trainer.state is RunState.RUNNING:
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - wall
        # Over too short a stretch (a fast GPU may finish first) the figure means nothing.
        ui_share = (time.thread_time() - cpu) / wall if wall >= 1.0 else None
        trainer.stop()
        while trainer.state is RunState.RUNNING:  # its last events reach a live app
            await asyncio.sleep(0.01)
    seconds = [report.seconds for report in trainer.history[first : first + epochs]]
    return latencies, seconds, ui_share


def first_frame_seconds(extra_args: list[str], timeout_s: float = 30.0) -> float | None:
    """Launch the real ``mlp-tui`` on a 120x40 pseudo-terminal; seconds until the run's first
    frame (the training screen, once torch, the data and the trainer have loaded)."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of the designed size, then the app
        fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        os.execv(sys.executable, [sys.executable, "-m", "mlp_tui.tui.main", *extra_args])
    seen = b""
    try:
        while time.perf_counter() - started < timeout_s:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    seen = (seen + os.read(fd, 65536))[-4096:]
                except OSError:
                    return None  # the app exited before drawing
                if RUN_FRAME.search(seen):
                    return time.perf_counter() - started
        return None
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def reset_peak_rss() -> None:
    """Start the peak-RSS count afresh (Linux: ``clear_refs`` 5 resets the high-water mark), so
    that scratch memory of an earlier measurement, such as the roofline's operands, is not
    counted against the engine and the app."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass  # elsewhere the peak counts from the start of the process: an overestimate


def peak_rss_mib() -> float:
    """The resident set's high-water mark since the last reset, in MiB."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
