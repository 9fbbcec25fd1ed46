"""Population training: every member trains as its own solo run would, to float rounding.

The reference is the solo ``Trainer`` with the same config (and so the same seed): the same
initial draws and data order, trained alone. Most tests use a real-data subset (12,000
training and 2,000 test images), where two epochs take seconds; the full data is slow-marked.
"""

from __future__ import annotations

import math

import pytest
import torch
from mlp_tui.core import population as population_module
from mlp_tui.core.config import ConfigError, TrainConfig
from mlp_tui.core.data import FashionMNIST
from mlp_tui.core.events import (
    BatchRefused,
    BatchReport,
    EpochReport,
    Predictions,
    RunState,
    StateChanged,
)
from mlp_tui.core.population import Member, Population, bytes_per_member
from mlp_tui.core.population_record import record
from mlp_tui.core.store import RunStore
from mlp_tui.core.trainer import Trainer

from ._helpers import metrics

BASE = TrainConfig(epochs=2, device="cpu")
GRID = [
    BASE.replace(lr=lr, hidden=hidden, seed=seed)
    for lr in (0.03, 0.1)
    for hidden in (64, 256)
    for seed in (0, 1)
]


@pytest.fixture(scope="module")
def subset(real_data: FashionMNIST) -> FashionMNIST:
    """The first 12,000 training and 2,000 test images of the real data."""
    return FashionMNIST.from_uint8(
        real_data.train_pixels[:12_000].view(-1, 28, 28),
        real_data.train_y[:12_000],
        real_data.test_flat[:2_000].view(-1, 28, 28),
        real_data.test_y[:2_000],
    )


def solo(config: TrainConfig, data: FashionMNIST) -> Trainer:
    trainer = Trainer(config, data)
    trainer.run()
    return trainer


def assert_as_solo(member: Member, data: FashionMNIST) -> None:
    """The member's figures are its solo run's, to float rounding: the loss to 2e-5, the
    accuracies to 0.02% of the training set (at least 3 examples) and 5 test images: after two
    epochs of the whole data at lr 0.1 a member was 5 training examples and 3 test images
    apart, a few borderline images flipping. The parameters, where hundreds of
    updates amplify the rounding (4.8e-4 of 0.134 after two epochs of the whole data at lr
    0.1), to 1% of each tensor's largest."""
    trainer = solo(member.config, data)
    assert member.state is trainer.state is RunState.FINISHED
    assert len(member.history) == len(trainer.history) == member.config.epochs
    n_train, n_test = len(trainer.data.train_y), len(data.test_y)
    for ours, theirs in zip(member.history, trainer.history):
        assert ours.train_loss == pytest.approx(theirs.train_loss, abs=2e-5)
        assert abs(ours.train_acc - theirs.train_acc) <= max(3, 2e-4 * n_train) / n_train
        assert abs(ours.test_acc - theirs.test_acc) <= 5 / n_test
        if theirs.val_acc is not None:
            assert ours.val_acc is not None and ours.val_loss is not None
            assert abs(ours.val_acc - theirs.val_acc) <= 2 / trainer.data.held_out
            assert ours.val_loss == pytest.approx(theirs.val_loss, abs=2e-5)
    assert member.params is not None
    for ours_p, theirs_p in zip(member.params, trainer.net.params, strict=True):
        theirs_p = theirs_p.detach()
        assert ours_p.shape == theirs_p.shape
        scale = float(theirs_p.abs().max()) or 1.0
        assert float((ours_p - theirs_p).abs().max()) <= 1e-2 * scale


def same_run(a: Member, b: Member) -> bool:
    """Bit for bit: the same figures and the same parameters."""
    assert a.params is not None and b.params is not None
    return metrics(a.history) == metrics(b.history) and all(
        torch.equal(x, y) for x, y in zip(a.params, b.params, strict=True)
    )


def same_to_rounding(a: Member, b: Member) -> bool:
    """The same accuracies, losses within 1e-6 and parameters within 1e-6: a few roundings."""
    assert a.params is not None and b.params is not None
    return (
        [(h.train_acc, h.test_acc) for h in a.history]
        == [(h.train_acc, h.test_acc) for h in b.history]
        and all(
            x.train_loss == pytest.approx(y.train_loss, abs=1e-6)
            for x, y in zip(a.history, b.history, strict=True)
        )
        and all(
            torch.allclose(x, y, rtol=0, atol=1e-6) for x, y in zip(a.params, b.params, strict=True)
        )
    )


@pytest.mark.slow  # real data, 2 epochs, a population and each member solo
def test_each_member_of_a_grid_trains_as_its_solo_run(subset):
    """lr x hidden width x seed: two stacks (one per width), each gathering its members'
    rows member by member (two seeds, two data orders)."""
    population = Population(GRID, subset)
    assert sorted(len(s.members) for s in population.stacks) == [4, 4]
    for member in population.run():
        assert_as_solo(member, subset)


