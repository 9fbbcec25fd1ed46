"""Training health: each hint fires on a run that shows its pathology and stays silent on the
seed's default run; the figures are right; measuring them changes no number of the run."""

from __future__ import annotations

import pytest
import torch
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import EpochReport, Health, RunState, StateChanged
from mlp_tui.core.health import HealthMonitor, Tally, histogram
from mlp_tui.core.health_report import BINS, HealthReport, LayerHealth
from mlp_tui.core.hints import overfitting
from mlp_tui.core.model import ScratchMLP, evaluate
from mlp_tui.core.recorder import record
from mlp_tui.core.store import RunStore
from mlp_tui.core.trainer import Trainer

from ._helpers import params, run_main, same_params

REAL = dict(device="cpu", epochs=1)


def train(config: TrainConfig, data) -> tuple[Trainer, list[Health]]:
    """Train headless; a diverged run stops there (as a headless run does)."""
    events: list[Health] = []

    def listen(event) -> None:
        if isinstance(event, Health):
            events.append(event)
        elif isinstance(event, StateChanged) and event.state is RunState.DIVERGED:
            trainer.stop()

    trainer = Trainer(config, data, listen)
    trainer.run()
    return trainer, events


def kinds(events: list[Health]) -> list[str]:
    return [h.kind for e in events for h in e.hints]


@pytest.mark.slow
def test_the_seeds_default_run_raises_no_hint(real_data):
    trainer, events = train(TrainConfig(device="cpu"), real_data)
    assert kinds(events) == []
    reports = [e.report for e in events if e.report is not None]
    assert [r.epoch for r in reports] == list(range(11))  # as initialised, then each epoch
    for r in reports[1:]:  # the seed's updates are healthy: 1e-3 to 1e-1 of the weights
        assert all(1e-4 < (layer.update_ratio or 0) < 1e-1 for layer in r.layers)
        assert r.layers[0].dead is not None and r.layers[0].dead < 0.5


def test_a_first_epoch_of_the_seed_raises_no_hint(real_data):
    _, events = train(TrainConfig(**REAL), real_data)
    assert kinds(events) == []


def test_lr_50_without_the_divergence_check_is_at_chance_with_dead_units(real_data):
    trainer, events = train(TrainConfig(lr=50, divergence_factor=1e12, **REAL), real_data)
    assert trainer.history[-1].test_acc < 0.15
    hints = {h.kind: h for e in events for h in e.hints}
    # Every unit dead on two threads; 255 of 256 on one (xdist's workers): the run is chaotic.
    assert "chance" in hints and "dead" in hints["chance"].text and "lr" in hints["chance"].advice
    assert "lr-high" in hints  # the first measured step moved the weights by more than their norm


@pytest.mark.parametrize(
    ("dead", "says"),
    [
        ((1.0,), "every unit of hidden layer 1 is dead (never active on the test set), so the"
                 " output sees nothing but constants."),
        ((255 / 256,), "255 of the 256 units of hidden layer 1 are dead (never active on the test"
                       " set), so the output sees next to nothing but constants."),
        ((1.0, 250 / 256), "every unit of hidden layer 1 and 250 of the 256 units of hidden"
                           " layer 2 are dead"),
        ((0.9,), "lr 50 is probably too high"),  # a tenth alive: not a dead network
    ],
)  # fmt: skip
def test_a_chance_run_names_its_dead_units_nearly_all_counted(dead, says):
    from mlp_tui.core.hints import chance

    def layer(name: str, share: float | None) -> LayerHealth:
        return LayerHealth(name, 256, share, None, False, 1.0, 0.5, 1.0, 2.0, (1,) * BINS, (1,))

    hidden = [layer(str(i + 1), share) for i, share in enumerate(dead)]
    report = HealthReport(1, 235, (*hidden, layer("output", None)), samples=1)
    history = [EpochReport(1, 2.3, 0.1, 0.1, lr=50, seconds=1.0, examples_per_s=6e4)]
    hint = chance(report, history, TrainConfig(lr=50, layers=(256,) * len(dead)))
    assert hint is not None and hint.kind == "chance" and says in hint.text, hint


def test_an_all_zero_initialisation_is_symmetric(real_data):
    _, events = train(TrainConfig(init="zeros", **REAL), real_data)
    assert kinds(events)[:1] == ["symmetry"]  # said at once, as initialised
    assert events[0].report is not None and events[0].report.epoch == 0
    assert "chance" not in kinds(events)  # the symmetry hint says why


