"""How OpenMP's wait policy changes the engine's epoch, on a quiet and on a busy host.

Torch's CPU build runs its kernels on a GNU OpenMP team; after each operation the team's threads
wait at a barrier, spinning for a while (``GOMP_SPINCOUNT``) before they sleep. On a quiet
machine spinning wakes them fastest; on an oversubscribed one a spinning thread burns the time
slice the thread it waits for needs, and the engine's epoch was seen to collapse from 0.5 s to
5-25 s. The policy is read once, when the library loads, so each setting runs in its own
process: ``mlp-tui --headless`` for ``--epochs`` epochs, the settings alternating, ``--turns``
times. Prints each setting's median epoch (the first epoch of each run left out), its
epochs' spread, and the load average beside every turn. The same thread count keeps the same
arithmetic: every setting's final train loss is printed to show it.

    python -m benchmarks.omp_wait [--turns 4] [--epochs 3] [--data-dir DIR] [--busy N]

``--busy N`` starts N spinning processes beside the runs (a stand-in for other work on the
machine) and stops them at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

SETTINGS = {
    "libgomp's own (300000 spins)": {"GOMP_SPINCOUNT": "300000"},
    "mlp-tui's (50000 spins)": {},  # what the console script sets when the user set nothing
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
}
EPOCH = re.compile(r"epoch +\d+/\d+ +train loss ([0-9.]+).*? ([0-9.]+) s ")


def spin() -> None:
    while True:
        pass


def run_once(extra: dict[str, str], epochs: int, data_dir: str | None) -> tuple[list[float], str]:
    script = Path(sys.executable).with_name("mlp-tui")
    command = [str(script), "--headless", "--device", "cpu", "--epochs", str(epochs)]
    command += ["--data-dir", data_dir] if data_dir else []
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    done = subprocess.run(command, capture_output=True, text=True, env=env | extra, timeout=1800)
    found = EPOCH.findall(done.stdout)
    if done.returncode != 0 or not found:
        raise SystemExit(f"mlp-tui failed ({done.returncode}): {done.stderr[-400:]}")
    return [float(seconds) for _, seconds in found], found[-1][0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.omp_wait")
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--busy", type=int, default=0, help="spinning processes beside the runs")
    args = parser.parse_args(argv)
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)]
    for process in spinners:
        process.start()
    epochs: dict[str, list[float]] = {name: [] for name in SETTINGS}
    losses: dict[str, str] = {}
    try:
        for turn in range(1, args.turns + 1):
            names = list(SETTINGS)
            names = names[turn % len(names) :] + names[: turn % len(names)]  # rotate who's first
            line = []
            for name in names:
                seconds, loss = run_once(SETTINGS[name], args.epochs, args.data_dir)
                epochs[name] += seconds[1:] if len(seconds) > 1 else seconds
                losses[name] = loss
                line.append(f"{name} {statistics.median(seconds):.2f}")
            load = os.getloadavg()[0]
            print(f"turn {turn} (load {load:.1f}): " + ", ".join(line) + " s", flush=True)
    finally:
        for process in spinners:
            process.terminate()
    print(f"\n{os.cpu_count()} cores, {args.busy} spinning processes beside the runs")
    print(f"{'setting':<32}{'median s/epoch':>16}{'min':>8}{'max':>8}  final train loss")
    base = statistics.median(epochs[next(iter(SETTINGS))])
    for name, seconds in epochs.items():
        median = statistics.median(seconds)
        print(
            f"{name:<32}{median:>16.3f}{min(seconds):>8.3f}{max(seconds):>8.3f}"
            f"  {losses[name]}  ({median / base:.2f}x libgomp's)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
