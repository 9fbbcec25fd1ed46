"""The developer benchmark: every figure the project is measured by, against its targets.

One process measures, on the real data, the engine headless beside the roofline (before and
after the app, averaged), on CUDA the engine without its graph and with a host sync per batch,
the engine under the running app (headless Textual) with key-to-effect latency, launch to first
frame, peak RSS and the seed's own pipeline, then prints a table with a verdict per target.

Run it from the repository root: ``python -m benchmarks.bench --help``.

Every torch phase runs on a short-lived thread of its own and the main thread stays serial
(``keep_this_thread_serial``): the app's training thread then owns the only OpenMP team, as it
does when a user runs ``mlp-tui``. The measurements are ``mlp_tui.core.bench``'s, the ones
``mlp-tui bench`` prints.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

import torch
from mlp_tui.core import bench, data
from mlp_tui.core.config import ConfigError, TrainConfig
from mlp_tui.core.device import resolve_device
from mlp_tui.core.roofline import Roofline
from mlp_tui.core.trainer import TRAIN_THREADS, Trainer, keep_this_thread_serial

from .app_figures import drive_app, first_frame_seconds, peak_rss_mib, percentile, reset_peak_rss

T = TypeVar("T")
APP_EPOCH_ROOM = 100_000  # the app's trainer is stopped once its epochs are measured
TARGETS = {  # the project's performance issue: what this engine must reach on a 2-core CPU
    "headless_vs_roofline": 1.2,
    "app_vs_headless": 1.1,
    "seed_vs_headless": 8.0,  # a minimum: the engine at least this many times the seed's speed
    "key_latency_p95_ms": 100.0,
    "first_frame_s": 2.5,
    "peak_rss_mib": 1024.0,
}
LABELS = {  # how the table names each target, its comparison and its unit
    "headless_vs_roofline": ("headless epoch / roofline", "<=", "x"),
    "app_vs_headless": ("app epoch / headless epoch", "<=", "x"),
    "seed_vs_headless": ("seed epoch / headless epoch", ">=", "x"),
    "key_latency_p95_ms": ("key-to-effect p95 while training", "<=", " ms"),
    "first_frame_s": ("launch to the training screen", "<=", " s"),
    "peak_rss_mib": ("peak RSS (engine + app)", "<=", " MiB"),
}
CUDA_VARIANTS = (  # what the sync-free step and its CUDA graph are worth
    ("headless_no_graphs", ", no CUDA graph", {"graphs": False}),
    ("headless_sync", ", a host sync per batch", {"sync_free": False}),
)


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


def engine_variant(
    dataset: data.FashionMNIST, config: TrainConfig, variant: str, **options
) -> bench.Figure:
    """The engine headless with the trainer's GPU ``options``, named by ``variant``."""
    trainer = Trainer(config, dataset, **options)
    trainer.run()
    return bench.engine_figure(trainer, config, len(dataset.train_y), variant)


def mean_of(first: bench.Figure, second: bench.Figure, note: str) -> bench.Figure:
    """Two measurements of the same thing, averaged; the note says which."""
    seconds = (first.seconds_per_epoch + second.seconds_per_epoch) / 2
    spread = abs(first.seconds_per_epoch - second.seconds_per_epoch) / seconds
    return bench.Figure(
        first.name,
        seconds,
        first.examples_per_s * first.seconds_per_epoch / seconds,  # examples / mean seconds
        f"{first.note}, {note} (differ by {spread:.0%})",
    )


def measure(args) -> dict:
    config = TrainConfig(epochs=args.epochs, device=args.device, engine=args.engine)
    device = resolve_device(args.device)
    dataset = on_own_thread(lambda: data.load(args.data_dir, device, allow_download=False))
    n_train = len(dataset.train_y)
    floor = on_own_thread(lambda: Roofline(config, n_train, len(dataset.test_y), device))
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
    if device.type == "cuda":
        for name, variant, options in CUDA_VARIANTS:
            figures[name] = on_own_thread(
                lambda v=variant, o=options: engine_variant(dataset, config, v, **o)
            )

    reset_peak_rss()  # from here on: the data and the engine under the app
    # As many epochs as the presses and the measured stretch may need; stopped after them.
    app_trainer = Trainer(config.replace(epochs=APP_EPOCH_ROOM), dataset)
    latencies, seconds, ui_share = asyncio.run(drive_app(app_trainer, args.epochs, args.presses))
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
    headless = mean_of(headless, again, "before and after the app")
    figures["headless"] = dataclasses.replace(
        headless,
        note=f"{headless.note}; epoch by epoch {min(paired):.2f}x-{max(paired):.2f}x"
        f" the roofline epoch beside it (median {statistics.median(paired):.2f}x)",
    )
    per_shape = f"from each shape's best windows {floor.per_shape_seconds:.3f} s"
    roof, roof_again = (
        dataclasses.replace(figure, note=f"{figure.note}; {per_shape}")
        for figure in (roof, roof_again)
    )
    figures["roofline"] = mean_of(roof, roof_again, "before and after")

    data_args = ["--data-dir", args.data_dir] if args.data_dir else []
    frame = first_frame_seconds([*data_args, "--device", args.device])
    if args.skip_seed:
        figures["seed"] = bench.Figure("seed pipeline", None, None, "skipped (--skip-seed)")
    else:
        figures["seed"] = on_own_thread(lambda: bench.seed_pipeline(args.data_dir))
    return {
        "machine": bench.machine(),
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
    """Each target: met (True), missed (False) or not measured (None)."""
    out = {}
    for name, target in TARGETS.items():
        value = values[name]
        if value is None:
            out[name] = None
        else:
            out[name] = value >= target if LABELS[name][1] == ">=" else value <= target
    return out


def table(result: dict) -> str:
    values = ratios(result)
    met = verdicts(values)
    roof = result["figures"]["roofline"]["seconds_per_epoch"]
    lines = [
        f"benchmarks.bench on {result['machine']} ({result['device']})",
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
    lines += ["", f"{'target':44} {'measured':>10} {'target':>10}"]
    for name, (label, op, unit) in LABELS.items():
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


def build_parser():
    parser = bench.build_parser(
        prog="python -m benchmarks.bench", description=" ".join(__doc__.split("\n\n")[:2])
    )
    parser.set_defaults(device="cpu")  # the targets are the CPU's
    parser.add_argument(
        "--presses", type=int, default=20, help="keys timed under the app (default %(default)s)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.presses < 0:
        parser.error("--presses must be >= 0")
    keep_this_thread_serial()
    try:
        result = measure(args)
    except (data.DataError, ConfigError) as exc:
        print(f"benchmarks.bench: {exc}", file=sys.stderr)
        return 2
    result["ratios"] = ratios(result)
    result["targets"] = {
        k: {"target": TARGETS[k], "met": v} for k, v in verdicts(result["ratios"]).items()
    }
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
