"""At 80x24, the stated minimum, every part still reads; below it the app says so instead of
drawing a layout that has fallen apart."""

from __future__ import annotations

import asyncio
import re

import pytest
from mlp_tui.core import data
from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import RunState
from mlp_tui.tui.ladders import FIELDS
from mlp_tui.tui.widgets.explorer_detail import PredictionDetail
from textual.app import App
from textual.widget import Widget

from tests.conftest import write_dataset

from .conftest import script
from .test_inspect import InspectApp, shown, sync, train


def test_a_30x10_terminal_shows_a_notice(snap_compare, make_trainer, make_app):
    app = make_app(script(make_trainer(), epochs_done=2), paused=True)

    async def run_before(pilot) -> None:
        await pilot.pause()
        assert app.main.run_state is RunState.PAUSED

    assert snap_compare(app, terminal_size=(30, 10), run_before=run_before)


def region_text(app: App, widget: Widget) -> list[str]:
    """The characters on screen inside ``widget``'s region, one string a row."""
    x, y, width, height = widget.region
    return [row[x : x + width] for row in shown(app).splitlines()[y : y + height]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train(data.load(write_dataset(tmp_path_factory.mktemp("tiny"))))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@sync
async def test_the_inspectors_detail_shows_the_image_and_all_ten_probabilities(trained, size):
    """Before, at 80x24 the detail pane showed the image and one class's bar: the other nine
    were below the bottom of the terminal."""
    trainer, _ = trained
    app = InspectApp(trainer)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        rows = region_text(app, app.screen.query_one(PredictionDetail))
        image_rows = [row for row in rows if row.count("▀") >= 10]
        assert len(image_rows) >= 7, rows
        for name in CLASS_NAMES:
            assert any(re.search(rf"{re.escape(name)} +[█▏▎▍▌▋▊▉ ]+ +\d+\.\d%", r) for r in rows), (
                name,
                rows,
            )
        assert any("true" in row for row in rows) and any("loss" in row for row in rows)


def curve_rows(rows: list[str]) -> int:
    """Rows of a plot with any of its curves on them (braille dots)."""
    return sum(any("\u2800" <= c <= "\u28ff" for c in row) for row in rows)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_the_plots_keep_room_for_their_curves(make_trainer, make_app, size):
    """Before, at 80x24 the loss and the epoch curves had 4 rows each: a run's fall read as a
    flat line. They need 7 at least; the numbers line and the footer's help and quit stay."""
    trainer = script(make_trainer(epochs=10), 6, batch=4)
    app = make_app(trainer, train=False)

    async def check() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            app.main.redraw()
            await pilot.pause()
            text = shown(app)
            loss = region_text(app, app.main.loss_plot)
            epochs = region_text(app, app.main.epoch_plot)
            assert curve_rows(loss) >= 7, "\n".join(loss)
            assert curve_rows(epochs) >= 7, "\n".join(epochs)
            lines = text.splitlines()
            assert "test acc" in lines[1] and "best" in lines[1]
            assert "Help" in lines[-1] and "Quit" in lines[-1]
            app.main.panel.focus()  # the fields the smaller panel hides are a scroll away
            await pilot.press(*["up"])  # to the last field
            await pilot.pause()
            last_field, last_label = FIELDS[-1]
            assert app.main.panel.field == last_field and f"▸ {last_label}" in shown(app)

    asyncio.run(check())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@sync
async def test_the_inspectors_header_keeps_the_accuracy_and_the_network(trained, size):
    """Before, at 80x24 it ended ``· 10,000 test images ·``: the accuracy and the network
    were cut off."""
    trainer, _ = trained
    app = InspectApp(trainer)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        header = shown(app).splitlines()[0]
        assert re.search(r"acc(uracy)? \d+\.\d\d%", header), header
        assert trainer.config.architecture in header and "…" not in header, header
        assert f"epoch {trainer.epoch}" in header
