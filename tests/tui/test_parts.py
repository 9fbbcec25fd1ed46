"""The app's small pure parts: step ladders, time and speed numbers, plot helpers."""

from __future__ import annotations

import pytest
from mlp_tui.core.config import TrainConfig
from mlp_tui.tui.ladders import FIELDS, step
from mlp_tui.tui.progress import RunProgress, clock_text, rate_text
from mlp_tui.tui.widgets.bars import bar
from mlp_tui.tui.widgets.plot_marks import lr_markers
from mlp_tui.tui.widgets.training_plot import key_line, whole_ticks
from rich.console import Console


def walk(field: str, start: object, direction: int, presses: int) -> list[object]:
    """The values ``presses`` presses give; None once the ladder ends."""
    values, value = [], start
    for _ in range(presses):
        value = None if value is None else step(field, value, direction)
        values.append(value)
    return values


def test_learning_rate_moves_in_1_2_5_steps():
    assert walk("lr", 0.1, +1, 4) == [0.2, 0.5, 1.0, 2.0]
    assert walk("lr", 0.1, -1, 4) == [0.05, 0.02, 0.01, 0.005]
    assert step("lr", 0.3, +1) == 0.5 and step("lr", 0.3, -1) == 0.2  # typed off the ladder
    assert step("lr", 1e3, +1) is None  # the end of the ladder: nothing changes


def test_sizes_move_in_powers_of_two_and_counts_by_one():
    assert walk("batch_size", 256, +1, 2) == [512, 1024]
    assert walk("batch_size", 100, -1, 2) == [64, 32]
    assert step("batch_size", 1, -1) is None
    assert walk("hidden", 256, -1, 2) == [128, 64]
    assert walk("epochs", 10, +1, 2) == [11, 12] and step("epochs", 1, -1) is None
    assert step("seed", 0, -1) is None and step("seed", 0, +1) == 1


def test_momentum_and_weight_decay_have_their_usual_values():
    assert walk("momentum", 0.0, +1, 4) == [0.5, 0.8, 0.9, 0.95]
    assert walk("weight_decay", 0.0, +1, 3) == [1e-05, 2e-05, 5e-05]
    assert step("weight_decay", 1e-05, -1) == 0.0


@pytest.mark.parametrize("field", [field for field, _ in FIELDS if field != "device"])
def test_every_rung_is_a_valid_setting(field):
    for direction in (+1, -1):
        for value in walk(field, getattr(TrainConfig(), field), direction, 6):
            if value is not None:
                TrainConfig().replace(**{field: value})  # raises if it left the valid range


def test_device_cycles_through_what_this_machine_has(monkeypatch):
    from mlp_tui.core import device
    from mlp_tui.core.config import ConfigError

    def only(*have: str):
        def resolve(name: str) -> str:
            if name not in have:
                raise ConfigError(f"device: no {name} here")
            return name

        return resolve

    monkeypatch.setattr(device, "resolve_device", only("cpu"))
    assert walk("device", "auto", +1, 4) == ["cpu", "auto", "cpu", "auto"]
    monkeypatch.setattr(device, "resolve_device", only("cpu", "cuda"))
    assert walk("device", "auto", +1, 4) == ["cpu", "cuda", "auto", "cpu"]
    assert walk("device", "auto", -1, 2) == ["cuda", "cpu"]


def test_elapsed_counts_running_time_only_and_eta_follows_the_rate():
    now = [100.0]
    progress = RunProgress(elapsed=10.0, clock=lambda: now[0])
    progress.start()
    now[0] = 105.0
    assert progress.elapsed == 15.0
    progress.stop()
    now[0] = 200.0  # paused: time passes, elapsed does not
    assert progress.elapsed == 15.0
    assert progress.eta(1000) is None  # no speed known yet
    progress.start()
    progress.record(6400)  # the first report: what trained before it had no clock on it
    assert progress.examples_per_s is None
    now[0] = 205.0
    progress.record(500)
    assert progress.examples_per_s == pytest.approx(100.0)  # examples over seconds
    progress.stop()
    now[0] = 300.0  # paused: the speed stays the last measured
    progress.start()
    now[0] = 310.0
    progress.record(1000)
    assert progress.examples_per_s == pytest.approx(100.0)  # the pause not counted
    assert progress.eta(300) == pytest.approx(3.0)
    now[0] = 330.0  # 10 s windows: a change of pace shows within one
    progress.record(4000)
    progress.record(0)
    assert progress.examples_per_s == pytest.approx(4000 / 20)


def test_times_and_rates_read_naturally():
    assert clock_text(None) == "–" and clock_text(65) == "1:05"
    assert clock_text(3723) == "1:02:03"
    assert rate_text(None) == "–" and rate_text(1234) == "1,234" and rate_text(104_900) == "105k"


def test_ticks_are_round_whole_numbers():
    assert whole_ticks(1, 10) == [2, 4, 6, 8, 10]
    assert whole_ticks(1, 2350) == [500, 1000, 1500, 2000]


def test_a_plots_key_shortens_to_fit_its_row():
    lines = [("train loss", "loss", "orange"), ("test acc", "test acc", "green")]
    rows = {width: key_line("per epoch", lines, width) for width in (60, 30, 22, 12)}
    assert [row.cell_len for row in rows.values()] == [60, 30, 22, 12]  # centred, full width
    assert rows[60].plain.strip() == "per epoch   ━━ train loss  ━━ test acc"
    assert rows[30].plain.strip() == "━━ train loss  ━━ test acc"
    assert rows[22].plain.strip() == "━ loss ━ test acc"
    assert rows[12].plain.strip() == "━ loss ━ te…"
    # Each swatch in its line's colour, as plotext draws the line.
    row, console = rows[60], Console()
    first = row.plain.index("━━")
    second = row.plain.index("━━", first + 2)
    colours = [row.get_style_at_offset(console, at).color for at in (first, second)]
    assert None not in colours and colours[0] != colours[1]


def test_lr_markers_show_each_effective_change_once():
    changes = [(0, 0.1), (5, 0.2), (5, 0.4), (9, 0.4), (12, 0.1)]
    assert lr_markers(changes) == [(5, 0.4), (12, 0.1)]


def test_bars_are_proportional_in_both_modes():
    assert bar(0.5, 10, "blocks") == "█████     "
    assert bar(0.55, 10, "blocks").startswith("█████▌")
    assert bar(1.0, 4, "ascii") == "####" and bar(0.0, 4, "ascii") == "    "


@pytest.mark.parametrize("width", [1, 7, 18, 40])
def test_bars_fill_their_width_exactly_so_the_percentages_line_up(width):
    assert bar(0.0, width) == " " * width  # an empty bar still holds its place
    assert bar(1.0, width) == "█" * width
    for p in (-0.2, 0.01, 0.333, 0.999, 1.7):  # out of range clamps to an empty or full bar
        assert len(bar(p, width)) == width and len(bar(p, width, "ascii")) == width
    assert bar(1.7, width) == bar(1.0, width) and bar(-0.2, width) == bar(0.0, width)


def test_a_bar_grows_by_eighths_of_a_cell():
    assert [bar(k / 8, 1) for k in range(9)] == list(" ▏▎▍▌▋▊▉█")
    assert bar(0.005, 20) == "▏".ljust(20)  # half a percent: a sliver, not nothing
