"""A screenshot of the runs comparison for runs already in a store, as the app draws it.

    python assets/compare_shot.py STORE OUT.svg --filter TEXT [--size 120x40] [DATA_DIR]

Opens the app on ``STORE`` without training (the run on screen is a fresh, paused seed run),
presses ``R``, filters the list with ``/`` TEXT (the runs whose name or settings hold it), selects
every run left with ``space`` and compares them with ``Enter``. The README's activation and
initialisation comparisons (d2l's exercises 8 and 9) are made this way from headless runs.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import load
from mlp_tui.core.store import RunStore
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.app import MLPApp
from mlp_tui.tui.screens.compare import CompareScreen
from mlp_tui.tui.screens.runs import RunsScreen


async def shoot(
    store: Path, out: Path, text: str, size: tuple[int, int], data_dir: str | None
) -> None:
    trainer = Trainer(TrainConfig(device="cpu"), load(data_dir))
    app = MLPApp(trainer, train=False, store=RunStore(store), cursor_blink=False)
    async with app.run_test(size=size) as pilot:
        await pilot.press("R")
        while not (isinstance(app.screen, RunsScreen) and app.screen.summaries):
            await pilot.pause(0.05)
        await pilot.press("slash", *text, "enter")
        await pilot.pause(0.3)
        for _ in range(app.screen.query_one("DataTable").row_count):
            await pilot.press("space")
        await pilot.press("enter")
        while not isinstance(app.screen, CompareScreen):
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        app.save_screenshot(str(out))
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--filter", required=True, help="the runs to compare: text in their rows")
    parser.add_argument("--size", default="120x40")
    parser.add_argument("data_dir", nargs="?")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    asyncio.run(shoot(args.store, args.out, args.filter, (width, height), args.data_dir))


if __name__ == "__main__":
    main()
