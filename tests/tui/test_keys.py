"""Every key is discoverable (footer, help screen, command palette); the inspector key; resizing."""

from __future__ import annotations

import pytest
from mlp_tui.core.events import RunState
from mlp_tui.core.store import RunStore
from mlp_tui.tui.app import MLPApp
from mlp_tui.tui.keys import APP_KEYS, MAIN_KEYS
from mlp_tui.tui.screens import inspect as inspect_screen
from mlp_tui.tui.screens.help import HelpScreen
from mlp_tui.tui.screens.inspect import InspectScreen
from mlp_tui.tui.screens.runs import RunsScreen
from mlp_tui.tui.screens.too_small import TooSmallScreen
from mlp_tui.tui.widgets.gallery import MisclassifiedGallery
from mlp_tui.tui.widgets.hyperparameters import HyperparameterPanel
from textual.command import CommandList
from textual.screen import Screen
from textual.widgets import DataTable
from textual.widgets._footer import FooterKey

from .conftest import press_now, script, wait_until

KEYS = [*MAIN_KEYS, *APP_KEYS]  # the main screen's, then the app's


def footer_actions(app: MLPApp) -> dict[str, bool]:
    """Action -> enabled, for the bindings the footer shows on the main screen."""
    return {
        active.binding.action: active.enabled
        for active in app.screen.active_bindings.values()
        if active.binding.show
    }


async def test_footer_shows_every_key_and_dims_what_does_not_apply(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        shown = footer_actions(app)
        gallery_keys = {"move(-1)", "move(1)", "inspect_image"}  # the focused gallery's own
        hidden = {binding.action for binding in KEYS if not binding.show}  # help, palette
        every = {binding.action for binding in KEYS}
        assert set(shown) == every - {"pause"} - hidden | gallery_keys
        assert shown["resume"] and shown["step"]
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: "pause" in footer_actions(app))
        shown = footer_actions(app)
        assert "resume" not in shown and shown["step"] is False  # running: step is dimmed


async def test_help_fits_the_smallest_terminal_without_scrolling_sideways(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        table = app.screen.query_one(DataTable)
        assert table.virtual_size.width <= table.size.width  # no column cut off


def help_rows(app: MLPApp) -> list[tuple[str, str]]:
    table = app.screen.query_one(DataTable)
    return [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]


async def test_help_lists_every_key(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = help_rows(app)
        headings = [key for key, what in rows if not what]
        assert headings[0] == "main screen" and "inspector" in headings and "runs" in headings
        for binding in KEYS:
            assert any(
                key == app.get_key_display(binding) and binding.tooltip in what
                for key, what in rows
            ), binding
        # space pauses or resumes: one row that says both, not two rows for one key
        assert [what for key, what in rows[: len(KEYS)] if key == "space"] == [
            "pause training / resume training"
        ]
        for widget in (MisclassifiedGallery, HyperparameterPanel, InspectScreen, RunsScreen):
            for binding in widget.BINDINGS:
                what = binding.tooltip or binding.description.lower()
                assert any(what in cell for _, cell in rows), what
        assert any(row[0] == "^p" and "palette" in row[1] for row in rows)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_help_on_the_runs_screen_lists_its_keys_first(make_app, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    app = make_app(paused=True, store=store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = help_rows(app)
        assert rows[0] == ("runs", "")  # its heading, then its keys
        assert rows[1][1] == "back" and "filter" in {what for _, what in rows[1:12]}
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)  # back where help was opened


async def test_command_palette_offers_every_action_that_applies(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        commands = [command.title for command in app.get_system_commands(app.screen)]
        titles = set(commands)
        assert [t for t in commands if "quit" in t.lower()] == [APP_KEYS[1].tooltip.capitalize()]
        for binding in KEYS:
            expected = binding.tooltip.capitalize() in titles
            assert expected == (app.main.applies(binding.action) is True), binding.action
        await pilot.press("ctrl+p")
        await pilot.press(*"double the learning")
        matches = app.screen.query_one(CommandList)  # gathered in the background

        def first_match() -> str:
            return str(matches.get_option_at_index(0).prompt) if matches.option_count else ""

        await wait_until(pilot, lambda: "Double the learning rate" in first_match())
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.trainer.config.lr == 0.2)


class FakeInspector(Screen):
    def __init__(self, trainer, **options) -> None:
        super().__init__()
        self.trainer = trainer
        self.state_when_opened = trainer.state


async def test_i_pauses_training_then_opens_the_inspector(make_app, monkeypatch):
    monkeypatch.setattr(inspect_screen, "InspectScreen", FakeInspector)  # as the i key loads it
    app = make_app()
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.trainer.step_count > 2)
        await press_now(pilot, "i")
        await wait_until(pilot, lambda: isinstance(app.screen, FakeInspector))
        assert app.screen.trainer is app.trainer
        assert app.screen.state_when_opened is RunState.PAUSED  # between two batches
        # The app's keys stay out of its way: the main screen's are not in its chain at all.
        active = {active.binding.action for active in app.screen.active_bindings.values()}
        assert not active & {binding.action for binding in KEYS}
        assert app.check_action("quit", ()) is False and app.check_action("help", ()) is False


@pytest.mark.slow  # every field (or size) in turn: ~10 s
async def test_resizing_to_20x10_and_back_while_training_keeps_working(make_trainer, make_app):
    app = make_app(script(make_trainer(), epochs_done=2))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.step_count > 30)
        for size in ((80, 24), (20, 10), (12, 5), (79, 30), (20, 10), (120, 40)):
            await pilot.resize_terminal(*size)
            steps = app.trainer.step_count
            await wait_until(pilot, lambda n=steps: app.trainer.step_count > n)  # still training
            await pilot.pause(0.3)  # some redraws at this size
            small = size[0] < 80 or size[1] < 24
            assert isinstance(app.screen, TooSmallScreen) == small, size  # a notice, not a mess
            if small:
                text = str(app.screen.query_one("#too-small").render())
                assert f"terminal too small ({size[0]}x{size[1]}, need 80x24)" in text
        assert app.main.run_state is RunState.RUNNING and app.size == (120, 40)
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        assert app.main.gallery.size.width > 0 and "test images" in app.main.gallery.text()


async def test_the_palette_on_the_inspector_offers_its_actions(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen))
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Export", "Weights", "Confusion", "Close"} <= set(commands)
        assert "Pause training" not in commands  # the main screen's are not offered here
        await commands["Weights"].callback()
        await pilot.pause()
        assert app.screen.query_one("TabbedContent").active == "weights"


