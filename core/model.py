"""The seed's scratch MLP, 784-256-10, and its training step.

Two steps compute the same update. ``autograd_step`` is the seed verbatim: ``net(X)``,
``CrossEntropyLoss(reduction='none')``, ``l.mean().backward()``, ``SGD.step()``. ``fused_step``
writes the backward pass by hand into preallocated gradient buffers, skipping autograd's graph
building and allocations; it is the default because it is faster, and a test holds it to the
autograd step up to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn

from .data import NUM_CLASSES, NUM_INPUTS


def relu(X: torch.Tensor) -> torch.Tensor:
    a = torch.zeros_like(X)
    return torch.max(X, a)


class ScratchMLP:
    """``W1``, ``b1``, ``W2``, ``b2`` exactly as the seed makes them, drawn from ``generator``."""

    def __init__(
        self,
        hidden: int = 256,
        init_scale: float = 0.01,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        # Drawn on the CPU in the seed's order so every device starts from the same numbers.
        W1 = torch.randn(NUM_INPUTS, hidden, generator=generator) * init_scale
        W2 = torch.randn(hidden, NUM_CLASSES, generator=generator) * init_scale
        b1, b2 = torch.zeros(hidden), torch.zeros(NUM_CLASSES)
        # All four live in one buffer (each at a 64-byte boundary), so whole-model operations
        # such as the GPU path's select-or-keep are one kernel instead of one per tensor.
        offsets, end = [], 0
        for t in (W1, b1, W2, b2):
            offsets.append(end)
            end += -(-t.numel() // 16) * 16
        self.flat = torch.zeros(end, device=device)
        views = [
            self.flat[at : at + t.numel()].view(t.shape) for at, t in zip(offsets, (W1, b1, W2, b2))
        ]
        for view, t in zip(views, (W1, b1, W2, b2)):
            view.copy_(t)
        self.W1, self.b1, self.W2, self.b2 = (nn.Parameter(v) for v in views)

    NAMES = ("W1", "b1", "W2", "b2")

    @property
    def params(self) -> list[nn.Parameter]:
        return [self.W1, self.b1, self.W2, self.b2]

    @property
    def hidden(self) -> int:
        return self.W1.shape[1]

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        X = X.reshape(-1, NUM_INPUTS)
        H = relu(X @ self.W1 + self.b1)
        return H @ self.W2 + self.b2


loss = nn.CrossEntropyLoss(reduction="none")


def plain_sgd(optimizer: torch.optim.Optimizer) -> bool:
    """The seed's SGD: no momentum, no weight decay, minimising."""
    group = optimizer.param_groups[0]
    return group["momentum"] == 0 and group["weight_decay"] == 0 and not group["maximize"]


class AutogradStep:
    """The seed's step verbatim: ``l = loss(net(X), y)``; ``zero_grad``; ``l.mean().backward()``.

    Split in two so the trainer can look at the loss and refuse a diverged batch before the
    update touches the parameters.
    """

    def __init__(self, net: ScratchMLP) -> None:
        self.net = net

    def forward(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y_hat = self.net(X)
        self.l = loss(y_hat, y)
        return self.l.detach(), y_hat.detach()

    def update(self, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad()
        self.l.mean().backward()
        optimizer.step()
        del self.l


class FusedStep:
    """The same forward and backward with the gradients written by hand, in place.

    With plain SGD (the seed's: no momentum, no weight decay) the update is folded into the
    backward products; otherwise the gradients go to ``.grad`` and ``optimizer.step()`` runs.

    d(mean CE)/d logits = (softmax - onehot) / B; through ``W2``; through the seed's relu, whose
    ``torch.max(X, 0)`` backward passes the full gradient where X > 0 and half of it where
    X == 0 (PyTorch splits ties); through ``W1``. ``X`` needs no gradient.
    """

    def __init__(self, net: ScratchMLP) -> None:
        self.net = net
        for p in net.params:
            p.grad = torch.zeros_like(p)  # written in place when the optimizer needs them
        self.half = torch.tensor(0.5, device=net.W1.device)  # relu's slope at 0, see update
        self._minus_ones: torch.Tensor | None = None

    def forward(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        net = self.net
        with torch.no_grad():
            self.X, self.y = X, y
            self.Z = torch.addmm(net.b1, X, net.W1)
            self.H = self.Z.clamp_min(0)
            logits = torch.addmm(net.b2, self.H, net.W2)
            self.log_probs = torch.log_softmax(logits, dim=1)
            losses = -self.log_probs.gather(1, y.unsqueeze(1)).squeeze(1)
        return losses, logits

    def update(self, optimizer: torch.optim.Optimizer) -> None:
        net, X, y = self.net, self.X, self.y
        plain = plain_sgd(optimizer)
        lr = optimizer.param_groups[0]["lr"]
        with torch.no_grad():
            G = self.log_probs.exp_()
            if self._minus_ones is None or len(self._minus_ones) != len(y):
                self._minus_ones = torch.full((len(y), 1), -1.0, device=y.device)
            G.scatter_add_(1, y.unsqueeze(1), self._minus_ones)  # softmax - onehot
            G.div_(len(y))
            dH = G @ net.W2.t()
            # relu's slope: 1 where Z > 0, 0.5 where Z == 0, else 0. One kernel on a GPU (where
            # kernel count is the cost); three in-place passes on the CPU, where heaviside
            # measured 8% slower per epoch. The same values either way.
            if self.Z.is_cuda:
                dH.mul_(torch.heaviside(self.Z, self.half))
            else:
                dH.mul_(self.Z.sign_().add_(1).mul_(0.5))
            if plain:
                # p -= lr * grad, with the product and the update in one GEMM: no gradient
                # tensor is written and read back. Same math as SGD.step() up to rounding.
                net.W2.addmm_(self.H.t(), G, alpha=-lr)
                net.b2.add_(G.sum(dim=0), alpha=-lr)
                net.W1.addmm_(X.t(), dH, alpha=-lr)
                net.b1.add_(dH.sum(dim=0), alpha=-lr)
            else:
                torch.mm(self.H.t(), G, out=net.W2.grad)
                torch.sum(G, dim=0, out=net.b2.grad)
                torch.mm(X.t(), dH, out=net.W1.grad)
                torch.sum(dH, dim=0, out=net.b1.grad)
        if not plain:
            optimizer.step()
        del self.X, self.y, self.Z, self.H, self.log_probs
