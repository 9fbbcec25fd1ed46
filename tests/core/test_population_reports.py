"""A population's reports within an epoch (``report_s``, the sweep screen's live curves): the
same batches, losses and stored runs as the end-of-epoch reports, and a member that diverges
is frozen and said so at the report that sees it."""

from __future__ import annotations

import pytest
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import BatchRefused, BatchReport, EpochReport, RunState, StateChanged
from mlp_tui.core.population import Population

BASE = TrainConfig(epochs=2, batch_size=64, hidden=32, device="cpu")
LRS = (0.1, 0.3, 1e4)


def train(data, report_s, order: list | None = None):
    events: dict[int, list] = {}
    population = Population([BASE.replace(lr=lr) for lr in LRS], data, report_s=report_s)

    def on_event(i, event):
        events.setdefault(i, []).append(event)
        if order is not None:
            order.append((i, type(event)))

    return population.run(on_event), events


def losses(events) -> list[float]:
    return [x for e in events if isinstance(e, BatchReport) for x in e.losses]


@pytest.mark.parametrize("report_s", [0.0, 1e-3])
def test_reports_within_an_epoch_carry_the_same_batches(tiny_data, report_s):
    whole, at_ends = train(tiny_data, None)
    live, often = train(tiny_data, report_s)
    for i in (0, 1):
        assert len([e for e in often[i] if isinstance(e, BatchReport)]) > 2  # more than 1 an epoch
        assert losses(often[i]) == losses(at_ends[i])  # bit for bit: the same floats
        steps = [e.step for e in often[i] if isinstance(e, BatchReport)]
        assert steps == sorted(steps) and steps[-1] == whole[i].step_count == live[i].step_count
        assert [r.test_acc for r in live[i].history] == [r.test_acc for r in whole[i].history]
        assert [type(e) for e in often[i]][-2:] == [EpochReport, StateChanged]


def test_a_diverging_member_is_frozen_at_the_report_that_sees_it(tiny_data):
    order: list = []
    live, often = train(tiny_data, 0.0, order)  # a report after every batch
    bad = live[2]
    assert bad.state is RunState.DIVERGED and bad.history == []
    kinds = [type(e) for e in often[2]]
    assert kinds[-2:] == [BatchRefused, StateChanged] and EpochReport not in kinds
    assert often[2][-1] == StateChanged(RunState.DIVERGED, bad.reason)
    assert [m.state for m in live[:2]] == [RunState.FINISHED] * 2
    # said at once, before the others' first epoch ended
    assert order.index((2, StateChanged), 1) < order.index((0, EpochReport))
