"""The lr range test (Smith, 2015; fastai's ``lr_find``): train a copy of the network from its
current weights with an lr that grows exponentially every batch, until the loss blows up, and
read a good lr off the curve of loss against lr.

It works on copies (the weights, SGD's momentum, its own shuffled order of the training set):
the run it starts from is read, never written, so it continues as if the test had not been.

The suggestion is the lr where the smoothed loss falls fastest against log lr (the steepest
descent, fastai's ``steep``), or, with ``rule="minimum"``, the lr of the smoothed loss's minimum
divided by 10 (the older rule of thumb: the minimum itself is already at the edge).

From trained weights the loss hardly moves at the small lrs, and the batches' noise makes a
"steepest descent" there (2e-5 after 10 epochs of the seed's run, a step that learns nothing):
a steepest descent more than ``NOISE_SPAN`` times below the minimum's lr is taken for noise, and
the suggestion falls back to the minimum's rule, saying so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .model import AutogradStep, FusedStep, ScratchMLP

RULES = {
    "steepest": "steepest descent of the smoothed loss",
    "minimum": "the smoothed loss's minimum lr / 10",
}
START_LR, END_LR, BATCHES = 1e-5, 10.0, 200
SMOOTHING = 0.98  # the debiased moving average's weight of the past, as fastai's
BLOWUP = 4.0  # stop when the smoothed loss passes this many times its lowest
SKIP_START = 10  # batches too early for the average to mean much
NOISE_SPAN = 100  # a steepest descent this far below the minimum's lr is the batches' noise


@dataclass(frozen=True)
class RangeTest:
    lrs: tuple[float, ...]  # each batch's lr, rising
    losses: tuple[float, ...]  # each batch's mean loss (finite ones: a nan ends the test)
    smoothed: tuple[float, ...]
    suggested_lr: float | None  # None when the curve never fell
    rule: str  # which rule made the suggestion, in words
    steepest_lr: float | None
    minimum_lr: float | None  # the minimum's lr / 10
    ended: str  # why the test stopped, in words


def _copy(trainer) -> tuple[ScratchMLP, AutogradStep | FusedStep, torch.optim.SGD]:
    """The trainer's network, step and optimizer state, copied: any layers, any engine."""
    config = trainer.config
    source: ScratchMLP = trainer.net
    net = ScratchMLP.from_config(config, source.flat.device, w2_by_class=source.w2_by_class)
    optimizer = torch.optim.SGD(
        net.params, lr=START_LR, momentum=config.momentum, weight_decay=config.weight_decay
    )
    with torch.no_grad():
        net.flat.copy_(source.flat)  # the same layout: every parameter at once
        for mine, theirs in zip(net.params, source.params):
            buf = trainer.optimizer.state.get(theirs, {}).get("momentum_buffer")
            if buf is not None:
                optimizer.state[mine]["momentum_buffer"] = buf.detach().clone()
    step = (FusedStep if config.engine == "fused" else AutogradStep)(net)
    return net, step, optimizer


def suggestions(lrs: list[float], smoothed: list[float]) -> tuple[float | None, float | None]:
    """(the steepest descent's lr, the minimum's lr / 10) of a smoothed curve; None where the
    curve gives no answer (too short, or never falling)."""
    if len(smoothed) < SKIP_START + 3:
        return None, None
    lowest = min(range(SKIP_START, len(smoothed)), key=smoothed.__getitem__)
    minimum = lrs[lowest] / 10 if smoothed[lowest] < smoothed[SKIP_START] else None
    logs = [math.log(lr) for lr in lrs]
    slopes = [
        (smoothed[i + 1] - smoothed[i - 1]) / (logs[i + 1] - logs[i - 1])
        for i in range(SKIP_START, lowest)
    ]
    if not slopes or min(slopes) >= 0:
        return None, minimum
    steepest = SKIP_START + min(range(len(slopes)), key=slopes.__getitem__)
    if lrs[steepest] * NOISE_SPAN < lrs[lowest]:  # before the loss began to fall: noise
        return None, minimum
    return lrs[steepest], minimum


def range_test(
    trainer,
    *,
    start_lr: float = START_LR,
    end_lr: float = END_LR,
    batches: int = BATCHES,
    rule: str = "steepest",
    cancelled: Callable[[], bool] = lambda: False,
) -> RangeTest:
    """Run the test from ``trainer``'s current weights (call it between batches: paused, or
    before ``run``); the trainer is only read."""
    if not 0 < start_lr < end_lr:
        raise ValueError(f"the lrs must rise: from {start_lr:g} to {end_lr:g}")
    if batches < SKIP_START + 3:
        raise ValueError(f"{batches} batches: at least {SKIP_START + 3}")
    if rule not in RULES:
        raise ValueError(f"rule {rule!r}: one of {', '.join(RULES)}")
    net, step, optimizer = _copy(trainer)
    data, size = trainer.data, trainer.config.batch_size
    order = torch.Generator().manual_seed(trainer.config.seed)
    perm = torch.randperm(len(data.train_y), generator=order).to(data.train_y.device)
    growth = (end_lr / start_lr) ** (1 / (batches - 1))
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average, weight, best = 0.0, 0.0, math.inf
    ended = f"reached lr {end_lr:g}"
    at = 0
    for i in range(batches):
        if cancelled():
            ended = "cancelled"
            break
        if at + size > len(perm):  # the set is used up: a new order
            perm, at = torch.randperm(len(perm), generator=order).to(perm.device), 0
        X, y = data.train_batch(perm[at : at + size])
        at += size
        lr = start_lr * growth**i
        net.seed_dropout(i)
        batch_losses, _ = step.forward(X, y)
        loss = float(batch_losses.mean())
        if not math.isfinite(loss):
            ended = f"the loss was not a number at lr {lr:.3g}"
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        weight = SMOOTHING * weight + (1 - SMOOTHING)
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(average / weight)
        best = min(best, smoothed[-1])
        if i > SKIP_START and smoothed[-1] > BLOWUP * best:
            ended = f"the loss blew up at lr {lr:.3g}"
            break
        for group in optimizer.param_groups:
            group["lr"] = lr
        step.update(optimizer)
    steepest, minimum = suggestions(lrs, smoothed)
    suggested, said = (steepest, RULES[rule]) if rule == "steepest" else (minimum, RULES[rule])
    if suggested is None and minimum is not None:  # trained weights: no clear steep part
        suggested, said = minimum, f"{RULES['minimum']} (no clear steepest descent before it)"
    return RangeTest(
        tuple(lrs), tuple(losses), tuple(smoothed), suggested, said, steepest, minimum, ended
    )