@pytest.mark.slow
def test_the_grid_on_the_whole_data_trains_as_solo_runs(real_data):
    for member in Population(GRID, real_data).run():
        assert_as_solo(member, real_data)


@pytest.mark.slow  # real data, 2 epochs, a population and each member solo
def test_momentum_weight_decay_and_validation_as_solo(subset):
    """Each member's own momentum and weight decay (torch.optim.SGD's step, member by member),
    plain SGD beside them, and the validation split's figures."""
    configs = [
        BASE.replace(lr=0.05, momentum=0.9, val=2000),
        BASE.replace(lr=0.1, weight_decay=1e-3, val=2000),
        BASE.replace(lr=0.1, val=2000),
        BASE.replace(lr=0.05, momentum=0.5, weight_decay=1e-4, seed=3, val=2000),
    ]
    for member in Population(configs, subset).run():
        assert_as_solo(member, subset)


@pytest.mark.parametrize(
    ("activation", "narrow", "wide", "momentum", "weight_decay"),
    [("relu", (64,), (256,), 0.0, 0.0), ("tanh", (64, 32), (128, 48), 0.9, 1e-3)],
)
def test_a_zero_padded_member_keeps_its_zeros_and_trains_as_unpadded(
    subset, activation, narrow, wide, momentum, weight_decay
):
    """Padded into a wider stack, a member's zeros stay zeros (exactly) and it trains as in a
    stack of its own width to rounding: the wider products may be summed in another blocking
    by the BLAS (bit for bit with MKL on an AMD EPYC; on an Intel Xeon with AVX-512 the
    parameters were 9e-8 apart after two epochs, the loss 3e-8). And so as its solo run."""
    config = BASE.replace(
        layers=narrow, activation=activation, momentum=momentum, weight_decay=weight_decay
    )
    padded = Population([config, config.replace(layers=wide, lr=0.05, seed=2)], subset, pad=True)
    assert [s.widths for s in padded.stacks] == [wide]
    unpadded = Population([config, config.replace(lr=0.05, seed=2)], subset)
    ours, theirs = padded.run()[0], unpadded.run()[0]
    assert same_to_rounding(ours, theirs)
    net = padded.stacks[0].net  # after the run, as the members left it
    for (W, b), (fan_in, fan_out) in zip(net.hidden, zip((784, *narrow), narrow)):
        assert (
            not W[0, fan_in:].any() and not W[0, :, fan_out:].any() and not b[0, 0, fan_out:].any()
        )
    assert not net.out_w[0, :, narrow[-1] :].any()
    assert_as_solo(ours, subset)


def test_sigmoid_is_not_padded(subset):
    """sigmoid(0) = 0.5: padding would feed the next layer, so its widths are grouped."""
    configs = [BASE.replace(activation="sigmoid", hidden=h) for h in (32, 64)]
    assert sorted(s.widths for s in Population(configs, subset, pad=True).stacks) == [(32,), (64,)]


def test_a_split_population_trains_as_an_unsplit_one(subset):
    configs = [BASE.replace(epochs=1, lr=lr) for lr in (0.03, 0.05, 0.1, 0.2)]
    each = bytes_per_member(configs[0], (256,), gathers=False)
    split = Population(configs, subset, memory_limit=2 * each)
    assert [len(s.members) for s in split.stacks] == [2, 2]
    whole = Population(configs, subset)
    assert [len(s.members) for s in whole.stacks] == [4]
    for a, b in zip(split.run(), whole.run(), strict=True):
        assert same_run(a, b)


def test_a_diverging_member_is_frozen_and_the_others_go_on(subset):
    good = [BASE.replace(epochs=1, lr=0.03), BASE.replace(epochs=1, lr=0.1)]
    events: dict[int, list] = {}
    population = Population([*good, good[0].replace(lr=50.0)], subset)
    members = population.run(lambda i, e: events.setdefault(i, []).append(e))
    bad = members[2]
    assert bad.state is RunState.DIVERGED and bad.history == []
    assert "exceeds 10 x the first batch's" in bad.reason and "with lr 50" in bad.reason
    refused = [e for e in events[2] if isinstance(e, BatchRefused)]
    assert len(refused) == 1 and not refused[0].undone
    assert events[2][-1] == StateChanged(RunState.DIVERGED, bad.reason)
    assert bad.params is not None and all(torch.isfinite(p).all() for p in bad.params)
    alone = Population(good, subset).run()
    for a, b in zip(members[:2], alone, strict=True):
        assert a.state is RunState.FINISHED
        assert same_run(a, b)  # the frozen member changed nothing of theirs


