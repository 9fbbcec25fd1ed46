"""Make the README's screenshots from a real run on the real data.

    python assets/screenshots.py [DATA_DIR]

Trains the seed's run in the app (headless Textual, 120x40), doubles the learning rate during
epoch 3 and writes, into this folder: ``app-running.svg`` (training, late in epoch 6),
``app-80x24-ascii.svg`` (paused, 80x24, images in ASCII), ``app-image.svg`` (one misclassified
image with its ten probabilities) and ``app-help.svg`` (the keys, on a fresh paused run);
then, after a finished 3-epoch run, the prediction inspector's four tabs: ``inspect-explorer``,
``inspect-confusion``, ``inspect-per-class`` and ``inspect-weights.svg``; and the lesson's
"how does the learning rate change the result" from the keyboard: 10 epochs at lr 0.03, then
``l`` 0.1 and ``r``, then ``l`` 0.5 and ``r``: ``app-lr-ghosts.svg``, the last run with the
two before it behind it. The figures on
them (examples/s, times, the images shown) are this machine's and this run's.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import load
from mlp_tui.core.events import RunState
from mlp_tui.core.trainer import Trainer, keep_this_thread_serial
from mlp_tui.tui.app import MLPApp
from mlp_tui.tui.screens.image import ImageScreen
from mlp_tui.tui.screens.inspect import InspectScreen
from textual import events

HERE = Path(__file__).resolve().parent
SIZE, SMALL = (120, 40), (80, 24)


async def until(condition: Callable[[], object], timeout: float = 600.0) -> None:
    """Poll without the pilot's wait for an idle app: a training app is never idle. The
    timeout leaves room for 10 epochs on a busy shared host (10-20 s an epoch seen)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {condition}")
        await asyncio.sleep(0.02)


def press_now(app: MLPApp, key: str, character: str) -> None:
    """A key as the terminal driver posts it, without the pilot's wait for an idle app (which,
    while training, returns only when the run is over)."""
    app._driver.send_message(events.Key(key, character))


def shot(app: MLPApp, name: str) -> None:
    app.save_screenshot(str(HERE / name))
    print(f"wrote {HERE / name}")


async def settle(app: MLPApp) -> None:
    """Bring the plots and the gallery up to date now (while training they redraw about once a
    second) and let the screen draw them."""
    app.main.redraw()
    await asyncio.sleep(0.05)


async def main(data_dir: str | None) -> None:
    keep_this_thread_serial()  # as `mlp-tui` does: the training thread owns the OpenMP team
    data = load(data_dir, allow_download=False)
    saves = tempfile.mkdtemp()  # nothing is saved; the app only needs a folder to suggest
    app = MLPApp(Trainer(TrainConfig(), data), save_dir=saves)
    async with app.run_test(size=SIZE) as pilot:
        trainer = app.trainer
        await until(lambda: (trainer.epoch, trainer.batch) >= (2, 60))
        press_now(app, "plus", "+")
        await until(lambda: (trainer.epoch, trainer.batch) >= (5, 150))
        await settle(app)
        shot(app, "app-running.svg")
        press_now(app, "space", " ")
        await until(lambda: trainer.state is RunState.PAUSED)
        await pilot.press("g")
        await pilot.resize_terminal(*SMALL)
        await settle(app)
        shot(app, "app-80x24-ascii.svg")
        await pilot.press("g")
        await pilot.resize_terminal(*SIZE)
        await pilot.press("right", "right", "enter")
        await until(lambda: isinstance(app.screen, ImageScreen))
        await settle(app)
        shot(app, "app-image.svg")
    app.trainer.stop()
    app = MLPApp(Trainer(TrainConfig(), data), paused=True, save_dir=saves)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await settle(app)
        shot(app, "app-help.svg")
    app.trainer.stop()
    app = MLPApp(Trainer(TrainConfig(epochs=3), data), save_dir=saves)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.trainer.state is RunState.FINISHED)
        await pilot.press("i")
        await until(lambda: isinstance(app.screen, InspectScreen))
        await pilot.press("m", "s")  # the misclassified, most confident first
        for tab, name in enumerate(("explorer", "confusion", "per-class", "weights"), start=1):
            await pilot.press(str(tab))
            await pilot.pause(0.3)
            shot(app, f"inspect-{name}.svg")
    app.trainer.stop()
    app = MLPApp(Trainer(TrainConfig(lr=0.03), data), save_dir=saves)
    async with app.run_test(size=SIZE) as pilot:
        for lr in ("0.1", "0.5", None):
            await until(lambda: app.trainer.state is RunState.FINISHED)
            if lr is None:
                break
            first = app.trainer
            typed = ["full_stop" if ch == "." else ch for ch in lr]
            await pilot.press("l", "end", "ctrl+u", *typed, "enter")  # type the exact lr
            await pilot.press("r", "y")  # a new run with it
            await until(lambda first=first: app.trainer is not first)
        await settle(app)
        await pilot.pause(0.5)  # the footer comes back after the dialog
        shot(app, "app-lr-ghosts.svg")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
