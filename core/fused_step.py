"""The fused training step: the seed's forward and backward with the gradients written by hand.

Kept beside the model (``model.py``) and held to its autograd step (``AutogradStep``, the
reference) by the tests, for every activation, depth, init and dropout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import nn

from . import activations


class Network(Protocol):
    """What the step reads of ``model.ScratchMLP`` (named here: the model imports this)."""

    @property
    def params(self) -> list[nn.Parameter]: ...
    @property
    def hidden_layers(self) -> list[tuple[nn.Parameter, nn.Parameter]]: ...
    @property
    def output(self) -> tuple[nn.Parameter, nn.Parameter]: ...
    @property
    def activation(self) -> str: ...
    @property
    def dropout(self) -> Sequence[float]: ...
    @property
    def w2_by_class(self) -> bool: ...

    def dropout_masks(self, rows: int) -> list[torch.Tensor | None]: ...


def plain_sgd(optimizer: torch.optim.Optimizer) -> bool:
    """The seed's SGD: no momentum, no weight decay, minimising."""
    group = optimizer.param_groups[0]
    return group["momentum"] == 0 and group["weight_decay"] == 0 and not group["maximize"]


class FusedStep:
    """The same forward and backward with the gradients written by hand, in place.

    With plain SGD (the seed's: no momentum, no weight decay) the update is folded into the
    backward products; otherwise the gradients go to ``.grad`` and ``optimizer.step()`` runs.

    d(mean CE)/d logits = (softmax - onehot) / B; then, layer by layer from the output, through
    the weights, the dropout mask and the activation (``activations.backward``). ``X`` needs no
    gradient. relu's backward gives twice the gradient (exactly); the factor is carried down
    the layers and taken out of each update's alpha, as powers of two, exactly.

    The step follows the output weights' storage. Stored by class (``w2_by_class=True``, the
    trainer's choice on the CPU), the logits and everything after them are kept transposed, a
    row per class: the softmax runs along rows of the batch's length instead of rows of 10
    (measured on the CPU: 4 us a batch instead of 25; the values came out identical) and MKL's
    products with ``W2`` are 2-4x faster. Stored as the seed's (hidden x 10, on CUDA), they
    stay a row per example: on an H100 the by-class layout made an epoch 37 ms instead of 29.
    """

    def __init__(self, net: Network) -> None:
        self.net = net
        for p in net.params:
            p.grad = torch.zeros_like(p)  # written in place when the optimizer needs them
        # -1s by shape, each kept for good: a CUDA graph reads the one it was captured with, and
        # a short last batch's shape must not free it (the graph would read reused memory).
        self._minus_ones: dict[torch.Size, torch.Tensor] = {}
        self.class_dim = 0 if net.w2_by_class else 1  # the logits' class dimension

    def forward(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's losses and predicted classes."""
        net = self.net
        with torch.no_grad():
            self.y = y
            # Each layer's input, pre-activation and activation, kept for the backward pass.
            self.kept: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
            self.masks = net.dropout_masks(X.shape[0])
            A = X
            for i, (W, b) in enumerate(net.hidden_layers):
                Z = torch.addmm(b, A, W)
                H = activations.forward(net.activation, Z)
                self.kept.append((A, Z, H))
                mask = self.masks[i] if self.masks else None
                A = H if mask is None else H * mask.div_(1.0 - net.dropout[i])
            self.A = A
            W, b = net.output
            dim = self.class_dim
            if dim == 0:
                logits = torch.addmm(b.unsqueeze(1), W.t(), A.t())
            else:
                logits = torch.addmm(b, A, W)
            self.log_probs = torch.log_softmax(logits, dim=dim)
            losses = -self.log_probs.gather(dim, y.unsqueeze(dim)).squeeze(dim)
            # argmax's rule (the first of equal maxima); argmax(dim=0) measured 6x slower.
            predicted = logits.max(dim=dim).indices
        return losses, predicted

    def update(self, optimizer: torch.optim.Optimizer) -> None:
        net = self.net
        plain = plain_sgd(optimizer)
        lr = optimizer.param_groups[0]["lr"]
        with torch.no_grad():
            dim = self.class_dim
            G = self._output_gradient()
            W, b = net.output
            dA = torch.mm(G.t() if dim == 0 else G, W.t())  # before W changes
            # W = A^T @ G, written in W's own storage order: as (G^T @ A)^T when by class.
            W_out, W_a, W_b = (W.t(), G, self.A) if dim == 0 else (W, self.A.t(), G)
            if plain:
                # p -= lr * grad, with the product and the update in one GEMM: no gradient
                # tensor is written and read back. Same math as SGD.step() up to rounding.
                W_out.addmm_(W_a, W_b, alpha=-lr)
                b.add_(G.sum(dim=1 - dim), alpha=-lr)
            else:
                assert W.grad is not None and b.grad is not None  # made by __init__
                torch.mm(W_a, W_b, out=W.grad.t() if dim == 0 else W.grad)
                torch.sum(G, dim=1 - dim, out=b.grad)
            scale = 1.0  # the factor the gradient carries (powers of two from relu)
            for i in range(len(self.kept) - 1, -1, -1):
                A, Z, H = self.kept[i]
                W, b = net.hidden_layers[i]
                mask = self.masks[i] if self.masks else None
                if mask is not None:
                    dA.mul_(mask)
                dZ, factor = activations.backward(net.activation, dA, Z, H)
                if plain:
                    scale *= factor
                elif factor != 1.0:
                    dZ.mul_(1.0 / factor)
                if i:
                    dA = torch.mm(dZ, W.t())  # before W changes
                if plain:
                    W.addmm_(A.t(), dZ, alpha=-lr / scale)
                    b.add_(dZ.sum(dim=0), alpha=-lr / scale)
                else:
                    assert W.grad is not None and b.grad is not None
                    torch.mm(A.t(), dZ, out=W.grad)
                    torch.sum(dZ, dim=0, out=b.grad)
        if not plain:
            optimizer.step()
        del self.y, self.kept, self.masks, self.A, self.log_probs

    def _output_gradient(self) -> torch.Tensor:
        """The mean loss's gradient at the logits, softmax - onehot over the batch, in the
        log-probabilities' storage (by class when ``class_dim`` is 0)."""
        dim, y = self.class_dim, self.y
        G = self.log_probs.exp_()
        index = y.unsqueeze(dim)
        minus_ones = self._minus_ones.get(index.shape)
        if minus_ones is None:
            minus_ones = torch.full(index.shape, -1.0, device=y.device)
            self._minus_ones[index.shape] = minus_ones
        G.scatter_add_(dim, index, minus_ones)  # softmax - onehot
        return G.div_(y.shape[0])
