"""A population's epoch against K solo runs' epochs, in alternating turns in one process.

The sweep is the seed's run at K learning rates (one seed, so one data order and one gather a
batch). Each turn trains ``--epochs`` epochs and keeps the last (the first warms up): the
population's epoch (its K members together, evaluation included), then one solo run's epoch,
and so on, so that a drifting host slows both alike. Prints each pair and the ratio of the
population's epoch to K solo epochs (target on the CPU: <= 0.8; on a GPU, K=16: <= 2 solo
epochs; there also against a solo run on PyTorch's step, the fused kernels off).
``--profile`` adds the torch profiler's top operations over one population epoch.

    python -m benchmarks.population [--members 8] [--rounds 5] [--device cpu] [--profile]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from mlp_tui.core import data
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.population import Population
from mlp_tui.core.trainer import Trainer

LRS = (0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.04, 0.06, 0.08, 0.12, 0.17, 0.22)


def configs(members: int, epochs: int, device: str) -> list[TrainConfig]:
    return [TrainConfig(epochs=epochs, lr=lr, device=device) for lr in LRS[:members]]


def population_epoch(members: int, epochs: int, device: str, real: data.FashionMNIST) -> float:
    population = Population(configs(members, epochs, device), real)
    population.run()
    stack = population.stacks[0]
    if device != "cpu" and (stack.graph_error or not stack.graphs):
        print(f"  (population without its CUDA graph: {stack.graph_error or 'not taken'})")
    return population.members[0].history[-1].seconds


def solo_epoch(config: TrainConfig, real: data.FashionMNIST, kernels: bool = True) -> float:
    trainer = Trainer(config, real, kernels=kernels)
    trainer.run()
    error = getattr(trainer.steps, "kernels_error", "off")
    if kernels and config.device != "cpu" and error:
        print(f"  (solo without the fused kernels: {error})")
    return trainer.history[-1].seconds


def profile(members: int, device: str, real: data.FashionMNIST) -> None:
    population = Population(configs(members, 1, device), real)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        population.run()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    real = data.load(args.data_dir)
    K = args.members
    solo_configs = configs(K, args.epochs, args.device)
    ratios, pops, solos = [], [], []
    print(f"K={K}, {args.device}, {args.rounds} rounds; the last of {args.epochs} epochs each")
    for round_ in range(args.rounds):
        pop = population_epoch(K, args.epochs, args.device, real)
        solo = solo_epoch(solo_configs[round_ % K], real)
        pops.append(pop)
        solos.append(solo)
        ratios.append(pop / (K * solo))
        line = (
            f"round {round_ + 1}: population {pop:.4f} s, solo {solo:.4f} s,"
            f" population / ({K} x solo) = {ratios[-1]:.3f}, / solo = {pop / solo:.2f}"
        )
        if args.device != "cpu":  # the solo run on PyTorch's step too (the GPU's kernels off)
            plain = solo_epoch(solo_configs[round_ % K], real, kernels=False)
            line += f"; solo on PyTorch's step {plain:.4f} s, / it = {pop / plain:.2f}"
        print(line, flush=True)
    print(
        f"medians: population {statistics.median(pops):.3f} s, solo {statistics.median(solos):.3f}"
        f" s; ratio of medians {statistics.median(pops) / (K * statistics.median(solos)):.3f},"
        f" median of pair ratios {statistics.median(ratios):.3f}"
        f" (population / solo epochs: {statistics.median(pops) / statistics.median(solos):.2f})"
    )
    if args.profile:
        profile(K, args.device, real)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
