"""The training steps of ``--precision bf16``: every matrix product in bfloat16, the rest fp32.

The weights stay float32 (the master copy) and so do the biases, the activations, the softmax,
the loss and the update's arithmetic; each product's operands are rounded to bf16 (8 bits of
mantissa) on the way in, and the product, accumulated in fp32 by oneDNN's bf16 kernels, is
rounded to bf16 on the way out. That is the usual mixed-precision recipe, written out: torch's
own switch for fp32 products (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``) was
measured doing nothing of the kind on a CPU without AMX (oneDNN ran its fp32 kernel,
``brg_matmul:avx512_core`` with fp32 operands: the same values to 1e-6, see
docs/performance.md), so it would have been a mode named bf16 computing in fp32.

The casts are explicit in the step objects, so nothing process-wide changes: another thread, the
evaluation and the next run see fp32 whatever this step does. ``Bf16FusedStep`` is the fused step
(``fused_step.py``) with the casts, for every activation, depth, dropout and optimizer the fused
step takes; ``Bf16AutogradStep`` runs the seed's step under CPU autocast (also per thread).
"""

from __future__ import annotations

import torch

from . import activations
from .model import AutogradStep, FusedStep, loss, plain_sgd

BF16 = torch.bfloat16


class Bf16FusedStep(FusedStep):
    """``FusedStep``'s forward and backward with bf16 products (see the module's docstring).

    The bias is added in fp32 after the product (a bf16 bias would round it too). The weight
    gradient arrives in bf16 and is added to the fp32 weights (``add_`` promotes), one extra
    pass over each weight, still far cheaper than the fp32 product it replaces."""

    def forward(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        net = self.net
        with torch.no_grad():
            self.y = y
            self.kept: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
            self.weights16: list[torch.Tensor] = []  # each hidden W in bf16, for dA
            self.masks = net.dropout_masks(X.shape[0])
            A = X
            for i, (W, b) in enumerate(net.hidden_layers):
                A16, W16 = A.to(BF16), W.to(BF16)
                Z = torch.mm(A16, W16).float().add_(b)
                H = activations.forward(net.activation, Z)
                self.kept.append((A16, Z, H))
                self.weights16.append(W16)
                mask = self.masks[i] if self.masks else None
                A = H if mask is None else H * mask.div_(1.0 - net.dropout[i])
            self.A16 = A.to(BF16)
            W, b = net.output
            dim = self.class_dim
            if dim == 0:  # W by class: W.t() is contiguous, a row per class
                self.out16 = W.t().to(BF16)
                logits = torch.mm(self.out16, self.A16.t()).float().add_(b.unsqueeze(1))
            else:
                self.out16 = W.to(BF16)
                logits = torch.mm(self.A16, self.out16).float().add_(b)
            self.log_probs = torch.log_softmax(logits, dim=dim)
            losses = -self.log_probs.gather(dim, y.unsqueeze(dim)).squeeze(dim)
            predicted = logits.max(dim=dim).indices
        return losses, predicted

    def update(self, optimizer: torch.optim.Optimizer) -> None:
        net = self.net
        plain = plain_sgd(optimizer)
        lr = optimizer.param_groups[0]["lr"]
        with torch.no_grad():
            dim = self.class_dim
            G = self._output_gradient()
            G16 = G.to(BF16)
            W, b = net.output
            if dim == 0:  # G and out16 a row per class
                dA = torch.mm(G16.t(), self.out16).float()
                self._apply(W, b, torch.mm(G16, self.A16).t(), G.sum(dim=1), lr, plain)
            else:
                dA = torch.mm(G16, self.out16.t()).float()
                self._apply(W, b, torch.mm(self.A16.t(), G16), G.sum(dim=0), lr, plain)
            scale = 1.0
            for i in range(len(self.kept) - 1, -1, -1):
                A16, Z, H = self.kept[i]
                W, b = net.hidden_layers[i]
                mask = self.masks[i] if self.masks else None
                if mask is not None:
                    dA.mul_(mask)
                dZ, factor = activations.backward(net.activation, dA, Z, H)
                if plain:
                    scale *= factor
                elif factor != 1.0:
                    dZ.mul_(1.0 / factor)
                dZ16 = dZ.to(BF16)
                if i:
                    dA = torch.mm(dZ16, self.weights16[i].t()).float()
                self._apply(W, b, torch.mm(A16.t(), dZ16), dZ.sum(dim=0), lr / scale, plain)
        if not plain:
            optimizer.step()
        del self.y, self.kept, self.masks, self.A16, self.log_probs, self.weights16, self.out16

    @staticmethod
    def _apply(
        W: torch.Tensor, b: torch.Tensor, dW: torch.Tensor, db: torch.Tensor, lr: float, plain: bool
    ) -> None:
        """Plain SGD: ``W -= lr * dW`` now (``dW`` in ``W``'s own storage order, so the pass is
        sequential); otherwise the gradients, for ``optimizer.step()``."""
        if plain:
            W.add_(dW, alpha=-lr)
            b.add_(db, alpha=-lr)
        else:
            assert W.grad is not None and b.grad is not None  # made by FusedStep.__init__
            W.grad.copy_(dW)
            b.grad.copy_(db)


class Bf16AutogradStep(AutogradStep):
    """The seed's step with ``net(X)`` under CPU autocast to bf16 (thread-local, as autocast
    is): its products run in bf16, the loss on fp32 logits, the backward through the casts into
    the fp32 parameters' gradients."""

    def forward(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast("cpu", dtype=BF16):
            y_hat = self.net(X, self.net.dropout_masks(X.shape[0]))
        y_hat = y_hat.float()
        self.l = loss(y_hat, y)
        return self.l.detach(), y_hat.detach().argmax(dim=1)
