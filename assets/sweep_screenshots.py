"""The sweep screen's screenshots, from real sweeps on the real data.

    python assets/sweep_screenshots.py [DATA_DIR]

In the app (headless Textual, 120x40): ``w``, then ``hidden=16,64,256`` with ``--epochs 3
--val 5000`` typed into the form; ``sweep-live.svg`` while the second member trains,
``sweep-results-1d.svg`` when it is done. Then ``lr=0.03,0.1,0.3 hidden=16,64,256``, 2
epochs each, trained without the app into the same store, and its results:
``sweep-results-2d.svg`` (120x40) and ``sweep-results-2d-80x24.svg``. Written into
docs/screens/, each with a PNG beside it where ``rsvg-convert`` is installed.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlp_tui.core import sweep_results
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import load
from mlp_tui.core.store import RunStore
from mlp_tui.core.sweep_cli import parse_command
from mlp_tui.core.sweep_run import SweepRun
from mlp_tui.core.trainer import Trainer, keep_this_thread_serial
from mlp_tui.tui.app import MLPApp
from mlp_tui.tui.screens.sweep import SweepScreen
from textual import events

OUT = Path(__file__).resolve().parents[1] / "docs" / "screens"


def save(app: MLPApp, name: str) -> None:
    path = OUT / f"{name}.svg"
    app.save_screenshot(str(path))
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "-o", str(path.with_suffix(".png")), str(path)], check=True)
    print(f"wrote {path}")


async def until(pilot, condition, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(condition)
        await asyncio.sleep(0.1)


async def paste(pilot, text: str) -> None:
    for key in ("ctrl+a", "ctrl+k"):
        pilot.app._driver.send_message(events.Key(key, None))
    await pilot.pause()
    pilot.app.focused.post_message(events.Paste(text))
    await pilot.pause()


async def live_and_results(data, store: RunStore) -> None:
    trainer = Trainer(TrainConfig(device="cpu"), data)
    app = MLPApp(trainer, train=False, store=store, cursor_blink=False, clock=lambda: 0.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        await paste(pilot, "hidden=16,64,256")
        await pilot.press("tab")
        await paste(pilot, "--epochs 3 --val 5000")
        await pilot.press("enter")
        second = lambda: len(screen.view.members) == 3 and screen.view.members[1].epoch >= 2  # noqa: E731
        await until(pilot, second)
        await pilot.pause(0.5)
        save(app, "sweep-live")
        await until(pilot, lambda: screen.has_class("-results"))
        await pilot.pause(0.5)
        save(app, "sweep-results-1d")


async def two_values(data, store: RunStore) -> None:
    spec = parse_command("lr=0.03,0.1,0.3 hidden=16,64,256 --epochs 2 --val 5000",
                         TrainConfig(device="cpu"))  # fmt: skip
    sweep = SweepRun(spec, store, data)
    sweep.run()
    results = sweep_results.load(store, spec, sweep.number)
    for size, name in (((120, 40), "sweep-results-2d"), ((80, 24), "sweep-results-2d-80x24")):
        app = MLPApp(Trainer(TrainConfig(device="cpu"), data), train=False, store=store,
                     cursor_blink=False, clock=lambda: 0.0)  # fmt: skip
        async with app.run_test(size=size) as pilot:
            await pilot.press("w")
            await pilot.pause()
            app.screen.show(results)
            await pilot.pause(0.5)
            save(app, name)


def main() -> None:
    keep_this_thread_serial()
    data = load(sys.argv[1] if len(sys.argv) > 1 else None)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs.sqlite")
        asyncio.run(live_and_results(data, store))
        asyncio.run(two_values(data, store))
        store.close()


if __name__ == "__main__":
    main()
