"""Pilot tests of the run controls: pause, step, learning rate, restart, quit, diverge, fail."""

from __future__ import annotations

import dataclasses
import random
import re
import time

from mlp_tui.core.events import RunState, StateChanged
from mlp_tui.tui.messages import TrainerEvent
from mlp_tui.tui.screens.confirm import ConfirmDialog
from mlp_tui.tui.screens.prompt import ValuePrompt
from mlp_tui.tui.screens.quit import QuitDialog
from mlp_tui.tui.widgets.hyperparameters import HyperparameterPanel
from mlp_tui.tui.widgets.status_bar import StatusBar
from textual import events

from .conftest import fill, messages, press_now, script, wait_until
from .test_inspect import shown


def status(app) -> str:
    return str(app.query_one(StatusBar).render())


def panel(app) -> str:
    return str(app.query_one(HyperparameterPanel).render())


async def test_space_pauses_and_resumes(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.step_count > 3)
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        steps = app.trainer.step_count
        await pilot.pause(0.1)
        assert app.trainer.step_count == steps  # really stopped between batches
        assert "Paused" in status(app)
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: app.trainer.step_count > steps)
        await wait_until(pilot, lambda: "Running" in status(app))


async def test_the_status_line_keeps_the_eta_at_80_columns(make_app, make_trainer):
    trainer = script(make_trainer(epochs=20), 6, batch=4)
    app = make_app(trainer, train=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.main.show_event(StateChanged(RunState.RUNNING, ""))
        app.main.run.progress.examples_per_s = 125_000.0  # as if measured
        app.main.redraw()
        await pilot.pause()
        line = status(app)
        assert "…" not in line and "ETA" in line and "elapsed 1:23" in line
        assert "epoch 7/20 batch 4/" in line  # single spaces where two did not fit


async def test_the_status_line_keeps_a_long_eta_whole_at_80_columns(make_app, make_trainer):
    """Before, a slow run's ETA was cut to ``ETA 22:…``: the device, then the elapsed time,
    give way first."""
    trainer = script(make_trainer(epochs=200, val=100), 9, batch=4, lr=0.0123456)
    trainer.history[-1] = dataclasses.replace(trainer.history[-1], val_acc=0.8123)
    app = make_app(trainer, train=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.main.show_event(StateChanged(RunState.RUNNING, ""))
        app.main.run.progress.examples_per_s = 0.9  # slow motion: hours to go
        app.main.redraw()
        await pilot.pause()
        line = status(app)
        assert re.search(r"ETA \d+:\d\d:\d\d$", line.strip()), line
        assert "…" not in line and "epoch 10/200" in line and "ex/s" in line, line


def ex_per_s(line: str) -> float:
    return float(re.search(r"([\d,.]+k?) ex/s", line)[1].replace(",", "").replace("k", "e3"))


def eta_seconds(line: str) -> int:
    minutes, seconds = re.search(r"ETA (\d+):(\d\d)", line).groups()
    return int(minutes) * 60 + int(seconds)


async def test_speed_and_eta_follow_slow_motion_and_a_pause_keeps_them(make_app, make_trainer):
    # 5 batches of 16 a second: 80 examples a second, whatever the compute speed. (The
    # trainer's per-report figure, averaged, read thousands; the ETA read a few seconds.)
    app = make_app(make_trainer(epochs=2, batch_size=16, slow=5.0), clock=time.monotonic)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.trainer.step_count >= 8)
        await wait_until(pilot, lambda: "ex/s" in status(app) and "ETA –" not in status(app))
        line = status(app)
        assert 40 <= ex_per_s(line) <= 120, line
        left = 2 * 600 - 16 * app.main.run.step  # about 1,100 examples at 80 a second
        assert left / 120 - 2 <= eta_seconds(line) <= left / 40 + 2, line
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: "Paused" in status(app))
        line = status(app)
        assert 40 <= ex_per_s(line) <= 120, line  # the speed before the pause, not another
        assert "ETA –" in line


async def test_n_trains_one_batch_while_paused_and_nothing_while_running(make_app):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.trainer.step_count == 1)
        await wait_until(pilot, lambda: app.main.run_state is RunState.PAUSED)
        await pilot.press("n", "n")
        await wait_until(pilot, lambda: app.trainer.step_count == 3)
        assert app.trainer.state is RunState.PAUSED
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: app.trainer.step_count > 5)
        assert app.main.check_action("step", ()) is None  # shown dimmed in the footer, does nothing


