"""--val N: N training images held out, the same ones for every run, scored each epoch; the
run trains on the rest only, and its figures reach the report, the store and the tables."""

from __future__ import annotations

import json

import pytest
import torch
from mlp_tui.core import data as data_module
from mlp_tui.core.checkpoint import CheckpointError
from mlp_tui.core.cli import main
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import FashionMNIST, to_unit
from mlp_tui.core.events import RunState
from mlp_tui.core.store import RunStore
from mlp_tui.core.trainer import Trainer
from safetensors import safe_open
from torch import nn

from tests.core._helpers import EventLog, finish, metrics, params, same_params, start

CONFIG = TrainConfig(epochs=2, batch_size=32, hidden=32, lr=0.3, val=100, device="cpu")


def test_the_split_is_one_fixed_choice_disjoint_from_training(tiny_data):
    split = tiny_data.holdout(100)
    assert (split.held_out, len(split.train_y)) == (100, 500)
    assert split.fingerprint == tiny_data.fingerprint  # checkpoints name the whole dataset
    assert split.holdout(100) is split and split.holdout(0) is tiny_data
    again = data_module.load(tiny_data.source).holdout(100)
    assert torch.equal(again.val_flat, split.val_flat) and torch.equal(again.val_y, split.val_y)
    rows = {bytes(r.numpy()) for r in tiny_data.train_pixels}
    assert {bytes(r.numpy()) for r in split.val_flat} | {
        bytes(r.numpy()) for r in split.train_pixels
    } == rows  # every image is in one part (the tiny images are all distinct)
    assert len(rows) == 600
    other = split.holdout(50)
    assert other.held_out == 50 and other.whole is tiny_data
    with pytest.raises(ValueError, match="leave none to train on"):
        tiny_data.holdout(600)


def test_a_run_trains_on_the_rest_only_and_scores_the_held_out(tiny_data):
    trainer = Trainer(CONFIG, tiny_data)
    assert trainer.run() is RunState.FINISHED
    assert trainer.batches_per_epoch == 16  # 500 images in batches of 32
    split = tiny_data.holdout(100)
    # The same run on a dataset of the kept images alone: the same parameters, bit for bit.
    kept = FashionMNIST(split.train_pixels, split.train_y, split.test_flat, split.test_y,
                        split.test_pixels, "kept")  # fmt: skip
    alone = Trainer(CONFIG.replace(val=0), kept)
    alone.run()
    assert same_params(params(trainer), params(alone))
    assert [r.train_loss for r in trainer.history] == [r.train_loss for r in alone.history]
    # The validation figures, by the seed's formulation on the held-out images.
    W1, b1, W2, b2 = (p.detach() for p in trainer.net.params)
    X = to_unit(split.val_flat)
    logits = torch.max(X @ W1 + b1, torch.zeros(1)) @ W2 + b2
    report = trainer.history[-1]
    assert report.val_acc == pytest.approx(float((logits.argmax(1) == split.val_y).float().mean()))
    loss = float(nn.CrossEntropyLoss()(logits, split.val_y))
    assert report.val_loss == pytest.approx(loss, rel=1e-5)
    assert alone.history[-1].val_acc is None and "val_acc" not in alone.history[-1].as_dict()


def test_a_mid_epoch_save_with_a_split_resumes_exactly(tiny_data, tmp_path):
    log = EventLog()
    trainer = Trainer(CONFIG, tiny_data, log)
    thread = start(trainer, paused=True)
    log.wait_state(RunState.PAUSED)
    mark = log.mark()
    trainer.step(20)  # epoch 2, batch 4
    log.wait_state(RunState.PAUSED, since=mark)
    path = tmp_path / "val.safetensors"
    assert trainer.save(path).result(timeout=30) == path
    trainer.stop()
    finish(thread)
    with safe_open(path, "pt") as f:
        assert f.metadata()["version"] == "2"  # an older mlp-tui would train on every image
    resumed = Trainer.from_checkpoint(path, tiny_data)
    assert resumed.run() is RunState.FINISHED
    straight = Trainer(CONFIG, tiny_data)
    straight.run()
    assert metrics(resumed.history) == metrics(straight.history)
    assert [r.val_acc for r in resumed.history] == [r.val_acc for r in straight.history]
    with pytest.raises(CheckpointError, match="trained with val=100; it cannot resume with val=0"):
        Trainer.from_checkpoint(path, tiny_data, val=0)


