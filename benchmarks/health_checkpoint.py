"""What carrying the health history costs a checkpoint: bytes, save and load time, with the
history and without, alternating in one process (A, B, B, A, ...; medians).

The seed's network (784-256-10) with ``--reports`` reports as a run keeps them (one an epoch,
plus the network as initialised; a checkpoint keeps at most ``health_state.KEPT`` + 1).

    python benchmarks/health_checkpoint.py --reports 11      # the seed's 10 epochs
    python benchmarks/health_checkpoint.py --reports 100000  # a long run: capped
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mlp_tui.core import checkpoint, data
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.trainer import Trainer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--data-dir", default=str(data.DEBIAN_DIR))
    args = parser.parse_args(argv)
    fashion = data.load(args.data_dir)
    trainer = Trainer(TrainConfig(device="cpu"), fashion)
    monitor = trainer.health
    assert monitor is not None
    first = monitor.initial(fashion.test_flat, trainer.config).report
    assert first is not None
    monitor.history = [first] * args.reports
    with_health = trainer.state_dict()
    without = {**with_health, "health": None}
    times: dict[str, list[float]] = {"with": [], "without": []}
    loads: dict[str, list[float]] = {"with": [], "without": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.repeats):
            order = ("with", "without") if i % 2 == 0 else ("without", "with")
            for name in order:
                state = with_health if name == "with" else without
                path = Path(folder) / f"{name}.safetensors"
                start = time.perf_counter()
                checkpoint.save(state, path)
                times[name].append(time.perf_counter() - start)
                start = time.perf_counter()
                checkpoint.load(path, fashion)
                loads[name].append(time.perf_counter() - start)
                sizes[name] = path.stat().st_size
    kept = len(with_health["health"]["reports"])
    print(f"{args.reports} reports ({kept} kept), median of {args.repeats}:")
    for name in ("with", "without"):
        save, load = statistics.median(times[name]), statistics.median(loads[name])
        print(
            f"  {name:>7} history: {sizes[name]:>10,} bytes  save {save * 1e3:7.1f} ms"
            f"  load {load * 1e3:7.1f} ms"
        )
    ratio = statistics.median(times["with"]) / statistics.median(times["without"])
    print(f"  save with / without: {ratio:.2f}x; +{sizes['with'] - sizes['without']:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
