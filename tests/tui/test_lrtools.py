"""The lr tools in the app: ``f`` the range test (a copy, ``a`` applies, escape leaves), the
schedule, slow motion (``<`` ``>``) and the divergence factor in the panel, ``--paused``."""

from __future__ import annotations

import time

import torch
from mlp_tui.core.events import RunState
from mlp_tui.core.lr_find import RULES, RangeTest
from mlp_tui.tui import main as tui_main
from mlp_tui.tui.screens.lr_find import LrFindScreen

from .conftest import messages, script, wait_until


def text(widget) -> str:
    return widget.render().plain


def weights(trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.net.params]


async def test_f_pauses_tests_a_copy_and_a_gives_the_run_the_lr(make_trainer, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run.step > 3)
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, LrFindScreen))
        screen = app.screen
        assert app.trainer.state is RunState.PAUSED
        before = weights(app.trainer)
        await wait_until(pilot, lambda: screen.result is not None, timeout=60)
        assert [torch.equal(a, b) for a, b in zip(before, weights(app.trainer))] == [True] * 4
        suggested = screen.result.suggested_lr
        assert suggested is not None
        verdict = text(screen.query_one("#lr-find-verdict"))
        assert f"suggested lr {suggested:.3g}" in verdict and RULES["steepest"] in verdict
        assert "loss against lr (log)" in text(screen.plot)
        await pilot.press("a")
        await wait_until(pilot, lambda: app.screen is app.main)
        assert app.main.run.config.lr == float(f"{suggested:.3g}")
        await wait_until(pilot, lambda: app.trainer.config.lr == float(f"{suggested:.3g}"))
        assert app.main.run_state is RunState.PAUSED  # space trains with it


async def test_escape_leaves_the_lr_as_it_was(make_trainer, make_app):
    app = make_app(make_trainer(), train=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        screen = app.screen
        assert isinstance(screen, LrFindScreen)
        await wait_until(pilot, lambda: screen.result is not None, timeout=60)
        await pilot.press("escape")
        assert app.screen is app.main and app.main.run.config.lr == 0.1


async def test_a_is_off_without_a_suggestion(make_trainer, make_app):
    flat = RangeTest((1e-5, 1e-4), (2.3, 2.3), (2.3, 2.3), None, RULES["steepest"], None, None,
                     "reached lr 10")  # fmt: skip
    app = make_app(make_trainer(), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = LrFindScreen(app.trainer, tester=lambda trainer, cancelled: flat)
        app.push_screen(screen)
        await wait_until(pilot, lambda: screen.result is not None)
        assert "no suggestion" in text(screen.query_one("#lr-find-verdict"))
        await pilot.press("a")
        assert app.screen is screen  # nothing to apply
        assert screen.check_action("apply", ()) is False


async def test_less_and_greater_than_slow_down_and_speed_up(make_trainer, make_app):
    app = make_app(make_trainer(), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        run = app.main.run
        await pilot.press("less_than_sign")
        assert run.config.slow == 20.0 and app.trainer.config.slow == 20.0
        await pilot.press("less_than_sign", "less_than_sign")
        assert run.config.slow == 5.0
        assert "slow motion        5/s" in text(app.main.panel)
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")
        assert run.config.slow == 0.0 and "slow motion        off" in text(app.main.panel)
        await pilot.press("greater_than_sign")  # full speed is the top: a bell, no change
        assert run.config.slow == 0.0
        assert not any(label.startswith("slow") for _, label in run.changes)  # not a mark


async def test_slow_motion_shows_single_batches(make_trainer, make_app):
    app = make_app(make_trainer(slow=10.0))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run.step >= 2)  # the screen shows batches
        # counted at the trainer over a whole second: the screen's count moves in bursts
        began, seen = time.monotonic(), app.trainer.step_count
        await pilot.pause(1.0)
        rate = (app.trainer.step_count - seen) / (time.monotonic() - began)
        assert 0 < rate <= 12  # 10 a second (one more at the window's edge), not hundreds


async def test_the_panel_sets_a_schedule_live_and_the_plan_shows(make_trainer, make_app):
    app = make_app(script(make_trainer(epochs=10), 3, batch=4), train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        assert not main.lr_plan.display
        await pilot.press("tab", "up", "up", "up", "up")  # wraps to the last four rows
        assert main.panel.field == "schedule"
        await pilot.press("right", "right")  # constant, step:3:0.1, cosine
        assert main.run.config.schedule == "cosine" == app.trainer.config.schedule
        await pilot.pause()
        assert main.lr_plan.display
        plan = text(main.lr_plan)
        assert plan.startswith("lr cosine ") and "now 0.0" in plan and "(base 0.1)" in plan
        await pilot.press("escape", "plus")  # the lr is the schedule's base, and says so
        assert main.run.config.lr == 0.2
        assert any("cosine schedule's base" in m for m in messages(app))
        marks = [label for _, label in main.run.changes]
        assert marks[-3:] == ["schedule step:3:0.1", "schedule cosine", "lr 0.2"]
        main.panel.focus()  # its cursor still on the schedule
        await pilot.press("down", "down", "right", "right", "right", "right")  # 10: 20 ... off
        assert main.panel.field == "divergence_factor"
        assert main.run.config.divergence_factor == 0.0
        assert "divergence ×       off" in text(main.panel)


async def test_a_schedule_change_is_marked_on_the_curve(make_trainer, make_app):
    app = make_app(make_trainer(epochs=50))  # 500 batches: still running at the change
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        await wait_until(pilot, lambda: main.run.step > 3)
        main.apply_setting("schedule", "cosine")
        await wait_until(pilot, lambda: "schedule cosine" in [t for _, t in main.run.changes])
        await wait_until(pilot, lambda: "lr 0.0" in text(main.status_bar))  # the lr now


class FakeApp:
    """Stands in for MLPApp in ``run_app``: keeps what it was given, and loads nothing."""

    made: dict = {}

    def __init__(self, **options) -> None:
        FakeApp.made = options
        self.loaded, self.launch_failed, self.loading_thread = False, None, None
        self.saved_on_quit, self.return_code = None, 0

    def run(self) -> None:
        pass


def test_paused_starts_the_app_paused(tiny_dir, monkeypatch):
    monkeypatch.setattr("mlp_tui.tui.app.MLPApp", FakeApp)
    argv = ["--paused", "--data-dir", str(tiny_dir), "--no-store", "--device", "cpu"]
    assert tui_main.main(argv) == 0
    assert FakeApp.made["paused"] is True
    assert tui_main.main(argv[1:]) == 0
    assert FakeApp.made["paused"] is False
