"""Which sweeps train together as populations by default, and the command line's choice: the
members of one shape (or widths close enough to pad) together, the rest one by one, and a
diverging member of a population marked while the sweep finishes."""

from __future__ import annotations

import pytest
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.store import RunStore
from mlp_tui.core.sweep import parse_spec
from mlp_tui.core.sweep_cli import main
from mlp_tui.core.sweep_mode import plan
from mlp_tui.core.sweep_run import MemberEnded, PopulationTraining, SoloTraining, SweepRun

BASE = TrainConfig(epochs=1, batch_size=64, hidden=16, device="cpu")


def plan_of(*words: str, mode: str = "auto", seeds: int = 1):
    return plan(parse_spec(list(words), BASE, seeds=seeds).members(), mode)


@pytest.mark.parametrize(
    "words, together, pad, text",
    [
        (["lr=0.03,0.1,0.3"], True, False, "together: 3 in 1 population"),
        (["lr=0.1,0.3", "batch_size=64,256"], True, False, "4 in 2 populations"),
        (["hidden=12,16"], True, True, "together: 2 in 1 population, zero-padded"),
        (["hidden=16,1024"], False, False, "padding to the widest would cost"),
        (["activation=relu,sigmoid"], False, False, "no two members share a shape"),
        (["lr=0.1"], False, False, "one by one: one member"),
        (["dropout=0,0.5"], False, False, "one by one: dropout and fast precisions train alone"),
        (["dropout=0,0.2,0.5", "lr=0.1,0.3"], True, False, "2 in 1 population, 4 one by one"),
        (["precision=fp32,bf16", "lr=0.1,0.3"], True, False, "2 in 1 population, 2 one by one"),
    ],
)
def test_auto_trains_together_where_the_members_share_a_stack(words, together, pad, text):
    how = plan_of(*words)
    assert (how.together, how.pad) == (together, pad) and text in how.text
    training = how.training()
    assert isinstance(training, PopulationTraining if together else SoloTraining)


def test_solo_and_together_are_as_asked():
    assert plan_of("lr=0.1,0.3", mode="solo").text == "one by one (--solo)"
    forced = plan_of("hidden=16,1024", mode="together")
    assert forced.together and not forced.pad and "2 populations" in forced.text


def test_the_command_line_trains_together_by_default(tiny_dir, tmp_path, capsys):
    args = ["lr=0.1,0.5", "--epochs", "1", "--batch-size", "64", "--device", "cpu",
            "--data-dir", str(tiny_dir)]  # fmt: skip
    assert main([*args, "--store", str(tmp_path / "a.sqlite")]) == 0
    assert "training together: 2 in 1 population" in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        main([*args, "--store", str(tmp_path / "b.sqlite"), "--solo", "--together"])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and "not allowed with argument" in err
    assert len(err.strip().splitlines()) == 1


def test_a_population_member_that_diverges_is_marked_and_the_sweep_finishes(tmp_path, tiny_data):
    spec = parse_spec(["lr=0.1,5000,0.2"], BASE.replace(epochs=2))
    seen: list = []
    with RunStore(tmp_path / "runs.sqlite") as store:
        sweep = SweepRun(spec, store, tiny_data, seen.append, training=PopulationTraining())
        assert sweep.run() == "finished"
        ended = {e.member.index: e for e in seen if isinstance(e, MemberEnded)}
        assert [ended[i].status for i in range(3)] == ["finished", "diverged", "finished"]
        assert "exceeds" in ended[1].reason
        assert [r.status for r in store.runs()] == ["finished", "diverged", "finished"]
