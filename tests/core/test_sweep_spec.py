"""Sweep specs: what a user types becomes the members a sweep trains, or one clear line."""

from __future__ import annotations

import pytest
from mlp_tui.core.config import ConfigError, TrainConfig
from mlp_tui.core.sweep import parse_spec
from mlp_tui.core.sweep_cli import parse_command


def test_a_grid_is_every_combination_repeated_over_the_seeds():
    spec = parse_spec(["lr=0.03,0.1,0.3", "hidden=64,256"], TrainConfig(epochs=3), seeds=2)
    members = spec.members()
    assert len(members) == 3 * 2 * 2
    assert [m.index for m in members] == list(range(12))
    first = members[0]
    assert (first.config.lr, first.config.layers, first.config.seed) == (0.03, (64,), 0)
    assert members[1].config.seed == 1 and members[1].group == first.group
    assert first.name == "lr 0.03, hidden 64, seed 0"
    assert {m.config.epochs for m in members} == {3}  # the fixed settings reach every member
    assert len({m.group for m in members}) == 6


def test_a_stack_of_layers_is_one_value_written_with_x():
    spec = parse_spec(["layers=256,512x256"])
    assert [m.config.layers for m in spec.members()] == [(256,), (512, 256)]
    assert [m.name for m in spec.members()] == ["layers 256", "layers 512x256"]


def test_a_random_search_is_reproducible_and_stays_in_its_ranges():
    words = ["lr=log:0.01:1", "hidden=int:16:1024", "activation=relu,tanh"]
    one = parse_spec(words, trials=20).members()
    again = parse_spec(words, trials=20).members()
    other = parse_spec(words, trials=20, draw_seed=1).members()
    assert [m.config for m in one] == [m.config for m in again]
    assert [m.config for m in one] != [m.config for m in other]
    lrs = [m.config.lr for m in one]
    assert all(0.01 <= lr <= 1 for lr in lrs) and len(set(lrs)) == 20
    assert sum(lr < 0.1 for lr in lrs) >= 5  # log-uniform: half the draws below 0.1, roughly
    assert all(16 <= m.config.hidden <= 1024 and isinstance(m.config.hidden, int) for m in one)
    assert {m.config.activation for m in one} == {"relu", "tanh"}


def test_the_spec_text_reads_back_as_the_same_sweep():
    from mlp_tui.core.sweep_cli import build_parser, spec_of

    spec = parse_spec(
        ["lr=0.123456789,0.3", "layers=64,128x64"],
        TrainConfig(epochs=2, val=100, momentum=0.9, batch_size=64),
        seeds=2,
    )
    assert spec.text == (
        "lr=0.123456789,0.3 layers=64,128x64 --seeds 2 --epochs 2 --batch-size 64 "
        "--momentum 0.9 --val 100"
    )
    parser = build_parser()
    again = spec_of(parser.parse_args(spec.text.split()), parser)
    assert again.text == spec.text and again.members() == spec.members()


@pytest.mark.parametrize(
    ("words", "options", "message"),
    [
        (["lr=0.1,0"], {}, "learning rate: 0 is outside (0, 1e+06]"),
        (["lrr=0.1"], {}, "'lrr' is not a setting"),
        (["lr"], {}, "'lr' is not field=values"),
        (["lr=log:0:1"], {"trials": 3}, "outside"),
        (["lr=log:1:0.1"], {"trials": 3}, "the low bound must be below the high one"),
        (["lr=log:0.01:1"], {}, "is a range: say how many draws with --trials N"),
        (["activation=uni:0:1"], {"trials": 2}, "activation takes no range"),
        (["lr=exp:0.1:1"], {"trials": 2}, "a range is log, int, uni:LOW:HIGH"),
        (["device=cpu,cuda"], {}, "device cannot be swept"),
        (["lr=0.1,0.1"], {}, "names a value twice"),
        (["lr=0.1", "lr=0.3"], {}, "lr is swept twice"),
        (["seed=1,2"], {"seeds": 3}, "seed is swept and --seeds"),
        (["dropout=0.5,0.2x0.3"], {}, "a member of the sweep cannot run: dropout: 2 rates"),
        (["hidden=1,2,3,4,5,6,7,8,9,10", "lr=1,2,3,4,5,6,7,8,9,10"], {"seeds": 11},
         "1,100 members; at most 1,000"),
    ],
)  # fmt: skip
def test_a_bad_spec_is_one_line_naming_what_is_wrong(words, options, message):
    with pytest.raises(ConfigError) as caught:
        parse_spec(words, **options)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_values_with_a_colon_that_start_no_range_are_grid_values():
    spec = parse_spec(["schedule=step:1:0.1,cosine,warmup:2"], TrainConfig(epochs=3))
    assert [m.config.schedule for m in spec.members()] == ["step:1:0.1", "cosine", "warmup:2"]
    assert spec.text == "schedule=step:1:0.1,cosine,warmup:2 --epochs 3"
    assert parse_command(spec.text).members() == spec.members()  # the store reads it back
    with pytest.raises(ConfigError, match="'step:x' is not a schedule|write step:E:F"):
        parse_spec(["schedule=step:x,cosine"])
