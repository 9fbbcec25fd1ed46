"""``mlp-tui runs export --format tensorboard``: the event files read back in TensorBoard's own
reader hold the store's figures; without tensorboard it is one line and nothing is written."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest
from mlp_tui.core.cli import main
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.store import EPOCH_FIELDS, RunStore

RUNS = (  # name, lr, test accuracy per epoch
    ("baseline", 0.1, (0.70, 0.78, 0.81)),
    ('fast: lr 0.5 / "quick" ✓', 0.5, (0.75, 0.80)),
)


def make_store(path: Path) -> RunStore:
    """Two finished runs with epochs, a batch-loss curve (one diverged point) and events."""
    store = RunStore(path)
    for name, lr, accs in RUNS:
        config = TrainConfig(lr=lr, hidden=64, epochs=len(accs), device="cpu")
        run = store.create_run(config, name, status="finished")
        epochs = [(run, e, 1.2 - a, a + 0.01, a, lr, 2.0, 5000.0) for e, a in enumerate(accs, 1)]
        losses = [(run, step, 2.3 / step) for step in range(1, 40)] + [(run, 40, None)]
        events = [
            (run, "now", 12, "set", json.dumps({"field": "lr", "old": lr, "new": lr / 2})),
            (run, "now", 30, "set", json.dumps({"field": "momentum", "old": 0.0, "new": 0.9})),
            (run, "now", 40, "diverged", json.dumps({"reason": "loss 1e9"})),
        ]
        with store.transaction() as db:
            db.executemany(
                f"INSERT INTO epochs (run, epoch, {', '.join(EPOCH_FIELDS)})"
                f" VALUES (?, ?{', ?' * len(EPOCH_FIELDS)})",
                epochs,
            )
            db.executemany("INSERT INTO losses (run, step, loss) VALUES (?, ?, ?)", losses)
            db.executemany(
                "INSERT INTO events (run, at, step, kind, detail) VALUES (?, ?, ?, ?, ?)", events
            )
    return store


def f32(value: float) -> float:
    """What an event file keeps of a float: 32 bits."""
    return struct.unpack("f", struct.pack("f", value))[0]


def scalars(accumulator, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in accumulator.Scalars(tag)]


def test_export_writes_each_runs_figures_as_tensorboard_reads_them(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    path, out = tmp_path / "runs.sqlite", tmp_path / "tb"
    store = make_store(path)
    args = ["runs", "export", "--format", "tensorboard", "r1", "r2", str(out), "--store", str(path)]
    assert main(args) == 0
    assert f"tensorboard --logdir {out}" in capsys.readouterr().out
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["r1_baseline", "r2_fast_lr_0.5_quick"]  # ids first, safe characters
    for record, folder in zip(store.records([1, 2]), folders):
        events = EventAccumulator(str(out / folder), size_guidance={"scalars": 0, "tensors": 0})
        events.Reload()
        for tag in ("train_loss", "train_acc", "test_acc", "lr"):
            assert scalars(events, f"epoch/{tag}") == [
                (e["epoch"], f32(e[tag])) for e in record.epochs
            ]
        assert scalars(events, "batch/loss") == [  # the diverged batch's loss is left out
            (step, f32(loss)) for step, loss in record.losses if loss is not None
        ]
        lr = record.summary.config["lr"]
        assert scalars(events, "setting/lr") == [(0, f32(lr)), (12, f32(lr / 2))]
        assert scalars(events, "setting/momentum") == [(0, 0.0), (30, f32(0.9))]
        texts = {tag: events.Tensors(tag)[0].tensor_proto.string_val[0].decode()
                 for tag in ("config/text_summary", "events/text_summary")}  # fmt: skip
        assert "| hidden | 64 |" in texts["config/text_summary"]
        assert f"batch 12: lr {lr:g} -> {lr / 2:g}" in texts["events/text_summary"]
        assert "diverged: loss 1e9" in texts["events/text_summary"]
        content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = HParamsPluginData.FromString(content).session_start_info.hparams
        assert hparams["lr"].number_value == lr and hparams["engine"].string_value == "fused"


def test_exporting_again_replaces_a_runs_event_files(tmp_path):
    path, out = tmp_path / "runs.sqlite", tmp_path / "tb"
    make_store(path)
    args = ["runs", "export", "--format", "tensorboard", "r1", str(out), "--store", str(path)]
    assert main(args) == 0 and main(args) == 0
    assert len(list((out / "r1_baseline").iterdir())) == 1  # not one file per export
    assert [p.name for p in out.iterdir()] == ["r1_baseline"]  # no scratch folder left


def test_without_tensorboard_it_says_what_to_install_and_writes_nothing(
    tmp_path, capsys, monkeypatch
):
    path, out = tmp_path / "runs.sqlite", tmp_path / "tb"
    make_store(path).close()
    before = path.read_bytes()
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard: ImportError
    args = ["runs", "export", "--format", "tensorboard", "r1", str(out), "--store", str(path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'mlp-tui[tensorboard]'" in err
    assert not out.exists() and path.read_bytes() == before


@pytest.mark.parametrize("fmt", ["csv", "tensorboard"])
def test_the_format_is_csv_unless_asked(tmp_path, fmt):
    path, out = tmp_path / "runs.sqlite", tmp_path / "out"
    make_store(path)
    extra = [] if fmt == "csv" else ["--format", fmt]
    assert main(["runs", "export", *extra, "r2", str(out), "--store", str(path)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == (["r2.csv", "runs.csv"] if fmt == "csv" else ["r2_fast_lr_0.5_quick"])


def test_a_deep_run_with_a_split_exports_its_layers_and_validation_curves(
    tiny_dir, tmp_path, capsys
):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    path, out = tmp_path / "runs.sqlite", tmp_path / "tb"
    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--epochs", "2",
            "--layers", "16x8", "--val", "100", "--store", str(path), "--name", "deep"]  # fmt: skip
    assert main(args) == 0
    assert (
        main(["runs", "export", "--format", "tensorboard", "r1", str(out), "--store", str(path)])
        == 0
    )
    capsys.readouterr()
    record = RunStore(path).records([1])[0]
    events = EventAccumulator(str(out / "r1_deep"), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    for tag in ("val_acc", "val_loss"):
        assert scalars(events, f"epoch/{tag}") == [(e["epoch"], f32(e[tag])) for e in record.epochs]
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["layers"].string_value == "16x8" and hparams["val"].number_value == 100
