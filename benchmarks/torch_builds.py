"""The engine on two builds of torch, side by side, in turns: the CPU build CI pins and the
registry's CUDA build that a plain ``pip install`` brings (which users run, on CPUs too).

Each build lives in its own virtual environment with mlp-tui installed (``pip install -e .``);
one process cannot hold two torches, so the script alternates ``mlp-tui bench --skip-seed
--json`` between the environments, ``--turns`` times, and prints each build's median engine
epoch and roofline epoch (both measured inside each bench run, in the same stretches of time)
and their ratio. On a shared host compare the ratios, and the builds only within a turn.

    python -m benchmarks.torch_builds VENV_A VENV_B [--turns 5] [--epochs 4] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path


def bench_once(venv: Path, epochs: int, data_dir: str | None) -> dict:
    command = [str(venv / "bin" / "mlp-tui"), "bench", "--skip-seed", "--json"]
    command += ["--epochs", str(epochs)] + (["--data-dir", data_dir] if data_dir else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{venv}: mlp-tui bench failed ({done.returncode}): {done.stderr[-400:]}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.torch_builds")
    parser.add_argument("venvs", nargs=2, type=Path, help="two virtual environments")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4, help="engine epochs per bench run")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    for venv in args.venvs:
        if not (venv / "bin" / "mlp-tui").exists():
            parser.error(f"{venv}: no mlp-tui in it (pip install -e . there first)")
    engine: dict[Path, list[float]] = {v: [] for v in args.venvs}
    roofline: dict[Path, list[float]] = {v: [] for v in args.venvs}
    machine: dict[Path, str] = {}
    for turn in range(1, args.turns + 1):
        order = args.venvs if turn % 2 else args.venvs[::-1]  # who goes first alternates
        line = []
        for venv in order:
            result = bench_once(venv, args.epochs, args.data_dir)
            machine[venv] = result["machine"]
            e = result["figures"]["engine"]["seconds_per_epoch"]
            r = result["figures"]["roofline"]["seconds_per_epoch"]
            engine[venv].append(e)
            roofline[venv].append(r)
            line.append(f"{result['machine'].split('torch ')[-1].split(',')[0]} {e:.3f}/{r:.3f}")
        print(f"turn {turn}: " + ", ".join(line) + " s (engine/roofline)", flush=True)
    print()
    print(f"{'build':<40}{'engine s/epoch':>16}{'roofline':>10}{'ratio':>8}")
    for venv in args.venvs:
        e, r = statistics.median(engine[venv]), statistics.median(roofline[venv])
        print(f"{machine[venv]:<40}{e:>16.3f}{r:>10.3f}{e / r:>8.2f}")
    print("\nmedians over the turns; ratio: the engine's median over the roofline's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
