"""The seed's scratch MLP, 784-256-10, its training step and its evaluation.

Two steps compute the same update. ``AutogradStep`` is the seed verbatim: ``net(X)``,
``CrossEntropyLoss(reduction='none')``, ``l.mean().backward()``, ``SGD.step()``. ``FusedStep``
writes the backward pass by hand into preallocated gradient buffers, skipping autograd's graph
building and allocations; it is the default because it is faster, and a test holds it to the
autograd step up to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn

from .data import NUM_CLASSES, NUM_INPUTS, to_unit
from .events import Predictions


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
        w2_by_class: bool = False,
    ) -> None:
        """``w2_by_class`` stores ``W2`` (hidden x 10) class by class, i.e. its transpose is
        contiguous: the same values, but the fused step's two small products with it ran 2-4x
        faster on the CPU (MKL is slow at 256x256 @ 256x10 with ``W2`` row by row)."""
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
        if w2_by_class:
            at = offsets[2]
            views[2] = self.flat[at : at + W2.numel()].view(NUM_CLASSES, hidden).t()
        for view, t in zip(views, (W1, b1, W2, b2)):
            view.copy_(t)
        self.W1, self.b1, self.W2, self.b2 = (nn.Parameter(v) for v in views)
        self.w2_by_class = w2_by_class

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
        """The batch's losses and predicted classes (``y_hat.argmax(axis=1)``, as d2l)."""
        y_hat = self.net(X)
        self.l = loss(y_hat, y)
        return self.l.detach(), y_hat.detach().argmax(dim=1)

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

    The step follows ``W2``'s storage. Stored by class (``ScratchMLP(w2_by_class=True)``, the
    trainer's choice on the CPU), the logits and everything after them are kept transposed, a
    row per class: the softmax runs along rows of the batch's length instead of rows of 10
    (measured on the CPU: 4 us a batch instead of 25; the values came out identical) and MKL's
    products with ``W2`` are 2-4x faster. Stored as the seed's (hidden x 10, on CUDA), they
    stay a row per example: on an H100 the by-class layout made an epoch 37 ms instead of 29.
    """

    def __init__(self, net: ScratchMLP) -> None:
        self.net = net
        for p in net.params:
            p.grad = torch.zeros_like(p)  # written in place when the optimizer needs them
        self._minus_ones: torch.Tensor | None = None
        self.class_dim = 0 if net.w2_by_class else 1  # the logits' class dimension

    def forward(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's losses and predicted classes."""
        net = self.net
        with torch.no_grad():
            self.X, self.y = X, y
            self.Z = torch.addmm(net.b1, X, net.W1)
            self.H = self.Z.clamp_min(0)
            dim = self.class_dim
            if dim == 0:
                logits = torch.addmm(net.b2.unsqueeze(1), net.W2.t(), self.H.t())
            else:
                logits = torch.addmm(net.b2, self.H, net.W2)
            self.log_probs = torch.log_softmax(logits, dim=dim)
            losses = -self.log_probs.gather(dim, y.unsqueeze(dim)).squeeze(dim)
            # argmax's rule (the first of equal maxima); argmax(dim=0) measured 6x slower.
            predicted = logits.max(dim=dim).indices
        return losses, predicted

    def update(self, optimizer: torch.optim.Optimizer) -> None:
        net, X, y = self.net, self.X, self.y
        n = y.shape[0]
        plain = plain_sgd(optimizer)
        lr = optimizer.param_groups[0]["lr"]
        with torch.no_grad():
            dim = self.class_dim
            G = self.log_probs.exp_()  # by class when dim == 0
            index = y.unsqueeze(dim)
            if self._minus_ones is None or self._minus_ones.shape != index.shape:
                self._minus_ones = torch.full(index.shape, -1.0, device=y.device)
            G.scatter_add_(dim, index, self._minus_ones)  # softmax - onehot
            G.div_(n)
            G_rows = G.t() if dim == 0 else G
            dH = torch.mm(G_rows, net.W2.t())
            # relu's slope is 1 where Z > 0, 0.5 where Z == 0 and 0 elsewhere: dH + dH * sign(Z)
            # is exactly twice dH times it, in two passes instead of four; the 2 comes back out
            # in the update's alpha (a power of two, so exactly).
            dH.addcmul_(dH, self.Z.sign_())
            # W2 = H^T @ G, written in W2's own storage order: as (G^T @ H)^T when by class.
            W2_out, W2_a, W2_b = (net.W2.t(), G, self.H) if dim == 0 else (net.W2, self.H.t(), G)
            if plain:
                # p -= lr * grad, with the product and the update in one GEMM: no gradient
                # tensor is written and read back. Same math as SGD.step() up to rounding.
                W2_out.addmm_(W2_a, W2_b, alpha=-lr)
                net.b2.add_(G.sum(dim=1 - dim), alpha=-lr)
                net.W1.addmm_(X.t(), dH, alpha=-lr / 2)
                net.b1.add_(dH.sum(dim=0), alpha=-lr / 2)
            else:
                dH.mul_(0.5)
                assert net.W2.grad is not None  # made by __init__
                W2_grad = net.W2.grad.t() if dim == 0 else net.W2.grad
                torch.mm(W2_a, W2_b, out=W2_grad)
                torch.sum(G, dim=1 - dim, out=net.b2.grad)
                torch.mm(X.t(), dH, out=net.W1.grad)
                torch.sum(dH, dim=0, out=net.b1.grad)
        if not plain:
            optimizer.step()
        del self.X, self.y, self.Z, self.H, self.log_probs


@torch.no_grad()
def evaluate(
    net: ScratchMLP,
    X: torch.Tensor,
    y: torch.Tensor,
    seed_form: bool = False,
    chunk: int | None = None,
) -> Predictions:
    """d2l's ``evaluate_accuracy``, keeping the probabilities so a UI can show them.

    ``X`` holds images as floats, or as uint8 pixels converted chunk by chunk (``ToTensor``'s
    arithmetic): the test set is then a quarter of the memory to read. ``seed_form`` computes
    the logits as the seed writes them, ``net(X)``; otherwise as the fused step does
    (``addmm``, ``clamp_min``): the same values up to rounding, without the seed's extra passes.
    Chunks of a batch's size run at the products' best rate on the CPU; a GPU gets few large
    chunks, since there each chunk costs kernel launches."""
    chunk = chunk or (256 if X.device.type == "cpu" else 16384)
    probs = []
    for i in range(0, len(X), chunk):
        rows = X[i : i + chunk]
        if rows.dtype == torch.uint8:
            rows = to_unit(rows)
        if seed_form:
            logits = net(rows)
        else:
            H = torch.addmm(net.b1, rows, net.W1).clamp_min_(0)
            logits = torch.addmm(net.b2, H, net.W2)
        probs.append(torch.softmax(logits, dim=1))
    return Predictions(epoch=0, probs=torch.cat(probs).float().cpu(), labels=y.cpu())
