"""The opt-in fast modes against fp32, in one process, epoch by epoch in turns: what each costs.

Every mode trains the seed's run (``--args`` for another) on the real data for ``--epochs``
epochs: fp32 (the default, the seed's arithmetic), bf16 where this CPU has bf16 instructions,
tf32 where there is a CUDA GPU. The modes take turns, one epoch each, in an order that rotates
from turn to turn, so that a shared machine's drift falls on all of them alike. Printed: the
median seconds per epoch (the first, a warm-up, left out; the epoch as the trainer times it,
test-set evaluation included), its ratio to fp32's median, the median of the turns' own ratios
(``paired``: each epoch over fp32's next to it, the steadier figure on a busy machine), and
the train loss and test accuracy after
the last epoch, so a faster mode that learns less is seen. Then the step alone, in short
alternating blocks (``step_times``). The load average before and after says how busy the
machine was.

    python -m benchmarks.fast_modes [--epochs 10] [--device cpu|cuda] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

import torch
from mlp_tui.core import cli, data, precision
from mlp_tui.core.config import ConfigError, TrainConfig
from mlp_tui.core.device import resolve_device
from mlp_tui.core.trainer import Trainer


def cpu_name() -> str:
    """``lscpu``'s Model name (the processor's), else what Python knows."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        out = ""
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "-"


def modes_for(device: torch.device) -> tuple[list[str], list[str]]:
    """The modes this device runs (fp32 first), and a line for each it refuses."""
    modes, refused = ["fp32"], []
    for mode in ("bf16", "tf32"):
        try:
            precision.check(mode, device)
        except ConfigError as exc:
            refused.append(f"{mode}: {exc}")
        else:
            modes.append(mode)
    return modes, refused


def measure(config: TrainConfig, dataset: data.FashionMNIST, modes: list[str], epochs: int):
    trainers = {
        mode: Trainer(config.replace(precision=mode, epochs=1), dataset, health=False)
        for mode in modes
    }
    for turn in range(epochs):
        order = modes[turn % len(modes) :] + modes[: turn % len(modes)]
        for mode in order:
            trainer = trainers[mode]
            if turn:
                trainer.update(epochs=turn + 1)
            trainer.run()
            report = trainer.history[-1]
            print(f"turn {turn + 1}: {mode} {report.seconds:.3f} s", file=sys.stderr)
    return trainers


def step_times(
    config: TrainConfig, dataset: data.FashionMNIST, modes: list[str], rounds: int = 40
) -> dict[str, list[float]]:
    """Microseconds a batch of the training step alone (forward and update, no evaluation),
    in blocks of 20 batches that alternate between the modes: a block is ~50 ms, so the
    machine's drift over minutes falls on every mode alike, which epochs of seconds do not."""
    trainers = {m: Trainer(config.replace(precision=m), dataset, health=False) for m in modes}
    X, y = dataset.train_batch(torch.arange(config.batch_size))
    times: dict[str, list[float]] = {m: [] for m in modes}
    for turn in range(rounds + 2):  # the first two rounds warm up (oneDNN's kernels)
        for mode in modes[turn % len(modes) :] + modes[: turn % len(modes)]:
            trainer = trainers[mode]
            step, optimizer = trainer._step_fn, trainer.optimizer
            with trainer._precision:
                start = time.perf_counter()
                for _ in range(20):
                    step.forward(X, y)
                    step.update(optimizer)
                if trainer.device.type == "cuda":
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - start
            if turn >= 2:
                times[mode].append(seconds / 20 * 1e6)
    return times


def step_table(times: dict[str, list[float]]) -> str:
    base = times["fp32"]
    lines = [f"{'precision':<10} {'us/batch':>9} {'x fp32':>7} {'paired':>7}  (step alone)"]
    for mode, values in times.items():
        median = statistics.median(values)
        paired = statistics.median(a / b for a, b in zip(values, base))
        lines.append(
            f"{mode:<10} {median:>9.0f} {median / statistics.median(base):>7.2f} {paired:>7.2f}"
        )
    return "\n".join(lines)


def table(trainers: dict[str, Trainer], epochs: int) -> str:
    def median(t: Trainer) -> float:
        seconds = [r.seconds for r in t.history]
        return statistics.median(seconds[1:] if len(seconds) > 2 else seconds)

    def paired(t: Trainer) -> float:
        """The median of the turns' ratios: each epoch against fp32's of the same turn, run
        next to it, so a busy minute falls on both sides of a ratio."""
        pairs = list(zip(t.history, trainers["fp32"].history))
        pairs = pairs[1:] if len(pairs) > 2 else pairs
        return statistics.median(a.seconds / b.seconds for a, b in pairs)

    base = median(trainers["fp32"])
    lines = [
        f"{'precision':<10} {'s/epoch':>8} {'x fp32':>7} {'paired':>7} "
        f"{f'train loss@{epochs}':>14} {f'test acc@{epochs}':>12}"
    ]
    for mode, trainer in trainers.items():
        last = trainer.history[-1]
        lines.append(
            f"{mode:<10} {median(trainer):>8.3f} {median(trainer) / base:>7.2f} "
            f"{paired(trainer):>7.2f} {last.train_loss:>14.4f} {last.test_acc:>12.4f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--args", default="", help="CLI options for every mode: '--hidden 512'")
    args = parser.parse_args(argv)
    options = cli.build_parser().parse_args(shlex.split(args.args))
    device = resolve_device(args.device)
    config = TrainConfig(**{**cli.config_overrides(options), "device": args.device}).validated()
    modes, refused = modes_for(device)
    dataset = data.load(args.data_dir, device)
    before = load()
    trainers = measure(config, dataset, modes, args.epochs)
    steps = step_times(config, dataset, modes)
    where = cpu_name() if device.type == "cpu" else torch.cuda.get_device_name(device)
    print(
        f"{where}, {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"load average {before} before, {load()} after; {dataset.source}"
    )
    if device.type == "cpu":
        print(f"bf16 detection: {precision.cpu_bf16_support()[1]}")
    print(table(trainers, args.epochs))
    print(step_table(steps))
    for line in refused:
        print(f"not run: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
