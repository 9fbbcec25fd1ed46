"""lr schedules: each against its formula (and torch's own schedulers where one exists), their
spellings, the trainer applying them batch by batch, and a mid-schedule resume that equals a
straight run."""

from __future__ import annotations

import math

import pytest
import torch
from mlp_tui.core import schedules
from mlp_tui.core.config import ConfigError, TrainConfig, parse_field
from mlp_tui.core.events import BatchReport, RunState
from mlp_tui.core.schedules import Schedule, lr_at, parse
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import EventLog, finish, start
from tests.core.test_determinism import assert_same_run, straight

BASE, SPE, EPOCHS = 0.4, 19, 5
TOTAL = SPE * EPOCHS


def torch_lrs(make_scheduler, steps: int = TOTAL) -> list[float]:
    """The lr torch's scheduler gives each of ``steps`` batches, starting from ``BASE``."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def ours(text: str, steps: int = TOTAL) -> list[float]:
    return [lr_at(s, TOTAL, SPE, BASE, parse(text)) for s in range(steps)]


def test_constant_is_the_base_lr_throughout():
    assert ours("constant") == [BASE] * TOTAL


def test_step_multiplies_every_e_epochs_as_step_lr():
    expected = [BASE * 0.5 ** (s // (2 * SPE)) for s in range(TOTAL)]
    assert ours("step:2:0.5") == expected
    lrs = torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2 * SPE, gamma=0.5))
    assert ours("step:2:0.5") == pytest.approx(lrs, rel=1e-12)


def test_cosine_falls_from_the_base_to_zero_as_cosine_annealing():
    expected = [BASE * (1 + math.cos(math.pi * s / TOTAL)) / 2 for s in range(TOTAL)]
    assert ours("cosine") == pytest.approx(expected, rel=1e-12)
    lrs = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=TOTAL))
    assert ours("cosine") == pytest.approx(lrs, rel=1e-9, abs=1e-15)
    assert ours("cosine")[0] == BASE and ours("cosine")[-1] < BASE / 1000


def test_warmup_rises_linearly_then_follows_a_cosine():
    rise = round(1.5 * SPE)  # warmup:1.5 over 19 batches an epoch: 28 batches
    lrs = ours("warmup:1.5")
    assert lrs[:rise] == pytest.approx([BASE * (s + 1) / rise for s in range(rise)], rel=1e-12)
    assert lrs[rise - 1] == pytest.approx(BASE)
    rest = TOTAL - rise
    cosine = [BASE * (1 + math.cos(math.pi * (s - rise) / rest)) / 2 for s in range(rise, TOTAL)]
    assert lrs[rise:] == pytest.approx(cosine, rel=1e-12)


@pytest.mark.parametrize("pct", [0.3, 0.25])
def test_onecycle_is_torch_one_cycle(pct):
    lrs = torch_lrs(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=BASE, total_steps=TOTAL, pct_start=pct, cycle_momentum=False
        )
    )
    mine = ours("onecycle" if pct == 0.3 else f"onecycle:{pct}")
    assert mine == pytest.approx(lrs, rel=1e-9)
    assert mine[0] == pytest.approx(BASE / 25) and max(mine) == pytest.approx(BASE, rel=1e-3)
    assert mine[-1] == pytest.approx(BASE / 25 / 1e4)


@pytest.mark.parametrize(
    ("typed", "spelled"),
    [
        ("constant", "constant"),
        (" Cosine ", "cosine"),
        ("step", "step:3:0.1"),
        ("step:2:0.5", "step:2:0.5"),
        ("warmup:1", "warmup:1"),
        ("warmup:0.5:cosine", "warmup:0.5"),
        ("onecycle", "onecycle"),
        ("onecycle:0.3", "onecycle"),
        ("onecycle:0.4", "onecycle:0.4"),
    ],
)
def test_each_schedule_has_one_spelling(typed, spelled):
    assert parse_field("schedule", typed) == spelled
    assert str(parse(spelled)) == spelled


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("linear", "is not a schedule; write constant, step:E:F"),
        ("step:0:0.1", "at least 1"),
        ("step:2", "write step:E:F"),
        ("step:2:x", "is not a number"),
        ("warmup", "write warmup:W"),
        ("warmup:-1", "more than 0"),
        ("onecycle:1.5", "outside (0, 1)"),
        ("cosine:2", "takes no arguments"),
    ],
)
def test_a_bad_schedule_is_one_clear_line(typed, says):
    with pytest.raises(ConfigError) as caught:
        parse_field("schedule", typed)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("lr schedule: ")


def test_the_plan_spans_the_run():
    steps, lrs = schedules.plan(TOTAL, SPE, BASE, Schedule("cosine"), 20)
    assert steps[0] == 0 and steps[-1] == TOTAL - 1 and len(steps) <= 22
    assert lrs == sorted(lrs, reverse=True)


# ----------------------------------------------------------------- in the trainer
CONFIG = TrainConfig(epochs=3, batch_size=32, hidden=32, device="cpu")  # 19 batches an epoch


@pytest.mark.parametrize("schedule", ["cosine", "warmup:0.5", "onecycle", "step:1:0.5"])
def test_the_trainer_trains_each_batch_at_the_scheduled_lr(tiny_data, schedule):
    log = EventLog()
    trainer = Trainer(CONFIG.replace(schedule=schedule, lr=0.3), tiny_data, log)
    trainer.report_interval = 0  # a report per batch, with its lr
    assert trainer.run() is RunState.FINISHED
    reported = [r.lr for r in log.of(BatchReport)]
    total = 3 * 19
    assert len(reported) == total
    expected = [lr_at(s, total, 19, 0.3, parse(schedule)) for s in range(total)]
    assert reported == pytest.approx(expected, rel=1e-12)
    # The epoch's row says the lr its last batch trained with.
    assert [r.lr for r in trainer.history] == [expected[19 * e - 1] for e in (1, 2, 3)]


def test_a_scheduled_run_differs_from_the_constant_one(tiny_data):
    constant = straight(tiny_data)
    cosine = straight(tiny_data, CONFIG.replace(schedule="cosine"))
    assert cosine.batch_losses[0] == constant.batch_losses[0]  # the same first batch
    assert cosine.batch_losses[5:] != constant.batch_losses[5:]


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "warmup:1", "step:1:0.5"])
def test_a_mid_schedule_save_resumes_exactly(tiny_data, tmp_path, schedule):
    config = CONFIG.replace(schedule=schedule, lr=0.5, momentum=0.9)
    log = EventLog()
    trainer = Trainer(config, tiny_data, log)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(26)  # epoch 2, batch 7: mid-schedule
    log.wait_state(RunState.PAUSED, since=mark)
    path = tmp_path / "mid.safetensors"
    assert trainer.save(path).result(timeout=30) == path
    trainer.stop()
    finish(thread)
    resumed = Trainer.from_checkpoint(path, tiny_data)
    assert resumed.config.schedule == schedule
    assert (resumed.epoch, resumed.batch) == (1, 7)
    assert resumed.run() is RunState.FINISHED
    assert_same_run(resumed, straight(tiny_data, config))


def test_a_live_lr_change_rescales_the_schedule(tiny_data):
    """``+`` on a cosine run doubles the base lr: the rest of the cosine is twice as high."""
    log = EventLog()
    trainer = Trainer(CONFIG.replace(schedule="cosine", lr=0.2), tiny_data, log)
    trainer.report_interval = 0
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(10)
    log.wait_state(RunState.PAUSED, since=mark)
    trainer.update(lr=0.4)
    trainer.resume()
    log.wait_state(RunState.FINISHED)
    finish(thread)
    lrs = [r.lr for r in log.of(BatchReport)]
    total = 3 * 19
    assert lrs[9] == pytest.approx(lr_at(9, total, 19, 0.2, parse("cosine")))
    assert lrs[10] == pytest.approx(lr_at(10, total, 19, 0.4, parse("cosine")))


def test_a_schedule_can_change_live(tiny_data):
    log = EventLog()
    trainer = Trainer(CONFIG.replace(lr=0.2), tiny_data, log)
    trainer.report_interval = 0
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(19)
    log.wait_state(RunState.PAUSED, since=mark)
    trainer.update(schedule="step:1:0.5")
    trainer.resume()
    log.wait_state(RunState.FINISHED)
    finish(thread)
    lrs = [r.lr for r in log.of(BatchReport)]
    assert lrs[:19] == [0.2] * 19
    assert lrs[19:38] == [0.1] * 19 and lrs[38:] == [0.05] * 19  # epochs 2 and 3 of step:1


@pytest.mark.parametrize("schedule", ["onecycle", "step:1:0.5"])
@pytest.mark.usefixtures("pytorch_cpu_step")  # held to the eager path op by op
def test_the_device_path_follows_the_schedule_as_the_eager_one(tiny_data, schedule):
    """The GPU path (run here on the CPU, its graphs' body uncaptured) replays no graph while
    a schedule runs (a graph holds its lr) and trains exactly as the eager path."""
    config = CONFIG.replace(schedule=schedule, lr=0.3)
    device = Trainer(config, tiny_data, sync_free=True)
    assert device.run() is RunState.FINISHED
    assert not device.steps.graphs
    assert_same_run(device, straight(tiny_data, config))