def test_a_sigmoid_net_from_zeros_keeps_its_units_alike(tiny_data):
    """The units do learn there (sigmoid(0) = 0.5 passes a gradient), but all the same way."""
    _, events = train(
        TrainConfig(init="zeros", activation="sigmoid", epochs=2, batch_size=64, device="cpu"),
        tiny_data,
    )
    last = [e.report for e in events if e.report is not None][-1]
    assert last.layers[0].alike and last.layers[0].weight_norm > 0
    assert "symmetry" in kinds(events)


def test_a_one_unit_layer_is_a_bottleneck(tiny_data):
    _, events = train(TrainConfig(layers=(64, 1), epochs=1, batch_size=64, device="cpu"), tiny_data)
    hints = [h for e in events for h in e.hints if h.kind == "bottleneck"]
    assert len(hints) == 1 and "layer 2" in hints[0].text


def test_a_tiny_lr_makes_tiny_updates(real_data):
    _, events = train(TrainConfig(lr=1e-5, **REAL), real_data)
    assert "lr-low" in kinds(events)
    assert "chance" not in kinds(events)  # at chance, but because nothing moves: said so


def test_a_diverged_run_names_the_refused_loss_and_the_lr(tiny_data):
    trainer, events = train(TrainConfig(lr=500, epochs=1, batch_size=64, device="cpu"), tiny_data)
    assert trainer.state.value == "stopped"  # stopped by ``train`` when it diverged
    (hint,) = [h for e in events for h in e.hints if h.kind == "diverged"]
    assert "lr 5e+02" in hint.text and "refused" in hint.text and "lr, e.g. 50" in hint.advice


def epochs(pairs: list[tuple[float, float]]) -> list[EpochReport]:
    return [
        EpochReport(i, 0.5, train, val, 0.1, 1.0, 1.0, val_acc=val, val_loss=0.5)
        for i, (train, val) in enumerate(pairs, 1)
    ]


REPORT = HealthReport(6, 60, (), 0)


def test_overfitting_is_falling_validation_while_training_rises():
    rising_train = [
        (0.80, 0.70),
        (0.84, 0.71),
        (0.88, 0.72),
        (0.92, 0.69),
        (0.95, 0.68),
        (0.97, 0.67),
    ]
    hint = overfitting(REPORT, epochs(rising_train), TrainConfig())
    assert hint is not None and "best epoch (3, 72.0%)" in hint.advice


@pytest.mark.parametrize(
    "pairs",
    [
        [(0.80, 0.70), (0.84, 0.71), (0.88, 0.72), (0.90, 0.73), (0.92, 0.74), (0.93, 0.75)],
        [(0.50, 0.45), (0.55, 0.40), (0.52, 0.47), (0.56, 0.44), (0.53, 0.46), (0.57, 0.42)],
    ],
    ids=["both-rise", "noise-around-a-level"],
)
def test_no_overfitting_hint_without_a_trend(pairs):
    assert overfitting(REPORT, epochs(pairs), TrainConfig()) is None


def test_overfitting_on_a_small_training_subset(tiny_dir):
    """Memorising noise: half the labels of 40 training images are random, so learning them
    takes validation accuracy down as training accuracy goes up."""
    from mlp_tui.core import data

    whole = data.load(tiny_dir)
    g = torch.Generator().manual_seed(3)
    y = whole.train_y.clone()
    flip = torch.rand(len(y), generator=g) < 0.5
    y[flip] = torch.randint(0, 10, (int(flip.sum()),), generator=g)
    images = whole.train_pixels.reshape(-1, 28, 28)
    noisy = data.FashionMNIST.from_uint8(images, y, whole.test_pixels, whole.test_y)
    config = TrainConfig(epochs=60, batch_size=8, lr=0.5, layers=(256,), val=560, device="cpu")
    trainer, events = train(config, noisy)
    assert "overfitting" in kinds(events), [(r.train_acc, r.val_acc) for r in trainer.history]


