"""The exercises' networks: any stack of hidden layers, activation, initialisation and dropout.
The fused step is held to the autograd step (the reference) for every combination, and runs of
them are as reproducible as the seed's: resumed, forked or rolled back, bit for bit."""

from __future__ import annotations

import math

import pytest
import torch
from mlp_tui.core.config import ACTIVATIONS, INITS, TrainConfig
from mlp_tui.core.events import RunState
from mlp_tui.core.model import AutogradStep, FusedStep, ScratchMLP, evaluate
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import EventLog, finish, metrics, params, same_params, start

DEPTHS = {1: (24,), 2: (24, 16), 3: (24, 16, 12)}
SGD = {"plain SGD": {}, "momentum and weight decay": {"momentum": 0.9, "weight_decay": 1e-3}}


def twin_steps(widths, activation, init, dropout, by_class):
    """A fused step and an autograd step on two nets drawn alike."""

    def net(w2_by_class: bool) -> ScratchMLP:
        g = torch.Generator().manual_seed(7)
        return ScratchMLP(
            widths, 0.1, g, w2_by_class=w2_by_class,
            activation=activation, init=init, dropout=dropout, dropout_seed=3,
        )  # fmt: skip

    return FusedStep(net(by_class)), AutogradStep(net(False))


def train_side_by_side(data, fused, autograd, sgd, batches=6, lr=0.3):
    """Both steps over the same batches; each batch's losses and predictions must agree."""
    optimizers = [torch.optim.SGD(s.net.params, lr=lr, **sgd) for s in (fused, autograd)]
    for batch in range(batches):
        X, y = data.train_batch(torch.arange(batch * 50, batch * 50 + 50) % 600)
        results = []
        for step in (fused, autograd):
            step.net.seed_dropout(batch)  # the same masks for both
            results.append(step.forward(X, y))
        (loss, predicted), (ref_loss, ref_predicted) = results
        torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-5)
        assert (predicted != ref_predicted).sum() <= 1  # a near tie may fall either way
        for step, optimizer in zip((fused, autograd), optimizers):
            step.update(optimizer)


@pytest.mark.parametrize("sgd", SGD.values(), ids=SGD.keys())
@pytest.mark.parametrize("dropout", [0.0, 0.3], ids=["no dropout", "dropout"])
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_fused_step_follows_the_autograd_step(tiny_data, activation, depth, init, dropout, sgd):
    """Loss batch by batch and every parameter after six updates, up to float rounding, in
    the layout the trainer uses on the CPU (the output weights stored by class)."""
    fused, autograd = twin_steps(DEPTHS[depth], activation, init, dropout, by_class=True)
    before = [p.detach().clone() for p in fused.net.params]
    train_side_by_side(tiny_data, fused, autograd, sgd)
    for name, ours, ref in zip(fused.net.NAMES, fused.net.params, autograd.net.params):
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=2e-6, msg=name)
    moved = [not torch.equal(a, b) for a, b in zip(before, fused.net.params)]
    assert moved[-1]  # the output bias always learns: the comparison is not of idle nets
    if init != "zeros":
        assert all(moved)


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_fused_step_follows_autograd_with_the_seeds_layout_too(tiny_data, activation, depth):
    """The layout CUDA uses (output weights hidden x 10, row by row), with dropout."""
    fused, autograd = twin_steps(DEPTHS[depth], activation, "xavier", 0.2, by_class=False)
    assert fused.class_dim == 1
    train_side_by_side(tiny_data, fused, autograd, {})
    for ours, ref in zip(fused.net.params, autograd.net.params):
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=2e-6)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_evaluation_has_no_dropout_and_matches_the_reference_form(tiny_data, activation):
    net = ScratchMLP((32, 16), 0.1, torch.Generator().manual_seed(2), activation=activation,
                     dropout=0.5)  # fmt: skip
    X, y = tiny_data.train_batch(torch.arange(100))
    fused = evaluate(net, X, y)
    seed_form = evaluate(net, X, y, seed_form=True)
    torch.testing.assert_close(fused.probs, seed_form.probs, rtol=1e-5, atol=1e-6)
    assert torch.equal(evaluate(net, X, y).probs, fused.probs)  # no mask: the same twice


def test_initialisations_draw_what_they_say():
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    seed = ScratchMLP(256, 0.01, g())
    normal = ScratchMLP((256,), 0.01, g(), init="normal")
    assert all(torch.equal(a, b) for a, b in zip(seed.params, normal.params))  # the seed's
    zeros = ScratchMLP((64, 32), 0.01, g(), init="zeros")
    assert all(not p.any() for p in zeros.params)
    for init, std in (("xavier", math.sqrt(2 / (784 + 512))), ("kaiming", math.sqrt(2 / 784))):
        W1 = ScratchMLP((512, 32), 0.01, g(), init=init).W1.detach()
        assert abs(float(W1.std()) / std - 1) < 0.02, init
        assert torch.equal(W1, torch.randn(784, 512, generator=g()) * std)


