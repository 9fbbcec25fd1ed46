"""``mlp-tui bench``: one process measures the engine, the engine under the app, the seed's own
pipeline and the roofline side by side on the real data, then prints a table (or ``--json``).

Every torch phase runs on a short-lived thread of its own and the main thread stays serial
(``keep_this_thread_serial``): the app's training thread then owns the only OpenMP team, as it
does when a user runs ``mlp-tui``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import fcntl
import json
import os
import platform
import pty
import resource
import select
import signal
import statistics
import struct
import sys
import termios
import threading
import time
import warnings
from collections.abc import Callable
from typing import TypeVar

import torch
from mlp_tui.core import bench, data
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.device import resolve_device
from mlp_tui.core.events import RunState, SettingsChanged
from mlp_tui.core.trainer import TRAIN_THREADS, Trainer, keep_this_thread_serial

T = TypeVar("T")
KEY_TIMEOUT_S = 5.0  # a key with no effect by then counts as this slow
APP_EPOCH_ROOM = 100_000  # the app's trainer is stopped once its epochs are measured
FIRST_FRAME_MARKER = b"epoch "  # in the status line, which is drawn with the first frame
TARGETS = {  # issue "Performance": the figures this engine must reach on this 2-core CPU
    "headless_vs_roofline": 1.2,
    "app_vs_headless": 1.1,
    "seed_vs_headless": 8.0,
    "key_latency_p95_ms": 100.0,
    "first_frame_s": 2.5,
    "peak_rss_mib": 1024.0,
}


def on_own_thread(work: Callable[[], T]) -> T:
    """Run ``work`` on a fresh thread with all cores; its OpenMP team dies with it."""
    result: list = []
    errors: list[BaseException] = []

    def target() -> None:
        torch.set_num_threads(TRAIN_THREADS)
        try:
            result.append(work())
        except BaseException as exc:  # re-raised on the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="mlp-tui-bench")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


async def _drive_app(
    trainer: Trainer, epochs: int, presses: int
) -> tuple[list[float], list[float], float | None]:
    """Press +/- under the app while it trains (key-to-effect latencies), then let it train
    ``epochs`` more epochs untouched: their seconds, and the UI thread's CPU time over wall
    time meanwhile. The trainer's own epoch count must leave room for both."""
    from textual import events

    from .app import MLPApp

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
    """Launch the real ``mlp-tui`` on a 120x40 pseudo-terminal; seconds until its first frame."""
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
                if FIRST_FRAME_MARKER in seen:
                    return time.perf_counter() - started
        return None
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}, {TRAIN_THREADS} threads"


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


def measure(args: argparse.Namespace) -> dict:
    config = TrainConfig(epochs=args.epochs, device=args.device, engine=args.engine)
    dataset = on_own_thread(lambda: data.load(args.data_dir, allow_download=False))
    n_train, n_test = len(dataset.train_y), len(dataset.test_y)
    device = resolve_device(args.device)
    dataset = on_own_thread(lambda: dataset.to(device))

    # The roofline's epochs are timed between the engine's, so both sides of the
    # headless/roofline ratio come from the same stretches of the machine's time.
    floor = on_own_thread(lambda: bench.Roofline(config, n_train, n_test, device))

    paired: list[float] = []  # each headless epoch over the roofline epoch beside it

    def headless_beside_roofline() -> tuple[bench.Figure, bench.Figure]:
        engine, roof, ratios = on_own_thread(
            lambda: bench.engine_beside_roofline(dataset, config, floor)
        )
        floor.release()  # scratch: its 40 MB are not the engine's or the app's
        paired.extend(ratios)
        return engine, roof

    headless, roof = headless_beside_roofline()
    figures = {"roofline": roof, "headless": headless}
    if device.type == "cuda":  # what the sync-free step and its CUDA graph are worth
        for name, variant, options in (
            ("headless_no_graphs", ", no CUDA graph", {"graphs": False}),
            ("headless_sync", ", a host sync per batch", {"sync_free": False}),
        ):
            figures[name] = on_own_thread(
                lambda v=variant, o=options: bench.engine_headless(dataset, config, v, **o)
            )

    reset_peak_rss()  # from here on: the data and the engine under the app
    # As many epochs as the presses and the measured stretch may need; stopped after them.
    app_trainer = Trainer(config.replace(epochs=APP_EPOCH_ROOM), dataset)
    latencies, seconds, ui_share = asyncio.run(_drive_app(app_trainer, args.epochs, args.presses))
    peak_rss = peak_rss_mib()
    name = "engine under the app (headless Textual)"
    if seconds:
        figures["app"] = bench.median_epoch(seconds, n_train, name, "after the key presses")
    else:  # the run ended first (it diverged or failed): say so, measure the rest
        state = f"{app_trainer.state.value}: {app_trainer.reason}".rstrip(": ")
        figures["app"] = bench.Figure(name, None, None, f"not measured, the run {state}")
    # Headless again after the app, and the mean of the two: a machine whose speed drifts
    # (other work on a shared host) would otherwise bias the app/headless ratio either way.
    again, roof_again = headless_beside_roofline()
    figures["headless"] = bench.mean_of(headless, again, "before and after the app")
    figures["headless"] = dataclasses.replace(
        figures["headless"],
        note=f"{figures['headless'].note}; epoch by epoch {min(paired):.2f}x-{max(paired):.2f}x"
        f" the roofline epoch beside it (median {statistics.median(paired):.2f}x)",
    )
    figures["roofline"] = bench.mean_of(roof, roof_again, "before and after")

    data_args = ["--data-dir", args.data_dir] if args.data_dir else []
    frame = first_frame_seconds([*data_args, "--device", args.device])
    if args.skip_seed:
        figures["seed"] = bench.Figure("seed pipeline", None, None, "skipped (--skip-seed)")
    else:
        with warnings.catch_warnings():  # 4 workers on 2 cores is the seed's choice, not ours
            warnings.simplefilter("ignore", UserWarning)
            figures["seed"] = on_own_thread(lambda: bench.seed_pipeline(args.data_dir, 1))
    return {
        "machine": machine(),
        "device": str(device),
        "figures": {name: figure.as_dict() for name, figure in figures.items()},
        "peak_rss_mib": peak_rss,
        "ui_cpu_share": ui_share,
        "first_frame_s": frame,
        "key_latency_ms": {
            "p50": statistics.median(latencies) if latencies else None,
            "p95": percentile(latencies, 0.95) if latencies else None,
            "presses": len(latencies),
        },
    }


