"""The seed's scratch MLP, 784-256-10, generalised to the exercises' stacks of hidden layers,
activations and initialisations; its training step and its evaluation.

Two steps compute the same update. ``AutogradStep`` is the seed verbatim: ``net(X)``,
``CrossEntropyLoss(reduction='none')``, ``l.mean().backward()``, ``SGD.step()``. ``FusedStep``
(``fused_step.py``) writes the backward pass by hand into preallocated gradient buffers, skipping
autograd's graph building and allocations; it is the default because it is faster, and tests
hold it to the autograd step up to float rounding, for every activation, depth and init.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from . import activations
from .activations import seed_relu as relu
from .config import TrainConfig
from .data import NUM_CLASSES, NUM_INPUTS, to_unit
from .events import Predictions
from .fused_step import FusedStep, plain_sgd

__all__ = ["AutogradStep", "FusedStep", "ScratchMLP", "evaluate", "plain_sgd", "relu", "score"]


def init_std(init: str, init_scale: float, fan_in: int, fan_out: int) -> float:
    """The std a layer's weights are drawn with (``randn * std``); 0 for zeros.

    normal is the seed's ``randn * init_scale``; xavier keeps the variance of activations and
    gradients alike across a layer (2 / (fan_in + fan_out)), kaiming that of relu's outputs
    (2 / fan_in), as d2l's section on initialisation derives them."""
    if init == "normal":
        return init_scale
    if init == "zeros":
        return 0.0
    if init == "xavier":
        return math.sqrt(2 / (fan_in + fan_out))
    if init == "kaiming":
        return math.sqrt(2 / fan_in)
    raise ValueError(f"unknown init {init!r}")


def parameter_names(depth: int) -> tuple[str, ...]:
    """``W1, b1, ..., W{depth+1}, b{depth+1}``: the seed's names for one hidden layer."""
    return tuple(f"{kind}{i}" for i in range(1, depth + 2) for kind in ("W", "b"))


