"""Below 80x24 the app says so instead of drawing a layout that has fallen apart."""

from __future__ import annotations

from mlp_tui.core.events import RunState

from .conftest import script


def test_a_30x10_terminal_shows_a_notice(snap_compare, make_trainer, make_app):
    app = make_app(script(make_trainer(), epochs_done=2), paused=True)

    async def run_before(pilot) -> None:
        await pilot.pause()
        assert app.main.run_state is RunState.PAUSED

    assert snap_compare(app, terminal_size=(30, 10), run_before=run_before)