def ratios(result: dict) -> dict:
    f = {k: v["seconds_per_epoch"] for k, v in result["figures"].items()}

    def share(a, b):
        return f[a] / f[b] if f.get(a) and f.get(b) else None

    return {
        "headless_vs_roofline": share("headless", "roofline"),
        "app_vs_headless": share("app", "headless"),
        "seed_vs_headless": share("seed", "headless"),
        "key_latency_p95_ms": result["key_latency_ms"]["p95"],
        "first_frame_s": result["first_frame_s"],
        "peak_rss_mib": result["peak_rss_mib"],
    }


def verdicts(values: dict) -> dict:
    """Each target: met (True), missed (False) or not measured (None). Speed-up is a minimum."""
    out = {}
    for name, target in TARGETS.items():
        value = values[name]
        if value is None:
            out[name] = None
        else:
            out[name] = value >= target if name == "seed_vs_headless" else value <= target
    return out


def table(result: dict) -> str:
    values = ratios(result)
    met = verdicts(values)
    roof = result["figures"]["roofline"]["seconds_per_epoch"]
    lines = [
        f"mlp-tui bench on {result['machine']} ({result['device']})",
        "",
        f"{'':44} {'s/epoch':>8} {'examples/s':>11} {'x roofline':>10}",
    ]
    for fig in result["figures"].values():
        s = fig["seconds_per_epoch"]
        if s is None:
            lines.append(f"{fig['name']:44} {'-':>8} {'-':>11} {'-':>10}  {fig['note']}")
            continue
        lines.append(
            f"{fig['name']:44} {s:8.3f} {fig['examples_per_s']:11,.0f} {s / roof:9.2f}x"
            + (f"  {fig['note']}" if fig["note"] else "")
        )
    labels = {
        "headless_vs_roofline": ("headless epoch / roofline", "<=", "x"),
        "app_vs_headless": ("app epoch / headless epoch", "<=", "x"),
        "seed_vs_headless": ("seed epoch / headless epoch", ">=", "x"),
        "key_latency_p95_ms": ("key-to-effect p95 while training", "<=", " ms"),
        "first_frame_s": ("launch to first frame", "<=", " s"),
        "peak_rss_mib": ("peak RSS (engine + app)", "<=", " MiB"),
    }
    lines += ["", f"{'target':44} {'measured':>10} {'target':>10}"]
    for name, (label, op, unit) in labels.items():
        value = values[name]
        shown = "-" if value is None else f"{value:.2f}{unit}"
        verdict = {True: "met", False: "MISSED", None: "not measured"}[met[name]]
        lines.append(f"{label:44} {shown:>10} {op} {TARGETS[name]:g}{unit:<4} {verdict}")
    if result.get("ui_cpu_share") is not None:
        lines.append(
            f"UI thread CPU while training: {result['ui_cpu_share']:.1%} of a core "
            "(what the app takes from training, before scheduling effects)"
        )
    latency = result["key_latency_ms"]
    if latency["p50"] is not None:
        lines.append(f"key-to-effect p50 {latency['p50']:.1f} ms over {latency['presses']} presses")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    summary = __doc__.split("\n\n")[0].replace("``", "")  # the docstring's first paragraph, plain
    parser = argparse.ArgumentParser(prog="mlp-tui bench", description=summary)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per engine measurement")
    parser.add_argument("--presses", type=int, default=20, help="keys timed under the app")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda... (default cpu)")
    parser.add_argument(
        "--engine",
        default="fused",
        choices=("fused", "autograd"),
        help="the engine to time: fused (default) or autograd (the seed verbatim)",
    )
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--skip-seed", action="store_true", help="leave out the seed pipeline")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.epochs < 1 or args.presses < 0:
        print("mlp-tui bench: --epochs must be >= 1 and --presses >= 0", file=sys.stderr)
        return 2
    keep_this_thread_serial()
    try:
        result = measure(args)
    except (data.DataError, ValueError) as exc:
        print(f"mlp-tui bench: {exc}", file=sys.stderr)
        return 2
    result["ratios"] = ratios(result)
    result["targets"] = {
        k: {"target": TARGETS[k], "met": v} for k, v in verdicts(result["ratios"]).items()
    }
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0