def test_headless_reports_the_split_and_the_store_keeps_the_figures(tiny_dir, tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    common = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--epochs", "2",
              "--hidden", "16", "--store", str(store)]  # fmt: skip
    metrics_out = tmp_path / "m.jsonl"
    assert main([*common, "--val", "100", "--metrics-out", str(metrics_out)]) == 0
    out = capsys.readouterr().out
    assert "validation: 100 of the 600 training images held out, the same for every run" in out
    assert "500 to train on" in out and "val acc" in out and "val loss" in out
    rows = [json.loads(line) for line in metrics_out.read_text().splitlines()]
    assert all(0 <= row["val_acc"] <= 1 and row["val_loss"] > 0 for row in rows)
    assert main(common) == 0  # one run without a split, beside it
    capsys.readouterr()
    runs = RunStore(store).runs()
    assert runs[0].config["val"] == 100 and runs[0].best_val_acc == max(r["val_acc"] for r in rows)
    assert runs[1].best_val_acc is None
    assert main(["runs", "--store", str(store)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "best val" in header and "final val" in header and "val" in header.split()
    assert main(["runs", "--store", str(store), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["epochs"][0]["val_acc"] == rows[0]["val_acc"]
    assert "val_acc" not in listed[1]["epochs"][0]  # no split: no validation figures
    assert main(["runs", "show", "r1", "--store", str(store)]) == 0
    assert "val_acc" in capsys.readouterr().out


def test_a_split_that_leaves_nothing_to_train_on_is_one_line(tiny_dir, capsys):
    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--no-store"]
    assert main([*args, "--val", "600"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "600 of 600 training images leave none to train on" in err
    with pytest.raises(SystemExit):
        main([*args, "--val", "-1"])
    assert "--val: -1 is outside" in capsys.readouterr().err


def test_a_table_without_any_split_has_no_validation_columns(tiny_dir, tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--epochs", "1",
            "--store", str(store)]  # fmt: skip
    assert main(args) == 0 and main([*args, "--lr", "0.5"]) == 0
    capsys.readouterr()
    assert main(["runs", "--store", str(store)]) == 0
    assert "val" not in capsys.readouterr().out.splitlines()[0]


def test_a_comparison_picks_by_validation_and_reads_the_test_set_there(tiny_dir, tmp_path, capsys):
    """The exercise's "do not tune on the test set": the comparison says which epoch had the best
    validation accuracy and that epoch's test accuracy, beside the best test accuracy."""
    store = tmp_path / "runs.sqlite"
    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--epochs", "4",
            "--hidden", "16", "--val", "100", "--store", str(store)]  # fmt: skip
    assert main(args) == 0 and main([*args, "--lr", "0.5"]) == 0
    capsys.readouterr()
    assert main(["runs", "compare", "r1", "r2", "--store", str(store)]) == 0
    rows = {
        line.split("  ")[0].strip(): line.split()[-2:]
        for line in capsys.readouterr().out.splitlines()
    }
    for column, record in enumerate(RunStore(store).records([1, 2])):
        best = max(record.epochs, key=lambda e: e["val_acc"])
        assert float(rows["best val acc"][column]) == round(best["val_acc"], 4)
        assert float(rows["test acc there"][column]) == round(best["test_acc"], 4)
        assert float(rows["final val acc"][column]) == round(record.epochs[-1]["val_acc"], 4)