def test_members_are_recorded_as_runs(tiny_data, tmp_path):
    """Each member's events, as a solo run's, make a stored run with its epochs and curve."""
    configs = [BASE.replace(lr=lr, batch_size=64, hidden=32) for lr in (0.1, 0.4, 1e4)]
    population = Population(configs, tiny_data)
    problems: list[str] = []
    store = RunStore(tmp_path / "runs.db")
    seen: dict[int, list] = {}
    recording = record(population, store, problems.append, sweep="lr sweep")

    def on_event(i, event):
        seen.setdefault(i, []).append(type(event))
        recording(i, event)

    members = population.run(on_event)
    assert problems == []
    batches = math.ceil(len(tiny_data.train_y) / 64)
    each_epoch = [BatchReport, Predictions, EpochReport]
    assert seen[0] == [StateChanged, *each_epoch * 2, StateChanged]
    runs = {r.summary.config["lr"]: r for r in store.records()}
    assert {r.summary.status for r in runs.values()} == {"finished", "diverged"}
    assert runs[1e4].summary.status == "diverged"
    for member in members[:2]:
        stored = runs[member.config.lr]
        assert stored.summary.sweep == "lr sweep"
        assert [e["test_acc"] for e in stored.epochs] == [r.test_acc for r in member.history]
        assert [step for step, _ in stored.losses] == list(range(1, 2 * batches + 1))
        assert store.find_uid(member.run_uid or "") == stored.summary.id


def test_members_with_fewer_epochs_leave_the_stack(tiny_data):
    """A member done with its epochs leaves; the others go on as their solo runs."""
    configs = [BASE.replace(epochs=e, batch_size=64, hidden=32, lr=0.2) for e in (1, 3, 2)]
    population = Population(configs, tiny_data)
    assert len(population.stacks) == 1
    members = population.run()
    assert [len(m.history) for m in members] == [1, 3, 2]
    for member in members:
        assert_as_solo(member, tiny_data)


def test_a_stop_ends_every_member_after_the_batch(tiny_data):
    configs = [BASE.replace(epochs=5, batch_size=64, hidden=32, lr=lr) for lr in (0.1, 0.2)]
    population = Population(configs, tiny_data)

    def on_event(i, event):
        if isinstance(event, EpochReport) and event.epoch == 2:
            population.stop()

    members = population.run(on_event)
    assert [m.state for m in members] == [RunState.STOPPED] * 2
    assert [len(m.history) for m in members] == [2, 2]


def test_dropout_is_refused_with_one_line(tiny_data):
    with pytest.raises(ConfigError, match="member 2: population training takes no dropout"):
        Population([BASE, BASE.replace(dropout=(0.5,))], tiny_data)


@pytest.mark.parametrize(
    "changes",
    [{}, {"momentum": 0.9, "weight_decay": 1e-3}, {"batch_size": 100}],
    ids=["seed", "momentum+wd", "short-last-batch"],
)
def test_the_cuda_graphs_body_trains_the_population_bit_for_bit(tiny_data, monkeypatch, changes):
    """The full batches as the graph takes them (indices at a counter on the device, the float
    table, the figures filed by the counter), uncaptured on the CPU: the same runs exactly, a
    diverging member, members leaving the stack and a new epoch's order included."""
    base = BASE.replace(**{"batch_size": 64, "hidden": 32, **changes})
    configs = [base.replace(epochs=e, lr=lr) for e, lr in ((1, 0.1), (3, 0.3), (2, 0.05))]
    configs.append(base.replace(epochs=3, lr=1e4))  # diverges
    runs = {}
    for body in (False, True):
        monkeypatch.setattr(population_module, "GRAPH_BODY_ON_CPU", body)
        population = Population(configs, tiny_data)
        assert population.stacks[0].graphs is body
        runs[body] = population.run()
    for graph, eager in zip(runs[True], runs[False], strict=True):
        assert graph.state is eager.state and graph.reason == eager.reason
        assert same_run(graph, eager)
    assert runs[True][3].state is RunState.DIVERGED
    assert [len(m.history) for m in runs[True]] == [1, 3, 2, 0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_cuda_graph_trains_the_population_bit_for_bit_on_a_gpu(tiny_data):
    base = BASE.replace(batch_size=64, hidden=32, device="cuda")
    configs = [base.replace(epochs=e, lr=lr) for e, lr in ((1, 0.1), (3, 0.3), (2, 0.05))]
    configs.append(base.replace(epochs=3, lr=1e4))  # diverges
    runs = {}
    for graphs in (True, False):
        population = Population(configs, tiny_data)
        for stack in population.stacks:
            stack.graphs = graphs
        runs[graphs] = population.run()
        assert all(stack.graph_error == "" for stack in population.stacks)
    for graph, eager in zip(runs[True], runs[False], strict=True):
        assert graph.state is eager.state and same_run(graph, eager)
