"""What the lr range test's screen looks like, on a made-up curve of the seed's shape (a run on
the real data is in docs/screens/lrtools-lr-find.svg, made by assets/lrtools_screenshots.py).

Update after an intended change with ``pytest tests/tui/test_lrtools_snapshots.py
--snapshot-update`` and look at the SVGs in ``__snapshots__`` before committing them.
"""

from __future__ import annotations

import math

import pytest
from mlp_tui.core.lr_find import RULES, SMOOTHING, RangeTest, suggestions
from mlp_tui.tui.screens.lr_find import LrFindScreen

from .conftest import script, wait_until


def made_up() -> RangeTest:
    """Flat at 2.3, falling from lr 0.01, blowing up past lr 1: the seed's curve, no noise."""
    lrs = [1e-5 * 10 ** (i * 6 / 199) for i in range(190)]
    losses = [
        2.3 - 1.2 / (1 + math.exp(-3 * (math.log10(lr) + 1))) + 8 * max(lr - 1.0, 0) ** 2
        + 0.05 * math.sin(i)
        for i, lr in enumerate(lrs)
    ]  # fmt: skip
    smoothed, average = [], 0.0
    for i, loss in enumerate(losses, 1):
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        smoothed.append(average / (1 - SMOOTHING**i))
    steepest, minimum = suggestions(lrs, smoothed)
    return RangeTest(tuple(lrs), tuple(losses), tuple(smoothed), steepest, RULES["steepest"],
                     steepest, minimum, f"the loss blew up at lr {lrs[-1]:.3g}")  # fmt: skip


# The 120x40 one once differed 1 run in 3: plotext drew the lr axis's labels in a hash-seeded
# order (see lr_find_plot.lr_axis); test_the_lr_axis_is_the_same_whatever_the_hash_seed
@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_lr_find_screen(snap_compare, make_trainer, make_app, size):
    app = make_app(script(make_trainer(epochs=10), 3, batch=4), train=False)
    result = made_up()

    async def run_before(pilot) -> None:
        screen = LrFindScreen(app.trainer, tester=lambda trainer, cancelled: result)
        app.push_screen(screen)
        await wait_until(pilot, lambda: screen.result is not None)
        for _ in range(3):  # the result's plot and text are drawn on the frames after it
            await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_main_screen_with_a_schedule(snap_compare, make_trainer, make_app):
    trainer = script(make_trainer(epochs=10, schedule="warmup:1"), 3, batch=4)
    app = make_app(trainer, train=False)
    assert snap_compare(app, terminal_size=(80, 24))


AXIS = """
import math, sys
import plotext as p
from mlp_tui.tui.widgets.lr_find_plot import lr_axis
lrs = [1e-5 * 10 ** (i * 6 / 199) for i in range(190)]
xs = [math.log10(lr) for lr in lrs]
for width in range(40, 201):
    p.clear_figure(); p.limitsize(False, False); p.plotsize(width, 12); p.theme("clear")
    p.plot(xs, xs)
    p.xticks(*lr_axis(lrs[0], lrs[-1], width))
    p.xlim(xs[0], xs[-1])
    print(p.build().splitlines()[-1])
"""


def test_the_lr_axis_is_the_same_whatever_the_hash_seed():
    """plotext draws tick labels in a set's order, which follows PYTHONHASHSEED; at the lr
    plot's tick spacing no label can move another, so every process draws the same axis
    (with the 8 columns a tick of before, seeds 1 and 2 differed at 120x40's width)."""
    import os
    import subprocess
    import sys

    drawn = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", AXIS], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        drawn.add(done.stdout)
    assert len(drawn) == 1
    assert "0.0001" in next(iter(drawn))  # the labels are drawn at all
