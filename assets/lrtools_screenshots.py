"""Screenshots of the lr tools, made by the app on the real data (headless Textual).

    python assets/lrtools_screenshots.py [DATA_DIR]

Writes into docs/screens/: ``lrtools-lr-find.svg`` (120x40) and ``lrtools-lr-find-80x24.svg``:
the seed's run paused after 60 batches, ``f``, the range test's curve and suggestion; and
``lrtools-schedule.svg``: a run with ``--schedule warmup:1`` in epoch 2, the planned lr under
the plots.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import load
from mlp_tui.core.trainer import Trainer, keep_this_thread_serial
from mlp_tui.tui.app import MLPApp
from mlp_tui.tui.screens.lr_find import LrFindScreen
from screenshots import SIZE, SMALL, settle, until  # type: ignore[import-not-found]

OUT = Path(__file__).resolve().parent.parent / "docs" / "screens"


def shot(app: MLPApp, name: str) -> None:
    app.save_screenshot(str(OUT / name))
    print(f"wrote {OUT / name}")


async def main(data_dir: str | None) -> None:
    keep_this_thread_serial()
    data = load(data_dir, allow_download=False)
    saves = tempfile.mkdtemp()
    app = MLPApp(Trainer(TrainConfig(), data), save_dir=saves)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.trainer.step_count >= 60)
        await pilot.press("f")
        await until(lambda: isinstance(app.screen, LrFindScreen))
        screen = app.screen
        assert isinstance(screen, LrFindScreen)
        await until(lambda: screen.result is not None)
        await asyncio.sleep(0.3)
        shot(app, "lrtools-lr-find.svg")
        await pilot.resize_terminal(*SMALL)
        await asyncio.sleep(0.3)
        shot(app, "lrtools-lr-find-80x24.svg")
        await pilot.resize_terminal(*SIZE)
        await pilot.press("a")
        await asyncio.sleep(0.3)
    app.trainer.stop()
    app = MLPApp(Trainer(TrainConfig(schedule="warmup:1", lr=0.4), data), save_dir=saves)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: (app.trainer.epoch, app.trainer.batch) >= (1, 100))
        await settle(app)
        shot(app, "lrtools-schedule.svg")
        await pilot.resize_terminal(*SMALL)
        await settle(app)
        await asyncio.sleep(0.3)
        shot(app, "lrtools-schedule-80x24.svg")
    app.trainer.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
