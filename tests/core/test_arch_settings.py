"""The architecture as settings: typed on the command line, checked, named in the store, kept
in checkpoints; a checkpoint of one network refuses to become another, and old ones still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlp_tui.core import checkpoint
from mlp_tui.core.cli import main
from mlp_tui.core.config import ConfigError, TrainConfig, parse_field
from mlp_tui.core.events import RunState
from mlp_tui.core.runs_cli import differing
from mlp_tui.core.store import RunStore, default_name
from mlp_tui.core.trainer import Trainer
from safetensors import safe_open

from tests.core._helpers import metrics, params, same_params

FORMAT_1 = Path(__file__).parent / "data" / "format1-hidden8.safetensors"  # made by main's code
DEEP = TrainConfig(epochs=1, batch_size=64, layers=(16, 8), activation="tanh", device="cpu")


def test_layers_are_typed_with_commas_or_the_sweep_spelling():
    assert parse_field("layers", "512,256,128") == (512, 256, 128)
    assert parse_field("layers", " 512x256 ") == (512, 256)
    assert parse_field("layers", "64") == (64,)
    assert parse_field("dropout", "0.2,0.5") == (0.2, 0.5)


@pytest.mark.parametrize(
    ("field", "text", "words"),
    [
        ("layers", "12,,3", "'12,,3' has an empty item"),
        ("layers", "0", "0 is outside [1, 16384]"),
        ("layers", "2.5", "'2.5' is not a whole number"),
        ("layers", ",".join(["8"] * 9), "at most 8"),
        ("activation", "foo", "'foo' is not one of relu, sigmoid, tanh, leaky_relu, gelu"),
        ("init", "he", "'he' is not one of normal, zeros, xavier, kaiming"),
        ("dropout", "1.5", "1.5 is outside [0, 1)"),
        ("dropout", "1", "1 is outside [0, 1)"),
    ],
)
def test_bad_architecture_values_are_one_clear_line(field, text, words):
    with pytest.raises(ConfigError, match=None) as err:
        parse_field(field, text)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_hidden_is_the_one_layer_spelling_of_layers():
    assert TrainConfig(hidden=64) == TrainConfig(layers=(64,)) == TrainConfig(layers=[64])
    deep = TrainConfig(layers=(512, 256))
    assert deep.hidden == 512 and deep.replace(hidden=64).layers == (64,)
    assert TrainConfig(hidden=64).replace(layers=(32, 16)).hidden == 32
    assert deep.replace(seed=3).layers == (512, 256)
    with pytest.raises(ConfigError, match="hidden 64 and layers 512,256 disagree"):
        TrainConfig(hidden=64, layers=(512, 256))
    assert TrainConfig(dropout=0.5).dropout == (0.5,) == deep.replace(dropout=(0.5, 0.5)).dropout
    with pytest.raises(ConfigError, match="dropout: 2 rates for 1 hidden layers"):
        TrainConfig(dropout=(0.5, 0.5)).validated()  # as (0.2, 0.5) is: more rates than layers
    with pytest.raises(ConfigError, match="dropout: 3 rates for 2 hidden layers"):
        deep.replace(dropout=(0.1, 0.2, 0.3))
    assert deep.replace(dropout=(0.2, 0.5)).dropout_per_layer == (0.2, 0.5)
    assert deep.replace(dropout=0.5).dropout_per_layer == (0.5, 0.5)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--layers", "12,,3"], "--layers: '12,,3' has an empty item"),
        (["--activation", "foo"], "--activation: 'foo' is not one of"),
        (["--dropout", "1.5"], "--dropout: 1.5 is outside [0, 1)"),
        (["--init", "ones"], "--init: 'ones' is not one of"),
        (["--hidden", "64", "--layers", "512,256"], "--hidden 64 and --layers 512,256 disagree"),
        (["--layers", "64x32", "--dropout", "0.1,0.2,0.3"], "--dropout: 3 rates for 2 hidden"),
    ],
)
def test_bad_architecture_options_exit_2_with_one_line(args, words, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["--headless", "--data-dir", str(tmp_path), *args])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ""
    assert err.count("\n") == 1 and words in err, err


def test_the_default_name_says_what_the_architecture_changes():
    assert default_name(TrainConfig()) == "seed defaults"
    assert default_name(TrainConfig(hidden=64)) == "hidden 64"
    assert default_name(TrainConfig(divergence_factor=0)) == "divergence factor off"
    deep = TrainConfig(layers=(512, 256), activation="tanh", init="xavier", dropout=(0.2, 0.5))
    assert default_name(deep) == "layers 512x256, activation tanh, init xavier, dropout 0.2x0.5"


def test_the_store_records_the_architecture_and_tables_show_it(tiny_dir, tmp_path, capsys):
    store_path = tmp_path / "runs.sqlite"
    common = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--epochs", "1",
              "--batch-size", "64", "--store", str(store_path)]  # fmt: skip
    assert main([*common, "--hidden", "16"]) == 0
    assert main([*common, "--layers", "16x8", "--activation", "gelu", "--dropout", "0.1"]) == 0
    runs = RunStore(store_path).runs()
    names = ["batch size 64, hidden 16", "batch size 64, layers 16x8, activation gelu, dropout 0.1"]
    assert [r.name for r in runs] == names
    assert runs[1].config["layers"] == [16, 8] and runs[1].config["activation"] == "gelu"
    assert differing(runs) == ["layers", "activation", "dropout"]  # not hidden: layers says it
    capsys.readouterr()
    assert main(["runs", "--store", str(store_path)]) == 0
    table = capsys.readouterr().out
    assert "16x8" in table and "gelu" in table
    assert main(["runs", "--json", "--store", str(store_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[1]["config"]["layers"] == [16, 8] and rows[1]["config"]["dropout"] == [0.1]


# ------------------------------------------------------------------------------ checkpoints
def test_a_deep_checkpoint_says_format_2_and_the_seeds_kind_stays_format_1(tiny_data, tmp_path):
    for config, version in ((DEEP, "2"), (DEEP.replace(layers=(16,), activation="relu"), "1")):
        trainer = Trainer(config, tiny_data)
        trainer.run()
        path = trainer.save(tmp_path / f"v{version}.safetensors").result()
        with safe_open(path, "pt") as f:
            assert f.metadata()["version"] == version
            assert set(f.keys()) >= set(trainer.net.NAMES)
        resumed = Trainer.from_checkpoint(path, tiny_data)
        assert resumed.config == config and same_params(params(resumed), params(trainer))


def test_a_checkpoint_of_one_network_refuses_another(tiny_data, tiny_dir, tmp_path, capsys):
    trainer = Trainer(DEEP, tiny_data)
    trainer.run()
    path = trainer.save(tmp_path / "deep.safetensors").result()
    cases = {
        "layers": ({"layers": (16,)}, "trained with layers=16,8; it cannot resume with layers=16 "
                   "(a 784-16-8-10 tanh network, not 784-16-10 tanh)"),
        "hidden": ({"hidden": 16}, "trained with layers=16,8; it cannot resume with layers=16"),
        "activation": ({"activation": "relu"}, "activation=tanh; it cannot resume with "
                       "activation=relu (a 784-16-8-10 tanh network, not 784-16-8-10 relu)"),
        "dropout": ({"dropout": 0.5}, "dropout=0; it cannot resume with dropout=0.5"),
        "init": ({"init": "zeros"}, "init=normal; it cannot resume with init=zeros"),
    }  # fmt: skip
    for overrides, words in cases.values():
        with pytest.raises(checkpoint.CheckpointError) as err:
            Trainer.from_checkpoint(path, tiny_data, **overrides)
        assert words in str(err.value) and "\n" not in str(err.value)
    args = ["--headless", "--data-dir", str(tiny_dir), "--resume", str(path), "--layers", "32"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "784-16-8-10 tanh" in err
    other = Trainer(DEEP.replace(layers=(16,)), tiny_data)
    with pytest.raises(ValueError, match="784-16-8-10 tanh network cannot be loaded into a "
                       "784-16-10 tanh one"):  # fmt: skip
        other.load_state_dict(trainer.state_dict())


def test_a_checkpoint_written_before_architectures_still_loads_and_resumes_exactly(
    tiny_data, tmp_path
):
    """A format-1 file from before architectures (one relu layer of 8, momentum, after epoch
    1, written on another CPU): it loads as today's checkpoint of the same state does and
    continues exactly as that one, and as a run straight through here to rounding (its first
    epoch was summed by that machine's BLAS, in its own order)."""
    assert "layers" not in checkpoint.read(FORMAT_1)[1]["config"]
    resumed = Trainer.from_checkpoint(FORMAT_1, tiny_data, epochs=2)
    assert resumed.config.layers == (8,) and resumed.config.activation == "relu"
    assert resumed.config.momentum > 0 and resumed.optimizer.state  # its buffers came too
    today = checkpoint.save(resumed.state_dict(), tmp_path / "today.safetensors")
    again = Trainer.from_checkpoint(today, tiny_data, epochs=2)
    assert resumed.run() is again.run() is RunState.FINISHED
    assert metrics(resumed.history) == metrics(again.history)
    assert same_params(params(resumed), params(again))
    straight = Trainer(resumed.config, tiny_data)
    assert straight.run() is RunState.FINISHED
    for ours, theirs in zip(resumed.history, straight.history, strict=True):
        assert ours.train_loss == pytest.approx(theirs.train_loss, abs=1e-5)
        assert (ours.train_acc, ours.test_acc) == (theirs.train_acc, theirs.test_acc)


def test_a_deep_run_exports_the_same_files(tiny_dir, tmp_path, capsys):
    from mlp_tui.core.export import FILES

    args = ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--epochs", "1",
            "--layers", "16x8", "--activation", "leaky_relu", "--no-store"]  # fmt: skip
    assert main([*args, "--export", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FILES)
    rows = (tmp_path / "out" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[0].startswith("epoch,train_loss")
    capsys.readouterr()
