"""The issue's pathologies, typed as a user types them: each headless run prints its hint in
one ``hint:`` line, with what it saw and what to try, and stores it with the run.

``--init-scale 0`` (the all-zero initialisation through the seed's own init), ``--init
zeros``, ``--layers 1``, ``--lr 50 --divergence-factor off`` and a tiny lr. (The seed's
default run raising none, and the overfitting run, are ``test_health.py``'s.)"""

from __future__ import annotations

import re

import pytest
from mlp_tui.core.config import ConfigError, TrainConfig, parse_field
from mlp_tui.core.model import ScratchMLP
from mlp_tui.core.store import RunStore

from ._helpers import run_main
from .test_health import train


def headless(data_dir, tmp_path, *args: str, epochs: int = 2):
    """A headless run into a store of its own: its printed hint lines, its stored hints. The
    entry point runs in this process (a launch costs 1-3 s); test_watch_slowly.py launches the
    real console script for a headless run."""
    store_path = tmp_path / "runs.sqlite"
    done = run_main(
        "--headless", "--epochs", str(epochs), "--data-dir", str(data_dir), "--device", "cpu",
        "--store", str(store_path), *args,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr  # 1: a run that ended badly, said so
    lines = [line for line in done.stdout.splitlines() if line.startswith("hint: ")]
    with RunStore(store_path) as store:
        (run,) = store.runs()
        stored = store.hints(run.id)
    return done, lines, stored


def test_init_scale_0_is_typed_and_is_all_zeros():
    assert parse_field("init_scale", "0") == 0.0
    for bad, says in (("-0.01", "outside [0, 100]"), ("nan", "nan is not allowed")):
        with pytest.raises(ConfigError, match=re.escape(says)):
            parse_field("init_scale", bad)
    net = ScratchMLP(16, 0.0)
    assert all(not w.any() for w in net.weights)


@pytest.mark.parametrize(
    ("args", "advice"),
    [
        (("--init-scale", "0"), "Try: init scale 0.01 (the seed's)"),
        (("--init", "zeros"), "Try: init normal, xavier or kaiming"),
    ],
    ids=["init-scale-0", "init-zeros"],
)
def test_an_all_zero_start_is_one_symmetry_hint(tiny_dir, tmp_path, args, advice):
    done, lines, stored = headless(tiny_dir, tmp_path, *args)
    assert done.returncode == 0 and len(lines) == 1, done.stdout
    assert "the 256 units of hidden layer 1 are all alike" in lines[0] and advice in lines[0]
    assert [(h.kind, h.epoch) for h in stored] == [("symmetry", 0)]
    assert stored[0].line == lines[0].removeprefix("hint: ")


def test_layers_1_is_a_bottleneck(tiny_dir, tmp_path):
    _, lines, stored = headless(tiny_dir, tmp_path, "--layers", "1", epochs=1)
    assert [h.kind for h in stored] == ["bottleneck"], lines  # not "chance": not the lr
    assert "hidden layer 1 has a single unit" in lines[0] and "hidden layers 256" in lines[0]


def test_lr_50_with_the_divergence_check_off_says_the_loss_and_the_lr(tiny_dir, tmp_path):
    _, lines, stored = headless(
        tiny_dir, tmp_path, "--lr", "50", "--divergence-factor", "off", epochs=1
    )
    kinds = [h.kind for h in stored]
    assert "blown-up" in kinds and "diverged" not in kinds, lines  # nothing was refused
    (blown,) = [line for line in lines if "training loss" in line]
    assert "in epoch 1" in blown and "lr 50 caused it" in blown and "check off" in blown
    assert "blew up to" in blown or "is not a number" in blown
    assert "Try: a lower lr, e.g. 5, and divergence factor 10" in blown


def test_a_tiny_lr_says_how_small_the_steps_are_and_which_lr_fits(tiny_data):
    config = TrainConfig(lr=1e-5, epochs=1, batch_size=16, device="cpu")
    _, events = train(config, tiny_data)
    report = [e.report for e in events if e.report is not None][-1]
    assert all(0 < (layer.max_update_ratio or 0) < 1e-5 for layer in report.layers)
    (hint,) = [h for e in events for h in e.hints if h.kind == "lr-low"]
    assert "steps are tiny" in hint.text and "below 1e-05 the weights barely move" in hint.text
    suggested = float(hint.advice.split("about ")[1].split()[0])
    best = max(layer.max_update_ratio or 0 for layer in report.layers)
    assert suggested == pytest.approx(1e-5 * 1e-3 / best, rel=0.05)  # 1e-3 of the weights
    assert 100 * config.lr <= suggested <= 1.0


@pytest.mark.slow
def test_lr_50_off_on_the_real_data_is_blown_up_at_chance_with_dead_units(tmp_path):
    from tests.conftest import REAL_DIR

    if not (REAL_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip(f"real Fashion-MNIST not installed in {REAL_DIR}")
    _, lines, stored = headless(
        REAL_DIR, tmp_path, "--lr", "50", "--divergence-factor", "off", epochs=1
    )
    kinds = [h.kind for h in stored]
    assert {"blown-up", "chance", "lr-high"} <= set(kinds) and "diverged" not in kinds, lines
    # lr 50 is chaotic: the last rounding bit decides whether 255 or all 256 units die (the
    # compiled step and PyTorch's differ there), and the hint says which.
    dead = re.compile(r"(every unit|25\d of the 256 units) of hidden layer 1 (is|are) dead")
    assert any(dead.search(line) for line in lines), lines
    assert any("lr 50 caused it" in line for line in lines)
