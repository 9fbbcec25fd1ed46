"""App fixtures: trainers on the tiny data, a scripted run for snapshots, and waiting helpers."""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import FashionMNIST
from mlp_tui.core.events import EpochReport, Predictions
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.app import MLPApp
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

FOREVER = 100_000  # epochs: the tiny run keeps training for as long as a test needs
IDLE_SLICE = 1 / 50  # s: Textual's; longer than a frame (60 a second), so a pending one runs


async def wait_for_idle(min_sleep: float = IDLE_SLICE, max_sleep: float = 1.0) -> None:
    """Textual's wait for an idle app (``textual._wait``), on the UI thread's CPU time rather
    than the process's. The pilot waits so after each key and in ``pause()``: until less than
    5% of a core was used over 20 ms. With a trainer thread working, the process never gets
    there and each wait lasts its full second, though the app's own work (all of it on its
    event loop's thread) was done long before."""
    start = time.monotonic()
    while True:
        used = time.thread_time()
        await asyncio.sleep(IDLE_SLICE)
        busy = time.thread_time() - used
        elapsed = time.monotonic() - start
        if elapsed >= max_sleep or (elapsed > min_sleep and busy < IDLE_SLICE / 20):
            return


@pytest.fixture(autouse=True)
def _idle_is_the_ui_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import textual.app
    import textual.pilot

    monkeypatch.setattr(textual.pilot, "wait_for_idle", wait_for_idle)
    monkeypatch.setattr(textual.app, "wait_for_idle", wait_for_idle)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests on a fresh event loop: pilot tests need no asyncio plugin."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


async def wait_until(pilot: Pilot, condition: Callable[[], object], timeout: float = 10.0):
    """Let the app work until ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        await pilot.pause(0.01)
    return condition()


_NAMES = {"+": "plus", "-": "minus", " ": "space", "?": "question_mark"}
_CHARACTERS = {name: char for char, name in _NAMES.items()}


async def press_now(pilot: Pilot, *keys: str) -> None:
    """Press keys without the pilot's wait for an idle app after each one: while training, the
    app is never idle and every wait lasts a second. The keys queue up in order, as typed."""
    for key in keys:
        name = _NAMES.get(key, key)
        character = key if len(key) == 1 else _CHARACTERS.get(name)
        pilot.app._driver.send_message(events.Key(name, character))
    await pilot.pause(0.01)


async def fill(pilot: Pilot, text: str) -> None:
    """Replace the focused field's text with ``text``, pasted in one go (typing it key by key
    makes the pilot wait for the app after every character). A dialog's field takes focus a
    frame after the dialog mounts: wait for it, or the text lands in the screen below."""
    await wait_until(pilot, lambda: isinstance(pilot.app.focused, Input))
    await press_now(pilot, "ctrl+a", "ctrl+k")  # home, delete to the end
    pilot.app.focused.post_message(events.Paste(text))
    await pilot.pause()


def messages(app: MLPApp) -> list[str]:
    """The notifications the app has shown (toasts), oldest first."""
    return [notification.message for notification in app._notifications]


@pytest.fixture
def make_trainer(tiny_data: FashionMNIST) -> Callable[..., Trainer]:
    def make(**changes: object) -> Trainer:
        config = TrainConfig(epochs=FOREVER, batch_size=64, device="cpu").replace(**changes)
        return Trainer(config, tiny_data)

    return make


@pytest.fixture
def make_app(tmp_path: Path, make_trainer) -> Callable[..., MLPApp]:
    """An app on the tiny data with its save dir in tmp and time frozen at zero."""

    def make(trainer: Trainer | None = None, **options: object) -> MLPApp:
        options.setdefault("save_dir", tmp_path / "saves")
        options.setdefault("clock", lambda: 0.0)
        options.setdefault("cursor_blink", False)
        return MLPApp(trainer or make_trainer(), **options)

    return make


def script(trainer: Trainer, epochs_done: int, batch: int = 0, lr: float = 0.1) -> Trainer:
    """Give ``trainer`` a made-up but plausible history: no training, no timing, no float noise
    from a BLAS, so that snapshots are the same on every machine."""
    bpe = trainer.batches_per_epoch
    steps = epochs_done * bpe + batch
    trainer.batch_losses = [
        2.3 * math.exp(-s / 12) + 0.35 + 0.08 * math.sin(s * 1.7) for s in range(steps)
    ]
    trainer.history = [
        EpochReport(
            epoch=e,
            train_loss=round(0.35 + 1.2 * math.exp(-e / 1.5), 4),
            train_acc=round(0.9 - 0.5 * math.exp(-e / 1.5), 4),
            test_acc=round(0.88 - 0.5 * math.exp(-e / 1.5), 4),
            lr=0.1,
            seconds=0.5,
            examples_per_s=1200.0,
        )
        for e in range(1, epochs_done + 1)
    ]
    trainer.lr_changes = [(0, 0.1)] + ([(bpe + 3, lr)] if lr != 0.1 else [])
    trainer.config = trainer.config.replace(lr=lr)
    trainer.epoch, trainer.batch, trainer.step_count = epochs_done, batch, steps
    trainer.elapsed = 83.0
    labels = trainer.data.test_y.cpu()
    logits = torch.randn(len(labels), 10, generator=torch.Generator().manual_seed(7)).double()
    logits[torch.arange(len(labels)), labels] += 2.5
    probs = torch.softmax(logits * 2, dim=1).float()
    trainer.predictions = Predictions(epochs_done, probs, labels)
    return trainer