def test_parameters_are_named_layer_by_layer():
    net = ScratchMLP((32, 16), 0.01, torch.Generator().manual_seed(0), w2_by_class=True)
    assert net.NAMES == ("W1", "b1", "W2", "b2", "W3", "b3")
    assert [tuple(p.shape) for p in net.params] == [(784, 32), (32,), (32, 16), (16,), (16, 10),
                                                    (10,)]  # fmt: skip
    assert net.W3.t().is_contiguous() and net.W2.is_contiguous()  # only the output by class
    assert net.layers == (32, 16) and net.hidden == 32


# ------------------------------------------------------------------------------ whole runs
DEEP = TrainConfig(epochs=2, batch_size=32, layers=(32, 16), activation="gelu", dropout=(0.2,),
                   init="kaiming", lr=0.2, device="cpu")  # fmt: skip


def straight(data, config=DEEP) -> Trainer:
    trainer = Trainer(config, data)
    assert trainer.run() is RunState.FINISHED
    return trainer


def test_a_deep_run_with_dropout_is_a_function_of_its_config(tiny_data):
    first, second = straight(tiny_data), straight(tiny_data)
    assert metrics(first.history) == metrics(second.history)
    assert same_params(params(first), params(second))
    other = straight(tiny_data, DEEP.replace(seed=1))
    assert other.batch_losses != first.batch_losses
    without = straight(tiny_data, DEEP.replace(dropout=0.0))
    assert without.batch_losses != first.batch_losses  # the masks are live
    assert without.history[-1].train_loss < first.history[-1].train_loss


def test_fused_and_autograd_runs_agree_for_a_deep_net(tiny_data):
    for sgd in SGD.values():
        config = DEEP.replace(activation="tanh", **sgd)
        fused, autograd = (
            straight(tiny_data, config),
            straight(tiny_data, config.replace(engine="autograd")),
        )
        for ours, ref in zip(fused.history, autograd.history):
            assert abs(ours.train_loss - ref.train_loss) < 1e-5
            assert abs(ours.test_acc - ref.test_acc) <= 1 / 200


def test_a_deep_mid_epoch_save_resumes_exactly(tiny_data, tmp_path):
    log = EventLog()
    trainer = Trainer(DEEP.replace(momentum=0.9), tiny_data, log)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(26)  # epoch 2, batch 7
    log.wait_state(RunState.PAUSED, since=mark)
    path = tmp_path / "deep.safetensors"
    assert trainer.save(path).result(timeout=30) == path
    child = trainer.fork()
    trainer.stop()
    finish(thread)
    resumed = Trainer.from_checkpoint(path, tiny_data)
    assert resumed.config == DEEP.replace(momentum=0.9)
    reference = straight(tiny_data, DEEP.replace(momentum=0.9))
    for again in (resumed, child):
        assert again.run() is RunState.FINISHED
        assert metrics(again.history) == metrics(reference.history)
        assert same_params(params(again), params(reference))


def test_the_sync_free_path_trains_a_deep_net_as_the_eager_path(tiny_data):
    eager = straight(tiny_data)
    device = Trainer(DEEP, tiny_data, sync_free=True)
    assert device.run() is RunState.FINISHED
    assert device.batch_losses == eager.batch_losses
    assert same_params(params(device), params(eager))


def test_undoing_an_exploding_update_replays_the_same_masks(tiny_data):
    """The undo replays batches from an anchor: with dropout each must draw its own masks
    again, or the rolled-back parameters are not the run that never took the update."""
    config = DEEP.replace(epochs=1, lr=0.1)
    runs = {}
    for name, schedule in (
        ("diverged", [(0.1, 6), (1000.0, 1), (0.1, 1)]),
        ("straight", [(0.1, 6)]),
    ):
        log = EventLog()
        trainer = Trainer(config, tiny_data, log)
        trainer.steps.undo_log.span = 4
        thread = start(trainer, paused=True)
        log.wait_state(RunState.PAUSED)
        for lr, batches in schedule:
            trainer.update(lr=lr)
            mark = log.mark()
            trainer.step(batches)
            ended = log.wait_for(
                lambda e: getattr(e, "state", None) in (RunState.PAUSED, RunState.DIVERGED),
                since=mark,
            )
        runs[name] = (trainer, ended.state)
        trainer.stop()
        finish(thread)
    (diverged, state), (reference, _) = runs["diverged"], runs["straight"]
    assert state is RunState.DIVERGED and diverged.batch == reference.batch == 6
    assert same_params(params(diverged), params(reference))
