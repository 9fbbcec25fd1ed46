"""Sweeps trained on the tiny data: every member a run in the store under one sweep id,
resumed without retraining what is done, a diverged member marked while the rest go on, and
the results ranked on validation with the test accuracy beside."""

from __future__ import annotations

import json
import sqlite3

import pytest
from mlp_tui.core import sweep_results, sweep_store
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.store import RunStore
from mlp_tui.core.sweep import parse_spec
from mlp_tui.core.sweep_cli import main
from mlp_tui.core.sweep_run import MemberEnded, MemberStarted, SweepRun, SweepStarted

BASE = TrainConfig(epochs=2, batch_size=64, hidden=16, device="cpu", val=100)


@pytest.fixture
def store(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as store:
        yield store


def run_sweep(spec, store, data, stop_after: int | None = None):
    """Train ``spec``; with ``stop_after``, stop once that many members have started."""
    seen: list = []
    sweep: SweepRun

    def on_event(event):
        seen.append(event)
        if isinstance(event, MemberStarted) and stop_after is not None:
            if sum(isinstance(e, MemberStarted) for e in seen) > stop_after:
                sweep.stop()

    sweep = SweepRun(spec, store, data, on_event)
    return sweep, sweep.run(), seen


def test_every_member_is_a_run_under_one_sweep_id(store, tiny_data):
    spec = parse_spec(["lr=0.1,0.5", "hidden=8,16"], BASE)
    sweep, status, seen = run_sweep(spec, store, tiny_data)
    assert status == "finished" and sweep.sweep_id == "s1"
    runs = store.runs()
    assert len(runs) == 4 and {r.sweep for r in runs} == {"s1"}
    assert {r.status for r in runs} == {"finished"} and {r.epochs for r in runs} == {2}
    assert [r.name for r in runs] == [m.name for m in spec.members()]
    assert [r.config["lr"] for r in runs] == [0.1, 0.1, 0.5, 0.5]
    row = sweep_store.find(store, 1)
    assert (row.spec, row.status, row.members) == (spec.text, "finished", 4)


def test_results_rank_on_validation_and_give_the_test_accuracy_beside(store, tiny_data):
    spec = parse_spec(["lr=0.05,0.5"], BASE, seeds=2)
    run_sweep(spec, store, tiny_data)
    results = sweep_results.load(store, spec, 1)
    assert results.by_val and len(results.ranked) == 2
    best, worst = results.ranked
    assert best.score is not None and worst.score is not None and best.score >= worst.score
    records = {r.summary.short_id: r for r in store.records(losses=False)}
    for member in best.members:  # the test figure is the one at the best validation epoch
        epochs = records[member.run].epochs
        at_best = max(epochs, key=lambda e: e["val_acc"])
        assert (member.score, member.test_acc) == (at_best["val_acc"], at_best["test_acc"])
    scores = [m.score for m in best.members]
    assert best.score == pytest.approx(sum(scores) / 2)
    assert best.score_std == pytest.approx(abs(scores[0] - scores[1]) / 2**0.5)
    assert "chosen by validation accuracy" in results.note and best.name in results.note


def test_without_a_split_the_ranking_says_it_tunes_on_the_test_set(store, tiny_data):
    spec = parse_spec(["lr=0.1,0.5"], BASE.replace(val=0, epochs=1))
    run_sweep(spec, store, tiny_data)
    results = sweep_results.load(store, spec, 1)
    assert not results.by_val and results.metric == "test acc"
    assert "ranked by TEST accuracy" in results.note and "optimistic" in results.note


def test_an_interrupted_sweep_resumes_and_keeps_the_members_done(store, tiny_data):
    spec = parse_spec(["lr=0.1,0.2,0.4"], BASE)
    sweep, status, _ = run_sweep(spec, store, tiny_data, stop_after=1)  # stopped in member 2
    assert status == "stopped" and sweep_store.find(store, 1).status == "stopped"
    before = {r.id: r for r in store.runs()}
    assert [r.status for r in before.values()] == ["finished", "stopped"]
    again, status, seen = run_sweep(spec, store, tiny_data)  # the same spec: the same sweep
    started = next(e for e in seen if isinstance(e, SweepStarted))
    assert again.sweep_id == "s1" and started.resumed and started.done == (0,)
    trained = [e.member.index for e in seen if isinstance(e, MemberStarted)]
    assert trained == [1, 2] and status == "finished"
    after = store.runs()
    assert [r.id for r in after] == [1, 2, 3]  # member 2 trained again in its own run
    assert after[0] == before[1]  # the member done was not touched
    assert [r.status for r in after] == ["finished"] * 3 and after[1].epochs == 2


def test_a_diverged_member_is_marked_and_the_others_go_on(store, tiny_data):
    spec = parse_spec(["lr=0.1,5000,0.2"], BASE.replace(epochs=1))
    _, status, seen = run_sweep(spec, store, tiny_data)
    ended = {e.member.index: e for e in seen if isinstance(e, MemberEnded)}
    assert ended[1].status == "diverged" and "exceeds" in ended[1].reason
    assert status == "finished"
    assert [r.status for r in store.runs()] == ["finished", "diverged", "finished"]
    results = sweep_results.load(store, spec, 1)
    assert results.ranked[-1].status == "diverged"
    _, _, seen = run_sweep(spec, store, tiny_data)  # a diverged member counts as done
    assert not [e for e in seen if isinstance(e, MemberStarted)]


def test_the_cli_trains_resumes_and_prints_json_with_run_ids(tiny_dir, tmp_path, capsys):
    store = str(tmp_path / "runs.sqlite")
    args = ["lr=0.1,0.5", "hidden=8,16", "--epochs", "1", "--batch-size", "64", "--val", "100",
            "--device", "cpu", "--data-dir", str(tiny_dir), "--store", store]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "sweep s1: 4 members" in out and "lr \\ hidden" in out  # the heat map
    assert "chosen by validation accuracy" in out and "lr (log)" in out  # the chart's axis
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert "resuming s1: 4 members; 4 done already" in captured.err
    assert results["sweep"] == "s1" and results["ranked_by"] == "val_acc"
    ranks = results["ranked"]
    assert [r["rank"] for r in ranks] == [1, 2, 3, 4]
    assert sorted(m["run"] for r in ranks for m in r["members"]) == ["r1", "r2", "r3", "r4"]
    scores = [r["score"] for r in ranks]
    assert scores == sorted(scores, reverse=True)
    assert main(["--show", "s1", "--store", store, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ranked"] == ranks
    assert main(["--list", "--store", store]) == 0
    assert "s1  finished" in capsys.readouterr().out
    from mlp_tui.core.runs_cli import main as runs

    assert runs(["--store", store]) == 0  # mlp-tui runs says which sweep a run is of
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "sweep" and [row.split()[-1] for row in rows] == ["s1"] * 4


def test_cli_mistakes_are_one_line_and_exit_2(tiny_dir, tmp_path, capsys):
    store = str(tmp_path / "runs.sqlite")
    for argv, words in [
        (["lr=0.1,abc"], "learning rate: 'abc' is not a number"),
        (["lr=0.1", "--lr", "0.3"], "lr is swept: drop --lr"),
        ([], "give the fields to sweep"),
        (["--resume", "s9", "--store", store], "does not exist"),
        (["--resume", "x9", "--store", store], "is not a sweep id"),
    ]:
        with pytest.raises(SystemExit) as caught:
            code = main(argv)
            raise SystemExit(code)
        err = capsys.readouterr().err
        assert caught.value.code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_migration_4_adds_the_sweeps_table_to_an_older_store(tmp_path):
    path = tmp_path / "old.sqlite"
    with RunStore(path) as store:
        store.create_run(TrainConfig(), "old")
    db = sqlite3.connect(path)
    db.executescript(  # back to schema 3: before the sweeps (4) and the health figures (5)
        "DROP TABLE sweeps; ALTER TABLE runs DROP COLUMN member;"
        "DROP TABLE health; DROP TABLE hints;"
    )
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    with RunStore(path) as store:
        assert store.runs()[0].name == "old" and sweep_store.sweeps(store) == []
        number, existed = sweep_store.open_sweep(store, "lr=0.1")
        assert (number, existed) == (1, False) and sweep_store.open_sweep(store, "lr=0.1")[1]


def test_together_trains_the_members_as_a_population_equal_to_their_solo_runs(
    tiny_dir, tmp_path, capsys
):
    """``--together``: one pass over the data for every member of a shape; each member's
    stored figures are its solo run's up to float rounding (population.py's own tests hold
    the arithmetic; this holds the sweep's recording of it), and a dropout member runs solo."""
    common = ["lr=0.05,0.1", "hidden=8,16", "--epochs", "2", "--batch-size", "64", "--val", "100",
              "--device", "cpu", "--data-dir", str(tiny_dir)]  # fmt: skip
    solo, together = str(tmp_path / "solo.sqlite"), str(tmp_path / "together.sqlite")
    assert main([*common, "--store", solo, "--solo"]) == 0
    assert "training one by one (--solo)" in capsys.readouterr().out
    assert main([*common, "--store", together, "--together"]) == 0
    out = capsys.readouterr().out
    assert "chosen by validation accuracy" in out
    epoch_lines = [line for line in out.splitlines() if "epoch " in line and "/2" in line]
    assert len(epoch_lines) == 8 and all(
        line.split()[:2] in (["r1", "epoch"], ["r2", "epoch"], ["r3", "epoch"], ["r4", "epoch"])
        for line in epoch_lines
    )
    runs = {}
    for path in (solo, together):
        with RunStore(path) as store:
            runs[path] = {r.summary.name: r for r in store.records()}
    assert sorted(runs[solo]) == sorted(runs[together]) and len(runs[solo]) == 4
    for name, alone in runs[solo].items():
        stacked = runs[together][name]
        assert stacked.summary.status == alone.summary.status == "finished"
        assert stacked.summary.sweep == "s1"
        for a, b in zip(alone.epochs, stacked.epochs, strict=True):
            assert abs(a["train_loss"] - b["train_loss"]) < 1e-4, name
            assert (
                abs(a["val_acc"] - b["val_acc"]) <= 0.02
                and abs(a["test_acc"] - b["test_acc"]) <= 0.02
            )
    # trained as one: the members of a shape share each epoch's time (their stack's)
    by_width = {}
    for record in runs[together].values():
        by_width.setdefault(record.summary.config["layers"][0], []).append(record)
    for pair in by_width.values():
        assert [e["seconds"] for e in pair[0].epochs] == [e["seconds"] for e in pair[1].epochs]
    mixed_store = str(tmp_path / "mixed.sqlite")
    mixed = ["dropout=0,0.5", "--epochs", "1", "--batch-size", "64", "--device", "cpu",
             "--data-dir", str(tiny_dir), "--store", mixed_store, "--together"]  # fmt: skip
    assert main(mixed) == 0
    with RunStore(mixed_store) as store:
        assert [r.status for r in store.runs()] == ["finished", "finished"]


@pytest.mark.parametrize("how", ["--together", "--solo"])
def test_a_split_that_leaves_nothing_to_train_is_one_line_before_anything_is_recorded(
    how, tiny_dir, tmp_path, capsys
):
    store = str(tmp_path / "runs.sqlite")
    args = ["lr=0.1,0.2", "--val", "600", "--epochs", "1", "--device", "cpu", how]
    assert main([*args, "--data-dir", str(tiny_dir), "--store", store]) == 2
    out, err = capsys.readouterr()
    assert err == "mlp-tui: validation images: 600 of 600 training images leave none to train on\n"
    assert "Traceback" not in out
    assert main(["--list", "--store", store]) == 0
    assert "no sweeps yet" in capsys.readouterr().out  # nothing half-started to resume


def fail_to_start(monkeypatch, where: str, lr: float | None = None) -> None:
    """Members whose training cannot be set up (as a bf16 member on a CPU without bf16):
    ``where`` is "solo" (the Trainer of the member with ``lr``) or "together" (the population)."""
    from mlp_tui.core import population, trainer
    from mlp_tui.core.config import ConfigError

    if where == "together":

        def refuse(self, *args, **kwargs):
            raise ConfigError("population: cannot be built here")

        monkeypatch.setattr(population.Population, "__init__", refuse)
        return
    real = trainer.Trainer

    def picky(config, *args, **kwargs):
        if config.lr == lr:
            raise ConfigError("precision: not on this machine")
        return real(config, *args, **kwargs)

    monkeypatch.setattr(trainer, "Trainer", picky)


def test_a_member_that_cannot_start_fails_and_the_others_train(store, tiny_data, monkeypatch):
    fail_to_start(monkeypatch, "solo", lr=0.5)
    spec = parse_spec(["lr=0.1,0.5,0.2"], BASE.replace(epochs=1))
    _, status, seen = run_sweep(spec, store, tiny_data)
    ended = {e.member.index: e for e in seen if isinstance(e, MemberEnded)}
    assert [ended[i].status for i in range(3)] == ["finished", "failed", "finished"]
    assert ended[1].reason == "precision: not on this machine"
    assert status == "failed" and sweep_store.find(store, 1).status == "failed"
    assert [r.status for r in store.runs()] == ["finished", "failed", "finished"]


def test_a_population_that_cannot_start_fails_its_members_in_the_cli(
    tiny_dir, tmp_path, monkeypatch, capsys
):
    fail_to_start(monkeypatch, "together")
    store = str(tmp_path / "runs.sqlite")
    args = ["lr=0.1,0.2", "--epochs", "1", "--device", "cpu", "--together"]
    assert main([*args, "--data-dir", str(tiny_dir), "--store", store]) == 1
    out, err = capsys.readouterr()
    assert out.count("failed: population: cannot be built here") == 2 and "Traceback" not in err
    assert main(["--list", "--store", store]) == 0
    assert "s1  failed" in capsys.readouterr().out


def test_each_members_records_are_flushed_when_it_ends(store, tiny_data, monkeypatch):
    from mlp_tui.core.recorder import Recorder

    closed: list[int] = []
    real_close = Recorder.close
    monkeypatch.setattr(
        Recorder, "close", lambda self: closed.append(self.run_id) or real_close(self)
    )
    spec = parse_spec(["lr=0.1,5000,0.2"], BASE.replace(epochs=1))  # one diverges
    run_sweep(spec, store, tiny_data)
    assert sorted(closed) == sorted(r.id for r in store.runs())  # each once
