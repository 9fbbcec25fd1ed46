"""The hyperparameter panel: arrows pick and step a field, enter types it; bad input changes
nothing; the fields that define the network start a new run only after a yes."""

from __future__ import annotations

import pytest
import torch
from mlp_tui.core.events import RunState
from mlp_tui.core.precision import cpu_bf16_support
from mlp_tui.tui.ladders import FIELDS
from mlp_tui.tui.screens.confirm import ConfirmDialog
from mlp_tui.tui.screens.prompt import ValuePrompt
from mlp_tui.tui.widgets.hyperparameters import HyperparameterPanel

from .conftest import fill, press_now, wait_until

ROW = {field: row for row, (field, _) in enumerate(FIELDS)}


def row(panel: HyperparameterPanel, field: str) -> str:
    """The panel's line for ``field``, as shown."""
    return str(panel.render()).split("\n")[ROW[field]]


async def select(pilot, field: str) -> HyperparameterPanel:
    """Focus the panel and move its cursor to ``field`` with the arrow keys."""
    panel = pilot.app.query_one(HyperparameterPanel)
    if not panel.has_focus:
        await pilot.press("tab")  # from the gallery to the panel
    assert panel.has_focus
    moves = ROW[field] - panel.cursor
    await press_now(pilot, *(["down"] * moves if moves > 0 else ["up"] * -moves))
    await pilot.pause()
    assert panel.field == field
    return panel


# field -> value after one press of right; all apply to the running trainer at once
LIVE_STEPS = {"lr": 0.2, "epochs": 11, "momentum": 0.5, "weight_decay": 1e-05}


