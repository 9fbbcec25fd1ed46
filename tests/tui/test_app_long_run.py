"""20 epochs in the app (headless Textual) with flat memory, and pauses that leave nothing.

The run is long enough for its plots, gallery and status line to be redrawn many times, so
anything the app keeps per redraw, per message or per batch beyond the run's own history would
show as growth between epoch 5 and epoch 20. ``pytest -s`` prints the numbers. Memory is read
from /proc (Linux).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import FashionMNIST
from mlp_tui.core.events import RunState
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.widgets.status_bar import StatusBar
from textual.widget import Widget

from ..conftest import make_images
from .conftest import press_now, wait_until

pytestmark = pytest.mark.slow  # 20 epochs in the app

EPOCHS = 20
SAMPLED = (2, 5, 10, 15)  # and the end
TRAIN, TEST = 20_000, 5_000  # about 1.5 s an epoch on 2 busy cores: 313 batches of 64
MIB = 1 << 20
RSS_GROWTH_LIMIT = 30 * MIB  # between epoch 5 and 20
PYTHON_GROWTH_LIMIT = 4 * MIB  # the batch losses the run keeps are ~100 bytes a batch
OBJECT_GROWTH_LIMIT = 5_000  # containers: a float is not one; a widget or a message is
CYCLES = 20  # pauses and resumes


def rss() -> int:
    """This process's resident memory, from the kernel."""
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("no /proc: resident memory is read from /proc/self/status")
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@dataclass(frozen=True)
class Sample:
    epoch: int
    seconds: float
    rss: int
    python: int  # bytes allocated by Python since epoch 2 (when tracing began), still alive
    objects: int  # objects the collector tracks

    def row(self) -> str:
        return (
            f"epoch {self.epoch:2d}  {self.seconds:5.1f} s  RSS {self.rss / MIB:7.1f} MiB  "
            f"Python {self.python / MIB:6.2f} MiB  objects {self.objects:,}"
        )


async def test_20_epochs_in_the_app_keep_memory_flat(make_app):
    images = FashionMNIST.from_uint8(*make_images(TRAIN, seed=1), *make_images(TEST, seed=2))
    trainer = Trainer(TrainConfig(epochs=EPOCHS, batch_size=64, device="cpu"), images)
    app = make_app(trainer, clock=time.monotonic)
    started = time.monotonic()
    samples: dict[int, Sample] = {}

    def sample(epoch: int) -> Sample:
        gc.collect()
        samples[epoch] = Sample(
            epoch,
            time.monotonic() - started,
            rss(),
            tracemalloc.get_traced_memory()[0],
            len(gc.get_objects()),
        )
        return samples[epoch]

    try:
        async with app.run_test(size=(120, 40)) as pilot:
            for epoch in SAMPLED:
                await wait_until(pilot, lambda e=epoch: trainer.epoch >= e, timeout=60)
                if epoch == 2:
                    tracemalloc.start()  # from here: tracing slows every allocation
                if epoch == 5:  # first: the snapshot's own objects are in every later sample
                    at_five = tracemalloc.take_snapshot()
                sample(epoch)
            await wait_until(pilot, lambda: app.main.run_state is RunState.FINISHED, timeout=60)
            await pilot.pause(0.3)  # the last redraws
            status = str(app.query_one(StatusBar).render())
            sample(EPOCHS)
            at_end = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()

    print()
    for each in samples.values():
        print(each.row())
    first, last = samples[5], samples[EPOCHS]
    rss_growth, python_growth = last.rss - first.rss, last.python - first.python
    print(
        f"epoch 5 -> {EPOCHS}: RSS {rss_growth / MIB:+.1f} MiB, Python {python_growth / MIB:+.2f}"
        f" MiB, objects {last.objects - first.objects:+,}, batches {trainer.step_count:,}"
    )
    for stat in at_end.compare_to(at_five, "lineno")[:8]:
        print("  ", stat)

    assert "Finished" in status and f"epoch {EPOCHS}/{EPOCHS}" in status
    assert trainer.epoch == EPOCHS and len(trainer.history) == EPOCHS
    assert rss_growth < RSS_GROWTH_LIMIT
    assert python_growth < PYTHON_GROWTH_LIMIT
    assert last.objects - first.objects < OBJECT_GROWTH_LIMIT


def detached_widgets() -> int:
    """Widgets still in memory that are no longer on any screen."""
    gc.collect()
    # type(), not isinstance(): that reads __class__, which some torch objects warn about
    return sum(issubclass(type(o), Widget) and not o.is_attached for o in gc.get_objects())


async def test_pausing_and_resuming_keeps_no_old_widgets(make_app):
    """Each pause and resume changes which keys apply, and the footer rebuilds its keys. The
    old ones must go: kept, each holds its render caches (~22 KiB a key, 15 keys a rebuild).
    Textual 8.2.8's Footer keeps them (Textualize/textual#6666); KeyFooter lets them go."""
    app = make_app()

    async def pause_and_resume(pilot) -> None:
        for state in (RunState.PAUSED, RunState.RUNNING):
            await press_now(pilot, "space")
            await wait_until(pilot, lambda s=state: app.main.run_state is s)
            await pilot.pause(0.05)

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.trainer.step_count > 3)
        for _ in range(3):  # the first redraws of each state, and SGD's lazy imports
            await pause_and_resume(pilot)
        await pilot.pause(0.2)
        before, rss_before = detached_widgets(), rss()
        for _ in range(CYCLES):
            await pause_and_resume(pilot)
        await pilot.pause(0.2)
        after, rss_after = detached_widgets(), rss()
    print(
        f"\n{CYCLES} pauses and resumes: {after - before:+} detached widgets kept, "
        f"RSS {(rss_after - rss_before) / MIB:+.1f} MiB"
    )
    assert after - before < 15  # at most one footer's keys, on their way out