async def test_help_from_the_inspector_lists_its_tabs_keys_first(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen))
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        headings = [key for key, what in help_rows(app) if not what]
        assert headings[:5] == ["inspector", "explorer tab", "confusion tab", "per-class tab",
                                "weights tab"]  # fmt: skip
        app.save_screenshot("/tmp/help-inspector.svg")


def footer_overflow(app) -> list[str]:
    """The footer's keys that do not fit in the terminal's width."""
    width = app.size.width
    return [key.description for key in app.screen.query(FooterKey) if key.region.right > width]


async def test_at_80_columns_the_footer_keeps_help_and_quit_and_cuts_no_key(make_app, tmp_path):
    app = make_app(paused=True, store=RunStore(tmp_path / "runs.sqlite"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)

        def shown() -> set[str]:  # the footer fills a frame or two after the state changes
            return {key.action for key in app.screen.query(FooterKey)}

        await wait_until(pilot, lambda: {"help", "quit", "resume", "inspector"} <= shown())
        await pilot.pause(0.2)  # laid out
        assert footer_overflow(app) == []
        await pilot.press("R")  # the runs screen, then the inspector
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen))
        await wait_until(pilot, lambda: "help" in shown())
        await pilot.pause(0.2)
        assert footer_overflow(app) == []
        await pilot.press("escape", "i")
        await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen))
        await wait_until(pilot, lambda: {"close", "help"} <= shown())
        await pilot.pause(0.2)
        assert footer_overflow(app) == []
        await pilot.resize_terminal(160, 40)  # wider: every key again
        await wait_until(pilot, lambda: "reverse" in shown())


async def test_the_footer_under_a_dialog_shows_the_dialogs_keys(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        await pilot.press("r")  # "start a new run?"
        await wait_until(pilot, lambda: app.screen is not app.main)
        await pilot.pause(0.2)
        shown = {key.description for key in app.screen.query(FooterKey)}
        assert {"Yes", "No"} <= shown and not shown & {"Browse", "Image", "Previous image"}
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is app.main)


async def test_the_footer_rebuilds_its_keys_only_when_what_they_show_changes(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        await wait_until(pilot, lambda: "resume" in {k.action for k in app.screen.query(FooterKey)})
        keys = list(app.screen.query(FooterKey))
        for _ in range(3):  # the screen signals a change each time; nothing shown differs
            app.screen.refresh_bindings()
            await pilot.pause()
        assert list(app.screen.query(FooterKey)) == keys  # the very same widgets
        await press_now(pilot, "space")  # resumed: "pause" replaces "resume"
        await wait_until(pilot, lambda: "pause" in {k.action for k in app.screen.query(FooterKey)})
        assert "resume" not in {key.action for key in app.screen.query(FooterKey)}
        await pilot.resize_terminal(80, 24)  # narrower: keys left out, the essential ones kept
        await wait_until(pilot, lambda: len(app.screen.query(FooterKey)) < len(keys))
        assert {"help", "quit", "pause"} <= {key.action for key in app.screen.query(FooterKey)}