async def test_plus_and_minus_double_and_halve_the_learning_rate_live(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("+", "+")
        await wait_until(pilot, lambda: app.trainer.config.lr == 0.4)
        await wait_until(pilot, lambda: "lr 0.4" in status(app))
        assert "0.4" in panel(app)
        await pilot.press("-")
        await wait_until(pilot, lambda: app.trainer.config.lr == 0.2)
        assert app.trainer.lr_changes[-1] == (0, 0.2)


async def test_lr_beyond_its_range_is_a_message_and_changes_nothing(make_trainer, make_app):
    app = make_app(make_trainer(lr=800_000.0), paused=True)
    async with app.run_test() as pilot:
        await pilot.press("+")
        await wait_until(pilot, lambda: messages(app))
        assert "learning rate" in messages(app)[-1] and "outside" in messages(app)[-1]
        assert app.main.run.config.lr == app.trainer.config.lr == 800_000.0


async def test_l_sets_an_exact_learning_rate(make_app):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("l")
        assert isinstance(app.screen, ValuePrompt)
        await pilot.press(*"0.05", "enter")
        await wait_until(pilot, lambda: app.trainer.config.lr == 0.05)
        assert not isinstance(app.screen, ValuePrompt)


async def test_bad_lr_in_the_prompt_is_a_message_and_changes_nothing(make_app):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("l")
        prompt = app.screen
        for bad in ("abc", "-1", "0", "nan", "1e9"):
            await fill(pilot, bad)
            await pilot.press("enter")
            assert app.screen is prompt, bad  # still open: fix it or leave
            assert prompt.error.startswith("learning rate:"), (bad, prompt.error)
            assert app.trainer.config.lr == 0.1
        await pilot.press("escape")
        assert not isinstance(app.screen, ValuePrompt)
        assert app.trainer.config.lr == app.main.run.config.lr == 0.1


async def test_200_keys_in_a_burst_while_training_leave_a_consistent_lr(make_app):
    rng = random.Random(0)
    keys, level = [], 0
    while len(keys) < 200:  # stay within 2^-8 .. 2^8 of the start, well inside lr's range
        key = rng.choice("+-")
        if abs(level + (1 if key == "+" else -1)) <= 8:
            keys.append(key)
            level += 1 if key == "+" else -1
    expected = 0.1 * 2.0**level
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.step_count > 0)
        for key in keys:  # faster than any typist: straight into the app's event queue
            name = "plus" if key == "+" else "minus"
            app._driver.send_message(events.Key(name, key))
        await wait_until(pilot, lambda: app.trainer.config.lr == expected, timeout=20)
        await wait_until(pilot, lambda: f"lr {expected:g}" in status(app))
        assert app.main.run.config.lr == expected
        assert app.trainer.lr_changes[-1][1] == expected
        assert app.trainer.state in (RunState.RUNNING, RunState.DIVERGED)


async def test_r_restarts_only_after_yes(make_app):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("n", "n")
        await wait_until(pilot, lambda: app.trainer.step_count == 2)
        first = app.trainer
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        assert app.trainer is first and not isinstance(app.screen, ConfirmDialog)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await press_now(pilot, "y")
        await wait_until(pilot, lambda: app.trainer is not first)
        await wait_until(pilot, lambda: first.state is RunState.STOPPED)  # stop is a command
        await wait_until(pilot, lambda: app.trainer.step_count > 0)
        assert app.trainer.config == first.config


async def test_q_quits_at_once_without_progress(make_app):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("q")
        await wait_until(pilot, lambda: app._exit)


def dialog_text(app) -> str:
    return str(app.screen.query_one(".dialog-title").render())


