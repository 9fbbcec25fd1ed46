"""Undoing the last update on the eager path, when the loss of the batch after it diverged.

A too-large lr wrecks the parameters one batch before the loss shows it, so the state before
each update is kept within reach. Copying every parameter before every update cost 2-2.5% of a
bare loop's CPU epoch; instead the log copies them every ``span`` batches (the anchor), each
batch since notes its settings, and ``restore`` puts the anchor back and replays the batches in
between on the same rows with the same settings and kernels: the same parameters, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .model import ScratchMLP

UNDO_SPAN = 32  # a restore replays at most this many batches

# Trains batch ``number`` of the epoch with the optimizer's settings as they are, unchecked.
Train = Callable[[int, torch.optim.Optimizer], None]
SETTINGS = ("lr", "momentum", "weight_decay")


class UndoLog:
    def __init__(self, net: ScratchMLP, train: Train, span: int = UNDO_SPAN) -> None:
        self.net, self.train, self.span = net, train, span
        self._anchor: torch.Tensor | None = None  # the parameters (net.flat) at _anchor_at
        self._anchor_momentum: list[torch.Tensor | None] = []
        self._anchor_at: int | None = None  # the batch of this epoch before whose update
        self._since_anchor: list[tuple[float, float, float]] = []  # each batch's settings

    def start_epoch(self) -> None:
        self._anchor_at = None  # an anchor serves its own epoch only

    def note(self, batch: int, optimizer: torch.optim.Optimizer) -> None:
        """Call before batch ``batch``'s update."""
        at = self._anchor_at
        if at is None or batch - at >= self.span:
            if self._anchor is None:
                self._anchor = self.net.flat.clone()
            else:
                self._anchor.copy_(self.net.flat)  # every parameter: one copy
            buffers = [optimizer.state.get(p, {}).get("momentum_buffer") for p in self.net.params]
            self._anchor_momentum = [None if buf is None else buf.clone() for buf in buffers]
            self._anchor_at = batch
            self._since_anchor = []
        group = optimizer.param_groups[0]
        self._since_anchor.append(tuple(group[name] for name in SETTINGS))

    def restore(self, target: int, optimizer: torch.optim.Optimizer) -> None:
        """The parameters (and momentum) as they were before batch ``target``'s update."""
        first = self._anchor_at
        assert self._anchor is not None and first is not None, "no update was noted"
        with torch.no_grad():
            self.net.flat.copy_(self._anchor)
        for p, buf in zip(self.net.params, self._anchor_momentum):
            if buf is None:
                optimizer.state.get(p, {}).pop("momentum_buffer", None)
            else:  # a copy: the replay updates it in place, the anchor may serve again
                optimizer.state[p]["momentum_buffer"] = buf.clone()
        group = optimizer.param_groups[0]
        current = {name: group[name] for name in SETTINGS}
        try:
            settings = self._since_anchor[: target - first]  # one per batch: strict below
            for number, values in zip(range(first, target), settings, strict=True):
                group.update(zip(SETTINGS, values))
                self.train(number, optimizer)
        finally:
            group.update(current)
        del self._since_anchor[target - first :]
