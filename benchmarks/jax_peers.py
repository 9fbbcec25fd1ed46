"""The seed's MLP in JAX, for ``benchmarks/peers.py``: what a user who picked JAX for speed
would run. Two forms: a jitted step called batch by batch from Python, and the whole epoch as
one jitted ``lax.scan`` (XLA fuses the small operations into few kernels).

As close to the seed as JAX allows: the engine's initial weights (passed in), the engine's
order of examples (torch's ``randperm`` from a generator seeded ``seed``, drawn here too), the
uint8 pixels kept on the device and divided by 255 per batch, the mean cross-entropy over the
batch, plain SGD, the short last batch trained too, the test set scored after each epoch. What
differs: XLA's own float arithmetic (its fusions reassociate sums, its exp/log are its own), so
the numbers agree with the engine's only to rounding; and the loss and accuracy sums stay on
the device until the epoch ends (the seed's ``float()`` per batch would stall JAX's pipeline).

``jax`` is an optional extra (``pip install -e '.[jax]'``), never required: without it the
benchmark says so and runs the other peers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import FashionMNIST


def unavailable() -> str | None:
    """Why the JAX peers cannot run here, or None when they can."""
    try:
        import jax  # noqa: F401
    except Exception as exc:  # absent, or broken beside this numpy
        reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        return f"jax does not import ({reason}); pip install -e '.[jax]'"
    return None


def _functions() -> tuple[Any, Any]:
    """The seed's training step and test accuracy as JAX functions (not jitted yet)."""
    import jax
    import jax.numpy as jnp

    def logits(params, X):
        W1, b1, W2, b2 = params
        return jnp.maximum(X @ W1 + b1, 0.0) @ W2 + b2

    def batch_loss(params, X, y):
        z = logits(params, X)
        picked = jnp.take_along_axis(z, y[:, None], axis=1)[:, 0]
        l = jax.nn.logsumexp(z, axis=1) - picked  # CrossEntropyLoss(reduction="none")
        return l.mean(), (l.sum(), (z.argmax(axis=1) == y).sum())

    def step(params, pixels, labels, idx, lr):
        X = pixels[idx].astype(jnp.float32) / 255.0
        grads, (loss_sum, correct) = jax.grad(batch_loss, has_aux=True)(params, X, labels[idx])
        return tuple(p - lr * g for p, g in zip(params, grads)), loss_sum, correct

    def accuracy(params, pixels, labels):
        X = pixels.astype(jnp.float32) / 255.0
        return (logits(params, X).argmax(axis=1) == labels).mean()

    return step, accuracy


class _JaxPeer:
    def __init__(self, dataset: FashionMNIST, config: TrainConfig, init: list[np.ndarray]):
        import jax
        import jax.numpy as jnp

        self.jax = jax
        self.pixels = jnp.asarray(dataset.train_pixels.numpy())
        self.labels = jnp.asarray(dataset.train_y.numpy().astype(np.int32))
        self.test_pixels = jnp.asarray(dataset.test_flat.numpy())
        self.test_labels = jnp.asarray(dataset.test_y.numpy().astype(np.int32))
        self.params = tuple(jnp.asarray(a) for a in init)
        self.order = torch.Generator().manual_seed(config.seed)
        self.batch, self.lr = config.batch_size, config.lr
        self.step_fn, accuracy = _functions()
        self._accuracy = jax.jit(accuracy)
        self.test_acc: float | None = None
        self.note = f"jax {jax.__version__}, XLA on {jax.devices()[0].platform}"

    def _perm(self) -> np.ndarray:
        return torch.randperm(len(self.labels), generator=self.order).numpy().astype(np.int32)

    def _train(self, perm: np.ndarray) -> Any:
        raise NotImplementedError

    def epoch(self) -> float:
        started = time.perf_counter()
        sums = self._train(self._perm())
        acc = self._accuracy(self.params, self.test_pixels, self.test_labels)
        self.jax.block_until_ready((sums, acc))
        self.test_acc = float(acc)
        return time.perf_counter() - started


class JaxStep(_JaxPeer):
    """One jitted step per batch, called from a Python loop (two compilations: the full
    batches' shape and the short last one's)."""

    name = "JAX, jit per step"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._step = self.jax.jit(self.step_fn)

    def _train(self, perm: np.ndarray) -> Any:
        sums = []
        for start in range(0, len(perm), self.batch):
            idx = perm[start : start + self.batch]
            self.params, loss_sum, correct = self._step(
                self.params, self.pixels, self.labels, idx, self.lr
            )
            sums.append((loss_sum, correct))
        return sums


class JaxScan(_JaxPeer):
    """The whole epoch as one jitted function: ``lax.scan`` over the full batches, then the
    short last batch."""

    name = "JAX, epoch as one lax.scan"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        step, lax = self.step_fn, self.jax.lax

        def epoch(params, pixels, labels, full, last, lr):
            def body(params, idx):
                params, loss_sum, correct = step(params, pixels, labels, idx, lr)
                return params, (loss_sum, correct)

            loss_sum = correct = 0
            if full.shape[0]:  # shapes are static under jit: a Python branch is fine
                params, (losses, rights) = lax.scan(body, params, full)
                loss_sum, correct = losses.sum(), rights.sum()
            if last.shape[0]:
                params, more_loss, more_right = step(params, pixels, labels, last, lr)
                loss_sum, correct = loss_sum + more_loss, correct + more_right
            return params, loss_sum, correct

        self._epoch = self.jax.jit(epoch)

    def _train(self, perm: np.ndarray) -> Any:
        full = len(perm) // self.batch * self.batch
        batches = perm[:full].reshape(-1, self.batch)
        self.params, loss_sum, correct = self._epoch(
            self.params, self.pixels, self.labels, batches, perm[full:], self.lr
        )
        return loss_sum, correct