def test_dead_units_and_saturation_are_counted_on_the_test_set(tiny_data):
    net = ScratchMLP(8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.b1[:2] = -1e3  # two units never active, the others always
        net.b1[2:] = 1e3
    tally = Tally(net)
    evaluate(net, tiny_data.test_flat, tiny_data.test_y, observe=tally)
    ((dead, saturated, hist),) = tally.figures()
    assert dead == pytest.approx(2 / 8) and saturated is None
    assert sum(hist) == 8 * len(tiny_data.test_y) and len(hist) == BINS
    tanh = ScratchMLP(
        8, init_scale=10.0, generator=torch.Generator().manual_seed(0), activation="tanh"
    )
    tally = Tally(tanh)
    evaluate(tanh, tiny_data.test_flat, tiny_data.test_y, True, observe=tally)  # the seed's form
    ((dead, saturated, _),) = tally.figures()
    assert dead is None and saturated > 0.9


def test_the_update_ratio_is_the_steps_change_over_the_weights(tiny_data):
    trainer = Trainer(TrainConfig(epochs=1, batch_size=64, hidden=16, device="cpu"), tiny_data)
    monitor: HealthMonitor = trainer.health
    before = [w.detach().clone() for w in trainer.net.weights]
    monitor.before_step(0)
    trainer.steps.start_epoch(torch.arange(len(tiny_data.train_y)), 64)
    trainer.steps.step(0, trainer.optimizer)
    monitor.after_step(trainer.optimizer)
    report = monitor.report(1, 1, Tally(trainer.net))
    for layer, w0, w1 in zip(report.layers, before, (w.detach() for w in trainer.net.weights)):
        assert layer.update_ratio == pytest.approx(float((w1 - w0).norm() / w0.norm()), rel=1e-4)
        assert layer.grad_norm == pytest.approx(float((w1 - w0).norm() / 0.1), rel=1e-4)
    assert monitor.next_sample == 200


@pytest.mark.parametrize(
    "changes",
    [{}, {"layers": (32, 16), "activation": "tanh", "dropout": 0.5, "momentum": 0.9}],
    ids=["seed", "deep-tanh-dropout-momentum"],
)
def test_measuring_health_changes_no_number_of_the_run(tiny_data, changes):
    config = TrainConfig(epochs=3, batch_size=16, device="cpu").replace(**changes)
    watched, _ = train(config, tiny_data)
    bare = Trainer(config, tiny_data, health=False)
    bare.run()
    assert bare.batch_losses == watched.batch_losses
    assert same_params(params(bare), params(watched))


def test_every_architecture_gets_its_figures(tiny_data):
    config = TrainConfig(
        layers=(64, 32), activation="sigmoid", epochs=1, batch_size=64, device="cpu"
    )
    _, events = train(config, tiny_data)
    report = [e.report for e in events if e.report is not None][-1]
    assert [layer.name for layer in report.layers] == ["1", "2", "output"]
    assert all(layer.saturated is not None and layer.dead is None for layer in report.hidden)
    assert report.layers[-1].activations is None and sum(report.layers[-1].weights) == 32 * 10


def test_hints_and_figures_are_stored_with_the_run(tiny_data, tmp_path, capsys):
    store = RunStore(tmp_path / "runs.sqlite")
    trainer = Trainer(TrainConfig(init="zeros", epochs=2, batch_size=64, device="cpu"), tiny_data)
    recorder = record(trainer, store, print)
    trainer.on_event = recorder
    trainer.run()
    (hint,) = store.hints(recorder.run_id)
    assert hint.kind == "symmetry" and hint.epoch == 0
    stored = store.health(recorder.run_id)
    assert [r.epoch for r in stored] == [0, 1, 2]
    assert stored[1].layers[0].alike and len(stored[1].layers) == 2
    store.close()
    from mlp_tui.core.runs_cli import main as runs

    assert runs(["show", recorder.short_id, "--store", str(tmp_path / "runs.sqlite")]) == 0
    shown = capsys.readouterr().out
    assert "hints:\n  epoch 0: the 256 units of hidden layer 1 are all alike" in shown


def test_a_headless_run_prints_each_hint_in_one_line(tiny_dir, tmp_path):
    done = run_main(
        "--headless", "--epochs", "2", "--init", "zeros", "--data-dir", str(tiny_dir),
        "--no-store", "--device", "cpu",
    )  # fmt: skip
    hints = [line for line in done.stdout.splitlines() if line.startswith("hint: ")]
    assert done.returncode == 0 and len(hints) == 1 and "all alike" in hints[0]
    assert "Try: init normal" in hints[0]


def test_the_histogram_bins_are_the_same_for_every_scale():
    values = torch.tensor([0.0, 1e-5, -1e-5, 0.5, -0.5, 1e3, -1e3])
    counts = histogram(values).tolist()
    assert len(counts) == BINS and sum(counts) == 7
    assert counts[0] == 1 and counts[-1] == 1 and counts[BINS // 2] == 3  # the ends; |x| < 1e-3


def test_layer_health_round_trips_through_json():
    from mlp_tui.core.health_report import layer_from_json, layer_to_json

    layer = LayerHealth("1", 4, 0.25, None, False, 1.0, 0.5, 1e-3, 2e-3, (1,) * BINS, None)
    assert layer_from_json(layer_to_json(layer)) == layer
