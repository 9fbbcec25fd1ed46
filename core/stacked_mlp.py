"""K scratch MLPs of one shape as one: parameters stacked (K, ...), one batched step for all.

The fused step's arithmetic (``fused_step.py``) with a leading member dimension: every product
is a ``baddbmm`` / ``bmm`` over the K members, every elementwise operation one call for all of
them. Each member keeps its own learning rate, momentum and weight decay as (K, 1, 1) tensors,
and its own divergence check, on the device: nothing is read back per batch.

Members may be narrower than the stack (``widths``): a member's weights fill the top-left
corner of each stacked matrix, the rest is zeros. For an activation with ``f(0) == 0`` (all
but sigmoid) the zeros stay zeros under SGD, momentum and weight decay (their inputs, outputs
and gradients are all zero), so the padded member trains as it would alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from . import activations
from .config import TrainConfig
from .data import NUM_CLASSES, to_unit
from .model import ScratchMLP

PADS_EXACTLY = ("relu", "tanh", "leaky_relu", "gelu")  # f(0) == 0: zero padding stays zero


def _column(values: Sequence[float], device: torch.device) -> torch.Tensor:
    """One number per member as a (K, 1, 1) tensor, to scale (K, rows, cols) stacks."""
    return torch.tensor(values, dtype=torch.float32, device=device).view(-1, 1, 1)


class StackedMLP:
    """The members' networks, stacked; ``configs`` share batch size, depth and activation."""

    def __init__(
        self,
        configs: Sequence[TrainConfig],
        widths: Sequence[int],
        device: torch.device,
    ) -> None:
        K = self.size = len(configs)
        self.device = device
        self.activation = configs[0].activation
        self.widths = tuple(widths)
        sizes = (784, *self.widths)
        # Hidden layers (K, fan_in, fan_out); the output layer by class, (K, 10, width), so
        # that the logits come out a row per class as the fused step keeps them on the CPU.
        self.hidden = [
            (torch.zeros(K, i, o, device=device), torch.zeros(K, 1, o, device=device))
            for i, o in zip(sizes, sizes[1:])
        ]
        self.out_w = torch.zeros(K, NUM_CLASSES, sizes[-1], device=device)
        self.out_b = torch.zeros(K, NUM_CLASSES, 1, device=device)
        for k, config in enumerate(configs):
            self.load(k, ScratchMLP.from_config(config).params)  # the solo run's very draws
        self.lr = _column([c.lr for c in configs], device)
        self.momentum = _column([c.momentum for c in configs], device)
        self.weight_decay = _column([c.weight_decay for c in configs], device)
        self.factor = torch.tensor([c.divergence_factor for c in configs], device=device)
        # Plain SGD everywhere: the update folds into the backward products, with each member's
        # lr / n carried by its output gradient (every later gradient is linear in it).
        self.plain = all(c.momentum == 0 and c.weight_decay == 0 for c in configs)
        self.grads = [torch.zeros_like(p) for p in self.tensors] if not self.plain else []
        self.buffers = [torch.zeros_like(p) for p in self.tensors] if not self.plain else []
        # -1s by shape, each kept for good: a CUDA graph reads the one it was captured with, and
        # a short last batch's shape must not free it (the graph would read reused memory).
        self._minus_ones: dict[torch.Size, torch.Tensor] = {}

    @property
    def tensors(self) -> list[torch.Tensor]:
        """Every stacked parameter, in ``ScratchMLP.params``'s order."""
        out = [t for layer in self.hidden for t in layer]
        return [*out, self.out_w, self.out_b]

    def load(self, k: int, params: Sequence[torch.Tensor]) -> None:
        """Member ``k``'s parameters (``ScratchMLP.params``), into its corner of the stack."""
        with torch.no_grad():
            for (W, b), w, c in zip(self.hidden, params[:-2:2], params[1:-2:2]):
                W[k, : w.shape[0], : w.shape[1]].copy_(w)
                b[k, 0, : c.shape[0]].copy_(c)
            w, c = params[-2], params[-1]
            self.out_w[k, :, : w.shape[0]].copy_(w.t())
            self.out_b[k, :, 0].copy_(c)

    def member_params(self, k: int, layers: Sequence[int]) -> list[torch.Tensor]:
        """Member ``k``'s parameters as ``ScratchMLP.params`` holds them (unpadded, on the CPU)."""
        sizes = (784, *layers)
        out = []
        for (W, b), i, o in zip(self.hidden, sizes, sizes[1:]):
            out += [W[k, :i, :o].cpu().clone(), b[k, 0, :o].cpu().clone()]
        out += [self.out_w[k, :, : sizes[-1]].t().cpu().contiguous(), self.out_b[k, :, 0].cpu()]
        return out

    def keep(self, rows: torch.Tensor) -> None:
        """Only the members ``rows`` (indices) from here on: the finished leave the stack."""
        self.size = len(rows)
        self.hidden = [(W[rows], b[rows]) for W, b in self.hidden]
        self.out_w, self.out_b = self.out_w[rows], self.out_b[rows]
        self.lr, self.momentum = self.lr[rows], self.momentum[rows]
        self.weight_decay, self.factor = self.weight_decay[rows], self.factor[rows]
        self.grads = [g[rows] for g in self.grads]
        self.buffers = [b[rows] for b in self.buffers]

    # ------------------------------------------------------------------ training
    def forward(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's losses and predicted classes, (K, rows) each. ``X`` is (rows, 784),
        the rows every member sees, or (K, rows, 784); ``y`` (rows,) or (K, rows)."""
        K, rows = self.size, y.shape[-1]
        A = X if X.dim() == 3 else X.expand(K, *X.shape)
        self.kept: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for W, b in self.hidden:
            Z = torch.baddbmm(b, A, W)
            H = activations.forward(self.activation, Z)
            self.kept.append((A, Z, H))
            A = H
        self.A = A
        logits = torch.baddbmm(self.out_b, self.out_w, A.transpose(1, 2))  # (K, 10, rows)
        self.log_probs = torch.log_softmax(logits, dim=1)
        self.index = y.view(-1, 1, rows).expand(K, 1, rows)
        losses = -self.log_probs.gather(1, self.index).squeeze(1)
        return losses, logits.max(dim=1).indices

    def update(self, accepted: torch.Tensor) -> None:
        """The update of the batch last given to ``forward``, for the members ``accepted``
        (a (K,) bool tensor); the others keep their parameters."""
        rows = self.index.shape[-1]
        G = self.log_probs.exp_()
        minus_ones = self._minus_ones.get(self.index.shape)
        if minus_ones is None:
            minus_ones = torch.full(self.index.shape, -1.0, device=self.device)
            self._minus_ones[self.index.shape] = minus_ones
        G.scatter_add_(1, self.index, minus_ones)  # softmax - onehot
        G.mul_(self.lr / rows if self.plain else 1.0 / rows)
        G.masked_fill_(~accepted.view(-1, 1, 1), 0.0)  # a refused member's update is nothing
        dA = torch.bmm(G.transpose(1, 2), self.out_w)  # before out_w changes
        self._descend(-2, G, self.A, G.sum(dim=2, keepdim=True), 1.0)
        scale = 1.0  # the factor the gradient carries (powers of two from relu)
        for i in range(len(self.kept) - 1, -1, -1):
            A, Z, H = self.kept[i]
            dZ, factor = activations.backward(self.activation, dA, Z, H)
            scale *= factor
            if i:
                dA = torch.bmm(dZ, self.hidden[i][0].transpose(1, 2))  # before W changes
            self._descend(2 * i, A.transpose(1, 2), dZ, dZ.sum(dim=1, keepdim=True), scale)
        if not self.plain:
            self._sgd(accepted)
        del self.kept, self.A, self.log_probs, self.index

    def _descend(self, at: int, left, right, bias_total, scale: float) -> None:
        """The weights ``tensors[at]`` and the bias after them. Plain SGD, the lr already in
        the gradient: ``W -= left @ right / scale`` in one product, as the fused step folds
        it; otherwise the gradients, for ``_sgd``."""
        W, b = self.tensors[at], self.tensors[at + 1]
        if self.plain:
            W.baddbmm_(left, right, alpha=-1.0 / scale)
            b.add_(bias_total, alpha=-1.0 / scale)
        else:
            self.grads[at].baddbmm_(left, right, beta=0.0, alpha=1.0 / scale)
            torch.mul(bias_total, 1.0 / scale, out=self.grads[at + 1])

    def _sgd(self, accepted: torch.Tensor) -> None:
        """torch.optim.SGD's step (weight decay, then momentum, then ``p -= lr * buf``),
        member by member through the (K, 1, 1) settings; a refused member moves by 0."""
        step = -self.lr * accepted.view(-1, 1, 1)
        for p, g, buf in zip(self.tensors, self.grads, self.buffers):
            g.addcmul_(p, self.weight_decay)
            buf.mul_(self.momentum).add_(g)
            p.addcmul_(buf, step)

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def logits(self, X: torch.Tensor, chunk: int = 256):
        """Every member's logits of uint8 rows ``X``, (K, 10, rows) chunk by chunk."""
        for at in range(0, len(X), chunk):
            A = to_unit(X[at : at + chunk])
            A = A.expand(self.size, *A.shape)
            for W, b in self.hidden:
                A = activations.forward(self.activation, torch.baddbmm(b, A, W), inplace=True)
            yield torch.baddbmm(self.out_b, self.out_w, A.transpose(1, 2))

    def test(self, X: torch.Tensor) -> torch.Tensor:
        """(K, rows, 10): each member's probabilities, as ``model.evaluate`` gives them."""
        chunks = [torch.softmax(z, dim=1).transpose(1, 2) for z in self.logits(X)]
        return torch.cat(chunks, dim=1).float().cpu()

    def score(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's accuracy and mean cross-entropy on ``X``, as ``model.score``."""
        correct = torch.zeros(self.size, dtype=torch.float64, device=self.device)
        total = torch.zeros_like(correct)
        at = 0
        for z in self.logits(X):
            rows = y[at : at + z.shape[-1]].expand(self.size, -1)
            at += z.shape[-1]
            correct += (z.argmax(dim=1) == rows).sum(dim=1)
            total += F.cross_entropy(z, rows, reduction="none").double().sum(dim=1)
        return (correct / len(y)).cpu(), (total / len(y)).cpu()