class ScratchMLP:
    """The seed's ``W1``, ``b1``, ``W2``, ``b2`` exactly as it makes them, drawn from
    ``generator``; or any stack of hidden layers (``hidden`` a sequence of widths), activation
    and initialisation, with dropout on the hidden activations while training."""

    def __init__(
        self,
        hidden: int | Sequence[int] = 256,
        init_scale: float = 0.01,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        w2_by_class: bool = False,
        *,
        activation: str = "relu",
        init: str = "normal",
        dropout: float | Sequence[float] = 0.0,
        dropout_seed: int = 0,
    ) -> None:
        """``w2_by_class`` stores the output layer's weights (hidden x 10) class by class,
        i.e. their transpose is contiguous: the same values, but the fused step's two small
        products with them ran 2-4x faster on the CPU (MKL is slow at 256x256 @ 256x10 with
        ``W2`` row by row)."""
        widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        rates = (dropout,) * len(widths) if isinstance(dropout, (int, float)) else tuple(dropout)
        if len(rates) != len(widths):
            raise ValueError(f"{len(rates)} dropout rates for {len(widths)} hidden layers")
        sizes = (NUM_INPUTS, *widths, NUM_CLASSES)
        # Drawn on the CPU in the seed's order (W1, then W2, ...; biases are zeros) so every
        # device starts from the same numbers.
        tensors = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            std = init_std(init, init_scale, fan_in, fan_out)
            weight = (
                torch.randn(fan_in, fan_out, generator=generator) * std
                if std
                else torch.zeros(fan_in, fan_out)
            )
            tensors += [weight, torch.zeros(fan_out)]
        # All live in one buffer (each at a 64-byte boundary), so whole-model operations such
        # as the GPU path's select-or-keep are one kernel instead of one per tensor.
        offsets, end = [], 0
        for t in tensors:
            offsets.append(end)
            end += -(-t.numel() // 16) * 16
        self.flat = torch.zeros(end, device=device)
        views = [self.flat[at : at + t.numel()].view(t.shape) for at, t in zip(offsets, tensors)]
        if w2_by_class:
            at, last = offsets[-2], tensors[-2]
            views[-2] = self.flat[at : at + last.numel()].view(NUM_CLASSES, widths[-1]).t()
        for view, t in zip(views, tensors):
            view.copy_(t)
        self.params = [nn.Parameter(v) for v in views]
        self.NAMES = parameter_names(len(widths))
        self._by_name = dict(zip(self.NAMES, self.params))
        self.hidden_layers = list(zip(self.params[:-2:2], self.params[1:-2:2]))
        self.output = (self.params[-2], self.params[-1])
        self.layers, self.activation, self.init = widths, activation, init
        self.w2_by_class = w2_by_class
        self.dropout = rates
        self._dropout_seed = dropout_seed
        self.dropout_rng = (
            torch.Generator(device=self.flat.device).manual_seed(dropout_seed)
            if any(rates)
            else None
        )

    @classmethod
    def from_config(
        cls, config: TrainConfig, device: torch.device | str = "cpu", w2_by_class: bool = False
    ) -> ScratchMLP:
        return cls(
            config.layers,
            config.init_scale,
            torch.Generator().manual_seed(config.seed),
            device,
            w2_by_class,
            activation=config.activation,
            init=config.init,
            dropout=config.dropout_per_layer,
            dropout_seed=config.seed,
        )

    def __getattr__(self, name: str) -> nn.Parameter:
        """``net.W1``, ``net.b2``...: the parameters by their names."""
        by_name = self.__dict__.get("_by_name", {})
        if name in by_name:
            return by_name[name]
        raise AttributeError(name)

    @property
    def hidden(self) -> int:
        """The first hidden layer's width (the seed's ``num_hiddens``)."""
        return self.layers[0]

    @property
    def weights(self) -> list[nn.Parameter]:
        return self.params[::2]

    # ------------------------------------------------------------------ dropout
    def seed_dropout(self, step: int) -> None:
        """Draw the masks of the run's batch ``step`` next: a function of the run's seed and the
        batch, so that replaying, resuming or forking a batch draws the same masks."""
        if self.dropout_rng is not None:
            self.dropout_rng.manual_seed((self._dropout_seed * 0x9E3779B97F4A7C15 + step) % 2**64)

    def dropout_masks(self, rows: int) -> list[torch.Tensor | None]:
        """d2l's ``(torch.rand(X.shape) > dropout).float()`` for each hidden layer with a rate
        (None for the others); an empty list without dropout."""
        if self.dropout_rng is None:
            return []
        return [
            (
                torch.rand(rows, width, generator=self.dropout_rng, device=self.flat.device) > rate
            ).float()
            if rate
            else None
            for width, rate in zip(self.layers, self.dropout)
        ]

    def __call__(self, X: torch.Tensor, masks: Sequence[torch.Tensor | None] = ()) -> torch.Tensor:
        """The seed's ``net(X)``; with ``masks`` (training), d2l's dropout after each layer."""
        X = X.reshape(-1, NUM_INPUTS)
        for i, (W, b) in enumerate(self.hidden_layers):
            X = activations.reference(self.activation, X @ W + b)
            mask = masks[i] if masks else None
            if mask is not None:
                X = mask * X / (1.0 - self.dropout[i])
        W, b = self.output
        return X @ W + b


loss = nn.CrossEntropyLoss(reduction="none")
Observer = Callable[[int, torch.Tensor], None]  # (hidden layer, its activations for a chunk)


class AutogradStep:
    """The seed's step verbatim: ``l = loss(net(X), y)``; ``zero_grad``; ``l.mean().backward()``.

    Split in two so the trainer can look at the loss and refuse a diverged batch before the
    update touches the parameters. With dropout, ``net(X)`` applies d2l's masks.
    """

    def __init__(self, net: ScratchMLP) -> None:
        self.net = net

    def forward(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's losses and predicted classes (``y_hat.argmax(axis=1)``, as d2l)."""
        y_hat = self.net(X, self.net.dropout_masks(X.shape[0]))
        self.l = loss(y_hat, y)
        return self.l.detach(), y_hat.detach().argmax(dim=1)

    def update(self, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad()
        self.l.mean().backward()
        optimizer.step()
        del self.l


def _logits(
    net: ScratchMLP,
    X: torch.Tensor,
    seed_form: bool,
    chunk: int | None,
    observe: Observer | None = None,
    compiled=None,
):
    """The logits of ``X``, chunk by chunk (see ``evaluate``)."""
    chunk = chunk or (256 if X.device.type == "cpu" else 16384)
    if compiled is not None and not seed_form and X.dtype == torch.uint8:
        for i in range(0, len(X), chunk):
            hidden, logits = compiled.logits(X[i : i + chunk])
            if observe is not None:
                observe(0, hidden)
            yield logits
        return
    for i in range(0, len(X), chunk):
        rows = X[i : i + chunk]
        if rows.dtype == torch.uint8:
            rows = to_unit(rows)
        if seed_form:
            if observe is not None:  # the hidden layers the fast way, for the observer only
                hidden = rows
                for layer, (W, b) in enumerate(net.hidden_layers):
                    hidden = activations.forward(net.activation, torch.addmm(b, hidden, W))
                    observe(layer, hidden)
            yield net(rows)
        else:
            for layer, (W, b) in enumerate(net.hidden_layers):
                rows = activations.forward(net.activation, torch.addmm(b, rows, W), inplace=True)
                if observe is not None:
                    observe(layer, rows)
            W, b = net.output
            yield torch.addmm(b, rows, W)


@torch.no_grad()
def evaluate(
    net: ScratchMLP,
    X: torch.Tensor,
    y: torch.Tensor,
    seed_form: bool = False,
    chunk: int | None = None,
    observe: Observer | None = None,
    compiled=None,
) -> Predictions:
    """d2l's ``evaluate_accuracy``, keeping the probabilities so a UI can show them.

    ``X`` holds images as floats, or as uint8 pixels converted chunk by chunk (``ToTensor``'s
    arithmetic): the test set is then a quarter of the memory to read. ``seed_form`` computes
    the logits as the seed writes them, ``net(X)``; otherwise as the fused step does
    (``addmm``, ``clamp_min``): the same values up to rounding, without the seed's extra passes.
    Chunks of a batch's size run at the products' best rate on the CPU; a GPU gets few large
    chunks, since there each chunk costs kernel launches. Dropout is off, as in d2l.
    ``observe(layer, H)`` sees each chunk's hidden activations: the health figures' tap.
    ``compiled``: the trainer's compiled step (``native.NativeStep``) for ``net``, which then
    computes the logits of uint8 pixels (on the trainer's thread: it uses the step's buffers)."""
    chunks = _logits(net, X, seed_form, chunk, observe, compiled)
    probs = [torch.softmax(logits, dim=1) for logits in chunks]
    return Predictions(epoch=0, probs=torch.cat(probs).float().cpu(), labels=y.cpu())


@torch.no_grad()
def score(
    net: ScratchMLP, X: torch.Tensor, y: torch.Tensor, seed_form: bool = False
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy on ``X`` (the validation set), as ``evaluate`` computes
    the logits; the loss from the logits, not from rounded probabilities."""
    correct, total, at = 0.0, 0.0, 0
    for logits in _logits(net, X, seed_form, None):
        rows = y[at : at + len(logits)]
        at += len(logits)
        correct += float((logits.argmax(dim=1) == rows).sum())
        total += float(loss(logits, rows).double().sum())
    return correct / len(y), total / len(y)
