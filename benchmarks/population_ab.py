"""A/B: a population epoch with another tree's ``stacked_mlp.py`` (A) against this tree's (B),
each beside a solo epoch, in alternating turns in one process (A first in odd rounds, B first in
even ones), so a drifting host slows both alike. Prints each round's population and solo epochs
(the second of two, evaluation included), the ratio population / (K x solo) for each, B / A,
and the load average.

    git show main:core/stacked_mlp.py > /tmp/stacked_main.py
    python -m benchmarks.population_ab /tmp/stacked_main.py [--rounds 6] [--members 8]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics

from mlp_tui.core import data, population, stacked_mlp
from mlp_tui.core.data import to_unit

from benchmarks.population import configs, solo_epoch


def load_old(path: str) -> type:
    spec = importlib.util.spec_from_file_location("mlp_tui.core._stacked_a", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = module.StackedMLP
    if not hasattr(cls, "inputs"):  # before the ones column: float rows as they were
        cls.inputs = lambda self, pixels: to_unit(pixels)
    return cls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the A tree's core/stacked_mlp.py")
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    real, K = data.load(args.data_dir), args.members
    kinds = {"A": load_old(args.old), "B": stacked_mlp.StackedMLP}
    solos = configs(K, 2, "cpu")
    rows = []
    for r in range(args.rounds):
        got = {}
        for name in "AB" if r % 2 == 0 else "BA":
            population.StackedMLP = kinds[name]
            members = population.Population(configs(K, 2, "cpu"), real).run()
            pop, one = members[0].history[-1].seconds, solo_epoch(solos[r % K], real)
            got[name] = (pop, one, pop / (K * one))
        rows.append(got)
        a, b = got["A"], got["B"]
        print(f"round {r + 1} (load {os.getloadavg()[0]:.1f}): A {a[0]:.2f} s / solo {a[1]:.3f}"
              f" s = {a[2]:.3f}; B {b[0]:.2f} s / solo {b[1]:.3f} s = {b[2]:.3f};"
              f" B/A {b[0] / a[0]:.3f}", flush=True)  # fmt: skip
    population.StackedMLP = stacked_mlp.StackedMLP
    for name in "AB":
        ratio = statistics.median(x[name][2] for x in rows)
        print(f"{name}: median population / ({K} x solo) {ratio:.3f}")
    ratio = statistics.median(x["B"][0] / x["A"][0] for x in rows)
    print(f"median B/A population epoch {ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