async def test_q_says_where_the_unsaved_run_stands(make_app, make_trainer):
    app = make_app(make_trainer(epochs=2))
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.trainer.state is RunState.FINISHED)
        await press_now(pilot, "q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog))
        # Not "epoch 3, batch 0": the run finished its two epochs.
        assert "Unsaved progress: 2 epochs done." in dialog_text(app)
        # Save has the focus: enter saves
        await wait_until(pilot, lambda: getattr(app.focused, "id", None) == "save")
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("n", "n", "n")
        await wait_until(pilot, lambda: app.trainer.step_count == 3)
        await press_now(pilot, "q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog))
        expected = f"epoch 1, batch 3 of {app.trainer.batches_per_epoch}."
        assert expected in dialog_text(app)


async def test_q_while_training_never_hangs(make_app):
    app = make_app()
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.trainer.step_count > 2)
        await press_now(pilot, "q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await press_now(pilot, "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, QuitDialog))  # cancelled
        assert not isinstance(app.screen, QuitDialog) and not app._exit
        await press_now(pilot, "q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await press_now(pilot, "d")
        await wait_until(pilot, lambda: app._exit)
    await wait_until_stopped(app.trainer)


async def wait_until_stopped(trainer, timeout: float = 5.0) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while trainer.state is not RunState.STOPPED:
        assert time.monotonic() < deadline, trainer.state
        await asyncio.sleep(0.01)


async def test_q_with_progress_can_save_first(make_app, tmp_path):
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        await pilot.press("n")
        await wait_until(pilot, lambda: app.trainer.step_count == 1)
        await pilot.press("q", "s")
        assert isinstance(app.screen, ValuePrompt)
        await fill(pilot, str(tmp_path / "last.safetensors"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app._exit)
    assert (tmp_path / "last.safetensors").is_file()


async def test_diverged_run_shows_why_and_continues_with_a_lower_lr(make_trainer, make_app):
    app = make_app(make_trainer(lr=1000.0))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.DIVERGED)
        await wait_until(pilot, lambda: "Diverged" in status(app))
        assert "exceeds 10 x the first batch's" in status(app) and "with lr 1000" in status(app)
        assert "space to resume" in status(app)
        steps = app.trainer.step_count
        await pilot.press("l")
        await fill(pilot, "0.1")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.trainer.config.lr == 0.1)
        assert app.trainer.state is RunState.DIVERGED  # waits for the user, with the new lr
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: app.trainer.step_count > steps + 5)
        assert app.main.run_state is RunState.RUNNING
        await wait_until(pilot, lambda: "Running" in status(app) and "exceeds" not in status(app))


async def test_failure_in_the_training_thread_is_shown_and_quit_works(make_trainer, make_app):
    trainer = make_trainer()

    def broken(*batch):
        raise RuntimeError("out of cheese")

    trainer.steps.step = broken
    app = make_app(trainer)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.FAILED)
        await wait_until(pilot, lambda: any("out of cheese" in m for m in messages(app)))
        await wait_until(pilot, lambda: "Failed" in status(app))
        assert "out of cheese" in status(app)
        await pilot.press("q")
        await wait_until(pilot, lambda: app._exit)


async def test_a_runs_last_events_after_the_app_closed_are_dropped(make_app):
    """Quitting stops the run at its next batch; the events it sends on the way out can
    arrive after the screens are gone (seen as ScreenStackError from ``mlp-tui bench``)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.step_count > 3)
        run = app.main.run
    assert not app.screen_stack
    run.trainer.on_event(StateChanged(RunState.STOPPED, ""))  # posted to a closed screen
    app.main.on_trainer_event(TrainerEvent(run, StateChanged(RunState.STOPPED, "")))


async def test_enter_in_the_new_run_question_answers_no(make_app):
    """Before, the focused button was "New run": an enter or a space typed on started one."""
    app = make_app(paused=True)
    async with app.run_test() as pilot:
        first = app.trainer
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.screen.is_modal)
        assert app.trainer is first
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("space")  # nothing, or no: never yes
        await pilot.pause()
        assert app.trainer is first
        if app.screen.is_modal:
            await pilot.press("n")
        await pilot.press("r", "y")
        await wait_until(pilot, lambda: app.trainer is not first)


async def test_a_finished_run_offers_no_resume_or_step_in_the_footer(make_app, make_trainer):
    """Before, ``space Resume`` and ``n Step`` stayed in the footer of a finished run and did
    nothing when pressed."""
    trainer = script(make_trainer(epochs=10), 10)
    app = make_app(trainer, train=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.main.show_event(StateChanged(RunState.FINISHED, ""))
        await pilot.pause()
        footer = shown(app).splitlines()[-1]
        assert "Resume" not in footer and "Step" not in footer, footer
        assert "Quit" in footer
