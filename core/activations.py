"""The hidden layers' nonlinearities, each written three ways.

``reference`` is how the reference model (``ScratchMLP.__call__``, differentiated by autograd)
writes it: relu is the seed's ``torch.max(X, zeros)``. ``forward`` is the fused step's and
``evaluate``'s: the same values, without the seed's extra tensor. ``backward`` is the derivative
the fused step applies by hand; for all but relu it is the very kernel autograd runs for the
reference (``aten.*_backward``), so the two steps differ in rounding only where relu's trick is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LEAKY_SLOPE = 0.01  # torch's default negative slope
aten = torch.ops.aten


def seed_relu(X: torch.Tensor) -> torch.Tensor:
    a = torch.zeros_like(X)
    return torch.max(X, a)


def reference(name: str, Z: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return seed_relu(Z)
    if name == "sigmoid":
        return torch.sigmoid(Z)
    if name == "tanh":
        return torch.tanh(Z)
    if name == "leaky_relu":
        return F.leaky_relu(Z, LEAKY_SLOPE)
    if name == "gelu":
        return F.gelu(Z)
    raise ValueError(f"unknown activation {name!r}")


def forward(name: str, Z: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """``reference``'s values; ``inplace`` overwrites ``Z`` where the kernel allows."""
    if name == "relu":
        return Z.clamp_min_(0) if inplace else Z.clamp_min(0)
    if name == "sigmoid":
        return Z.sigmoid_() if inplace else torch.sigmoid(Z)
    if name == "tanh":
        return Z.tanh_() if inplace else torch.tanh(Z)
    if name == "leaky_relu":
        return F.leaky_relu(Z, LEAKY_SLOPE, inplace=inplace)
    if name == "gelu":
        return F.gelu(Z)
    raise ValueError(f"unknown activation {name!r}")


def backward(
    name: str, dH: torch.Tensor, Z: torch.Tensor, H: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """The gradient at ``Z`` from the gradient at ``H = forward(Z)``, times a factor it
    returns, which the caller folds into its update (a power of two: exact).

    relu writes it into ``dH`` and ``Z`` (both are spent): the seed's ``torch.max(X, 0)``
    passes the full gradient where Z > 0 and half of it where Z == 0 (PyTorch splits ties), so
    ``dH + dH * sign(Z)`` is exactly twice it, in two passes instead of four."""
    if name == "relu":
        return dH.addcmul_(dH, Z.sign_()), 2.0
    if name == "sigmoid":
        return aten.sigmoid_backward(dH, H), 1.0
    if name == "tanh":
        return aten.tanh_backward(dH, H), 1.0
    if name == "leaky_relu":
        return aten.leaky_relu_backward(dH, Z, LEAKY_SLOPE, False), 1.0
    if name == "gelu":
        return aten.gelu_backward(dH, Z, approximate="none"), 1.0
    raise ValueError(f"unknown activation {name!r}")