async def test_right_steps_live_fields_and_left_steps_them_back(make_trainer, make_app):
    app = make_app(make_trainer(epochs=10), paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for field, stepped in LIVE_STEPS.items():
            before = getattr(app.trainer.config, field)
            panel = await select(pilot, field)
            await pilot.press("right")
            await wait_until(pilot, lambda f=field, v=stepped: getattr(app.trainer.config, f) == v)
            await wait_until(pilot, lambda f=field, v=stepped, p=panel: f" {v:g} " in row(p, f))
            await pilot.press("left")
            await wait_until(pilot, lambda f=field, v=before: getattr(app.trainer.config, f) == v)


async def test_batch_size_changes_from_the_next_epoch(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")  # into the first epoch: its batch size is fixed now
        await wait_until(pilot, lambda: app.trainer.step_count == 1)
        panel = await select(pilot, "batch_size")
        await pilot.press("right")
        await wait_until(pilot, lambda: app.trainer.config.batch_size == 128)
        assert app.trainer.epoch_batch_size == 64
        await wait_until(pilot, lambda: " 128 " in row(panel, "batch_size"))
        # The panel shows its own step at once; the screen's redraw marks it pending after.
        await wait_until(pilot, lambda: panel.pending_batch_size == 128)
        await press_now(pilot, "space")  # on into the next epoch, which has it
        await wait_until(pilot, lambda: app.trainer.epoch >= 1)
        await wait_until(pilot, lambda: panel.pending_batch_size is None)


# field -> value after right: each starts a new run, after the confirmation only
NEW_RUN_STEPS = {
    "layers": (512,),
    "activation": "sigmoid",
    "dropout": (0.1,),
    "init": "zeros",
    "init_scale": 0.02,
    "seed": 1,
    "device": "cpu",
    **({"precision": "bf16"} if cpu_bf16_support()[0] else {}),
}


@pytest.mark.slow  # every field (or size) in turn: ~10 s
async def test_network_fields_start_a_new_run_only_after_yes(make_trainer, make_app):
    app = make_app(make_trainer(device="auto"), paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for field, stepped in NEW_RUN_STEPS.items():
            first = app.trainer
            await select(pilot, field)
            await pilot.press("right")
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("n")
            assert app.trainer is first
            assert getattr(app.main.run.config, field) == getattr(first.config, field)
            await pilot.press("right")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await press_now(pilot, "y")
            await wait_until(pilot, lambda first=first: app.trainer is not first)
            assert getattr(app.trainer.config, field) == stepped
            # The old run gets its stop as a command, on its own thread: soon, not at once.
            await wait_until(pilot, lambda first=first: first.state is RunState.STOPPED)
            await wait_until(pilot, lambda: app.trainer.step_count > 0)  # the new run trains
            await press_now(pilot, "space")  # pause it: the next field again starts paused
            await wait_until(pilot, lambda: app.trainer.state is RunState.PAUSED)


async def test_enter_types_an_exact_value(make_trainer, make_app):
    typed = {"lr": "0.037", "epochs": "7", "momentum": "0.85", "weight_decay": "0.0003"}
    typed["batch_size"] = "100"
    app = make_app(make_trainer(epochs=10), paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for field, text in typed.items():
            await select(pilot, field)
            await pilot.press("enter")
            assert isinstance(app.screen, ValuePrompt)
            await fill(pilot, text)
            await pilot.press("enter")
            expected = type(getattr(app.main.run.config, field))(text)
            await wait_until(pilot, lambda f=field, v=expected: getattr(app.trainer.config, f) == v)


BAD = {
    "lr": ["abc", "0", "inf"],
    "batch_size": ["1.5", "0"],
    "layers": ["0", "99999999", "12,,3", "1,2,3,4,5,6,7,8,9"],
    "activation": ["foo", ""],
    "dropout": ["1", "-0.1", "0.1,0.2"],  # two rates for the one layer
    "init": ["ones"],
    "epochs": ["0", "x"],
    "init_scale": ["-1", "nan"],
    "momentum": ["1.5", ""],
    "weight_decay": ["2", "?"],
    "seed": ["-1", "0.5"],
    "device": ["tpu", "cuda:99"],
    "schedule": ["linear", "step:0:0.1", "onecycle:2"],
    "slow": ["-1", "fast", "5000"],
    "divergence_factor": ["1", "0.5", "never"],
    "precision": ["fp16", "", *([] if torch.cuda.is_available() else ["tf32"])],  # tf32: CUDA's
}


@pytest.mark.slow  # every field (or size) in turn: ~10 s
async def test_bad_input_in_every_field_is_a_message_and_changes_nothing(make_app):
    app = make_app(paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        before, trainer = app.main.run.config, app.trainer
        for field, _ in FIELDS:
            await select(pilot, field)
            await pilot.press("enter")
            prompt = app.screen
            for bad in BAD[field]:
                await fill(pilot, bad)
                await press_now(pilot, "enter")
                await pilot.pause()
                assert app.screen is prompt, (field, bad)  # still open: fix it or leave
                assert prompt.error, (field, bad)
                assert app.main.run.config == trainer.config == before and app.trainer is trainer
            await pilot.press("escape")
            assert app.screen is not prompt and app.main.run.config == before


async def test_more_epochs_continue_a_finished_run(make_trainer, make_app):
    app = make_app(make_trainer(epochs=1))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED)
        assert app.main.check_action("resume", ()) is False  # nothing to resume: not offered
        await select(pilot, "epochs")
        await pilot.press("right")
        await wait_until(pilot, lambda: app.main.run_state is RunState.PAUSED)
        await press_now(pilot, "space")
        await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED)
        assert app.trainer.epoch == 2 and len(app.trainer.history) == 2


async def test_layers_typed_as_a_stack_start_a_new_run_after_yes(make_trainer, make_app):
    app = make_app(make_trainer(), paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        first = app.trainer
        panel = await select(pilot, "layers")
        await pilot.press("enter")
        await fill(pilot, "64x32")  # the sweep spelling; shown back with commas
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "hidden layers 64,32" in app.screen.question
        await press_now(pilot, "y")
        await wait_until(pilot, lambda: app.trainer is not first)
        assert app.trainer.config.layers == (64, 32)
        assert [p.shape[1] for p in app.trainer.net.weights] == [64, 32, 10]
        await wait_until(pilot, lambda: " 64,32 " in row(panel, "layers"))
        await wait_until(pilot, lambda: app.trainer.step_count > 0)  # the deep run trains


async def test_the_panel_scrolls_to_keep_the_cursor_in_view(make_app):
    """At 80x32 every field fits; a shorter panel shows the ones around the cursor (below
    80x24 the app shows a notice instead, so the panel is made short here)."""
    app = make_app(paused=True)
    async with app.run_test(size=(80, 32)) as pilot:
        panel = await select(pilot, "device")
        assert len(str(panel.render()).split("\n")) == len(FIELDS)
    app = make_app(paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(HyperparameterPanel).styles.max_height = 8
        panel = await select(pilot, "device")
        lines = str(panel.render()).split("\n")
        assert len(lines) == panel.content_size.height < len(FIELDS)
        assert any(line.startswith("▸ device") for line in lines)
        await select(pilot, "lr")
        assert str(panel.render()).startswith("▸ learning rate")


async def test_a_run_with_a_validation_split_says_it_and_shows_val_acc(make_trainer, make_app):
    from mlp_tui.tui.widgets.status_bar import StatusBar

    app = make_app(make_trainer(epochs=1, val=100))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED)
        notes = [n.message for n in app._notifications]
        assert any("validation: 100 of the 600 training images held out" in n for n in notes)
        val = app.trainer.history[-1].val_acc
        await wait_until(
            pilot, lambda: f"val acc {val:.2%}" in str(app.query_one(StatusBar).render())
        )


@pytest.mark.skipif(not cpu_bf16_support()[0], reason="this CPU has no bf16 instructions")
async def test_a_bf16_run_is_labelled_beside_its_device_and_an_fp32_one_is_not(
    make_trainer, make_app
):
    from mlp_tui.tui.widgets.status_bar import StatusBar

    for precision, label in (("bf16", "  cpu bf16  "), ("fp32", "  cpu  ")):
        app = make_app(make_trainer(precision=precision), paused=True)
        async with app.run_test(size=(120, 40)) as pilot:
            bar = app.query_one(StatusBar)
            await wait_until(pilot, lambda bar=bar, label=label: label in str(bar.render()))
            assert row(app.query_one(HyperparameterPanel), "precision").split()[1] == precision
