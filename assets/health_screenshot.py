"""Make the training-health screenshot from a real sick run on the real data.

    python assets/health_screenshot.py [DATA_DIR]

Trains 3 epochs at lr 50 with the divergence check out of the way (factor 1e12) in the app
(headless Textual, 120x40): every unit dies and the accuracy falls to chance. Then ``h``, and
``docs/screens/health-sick-run.svg`` is written: the figures per layer, the hints with what to
try, the weights' and activations' histograms over the epochs.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import load
from mlp_tui.core.events import RunState
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.app import MLPApp

OUT = Path(__file__).resolve().parent.parent / "docs" / "screens" / "health-sick-run.svg"
SICK = TrainConfig(epochs=3, lr=50, divergence_factor=1e12, device="cpu")


async def main(data_dir: str | None) -> None:
    app = MLPApp(Trainer(SICK, load(data_dir)), cursor_blink=False, clock=lambda: 0.0)
    async with app.run_test(size=(120, 40)) as pilot:
        run = app.main.run
        while run.state is not RunState.FINISHED or len(run.health) <= SICK.epochs:
            await pilot.pause(0.5)
        await pilot.press("h")
        await pilot.pause(1.5)  # the screen's first redraw, and the toasts' time out
        app.save_screenshot(str(OUT))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
