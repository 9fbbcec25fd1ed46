"""The plots' series: the debiased moving average, and min/max envelopes whose redraw work is
bounded however long the run, whose last point is the last batch's and whose spikes survive."""

from __future__ import annotations

import random

import pytest
from mlp_tui.tui.curves import (
    SMOOTHINGS,
    DebiasedEma,
    Envelope,
    debiased_ema,
    next_smoothing,
)
from mlp_tui.tui.widgets.loss_plot import LossPlot

SERIES = [2.302585092994046, 0.1, 1 / 3, 7.25, 0.0004]


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_the_first_point_is_the_first_value_and_a_constant_stays_constant(smoothing):
    for first in SERIES:
        assert debiased_ema([first, 5.0], smoothing)[0] == first  # exactly: no pull toward 0
        assert debiased_ema([first] * 500, smoothing) == [first] * 500


def test_each_point_is_the_weighted_mean_of_the_points_so_far():
    """Adam's correction: weights beta^(t-i), divided by their sum (1 - beta^t), so early
    points weigh neither more (TensorBoard's start at the first value) nor less (a start at
    0) than they should."""
    rng = random.Random(3)
    values = [rng.uniform(0, 3) for _ in range(60)]
    beta = 0.9
    got = debiased_ema(values, beta)
    for t in range(1, len(values) + 1):
        weights = [beta ** (t - 1 - i) for i in range(t)]
        expected = sum(w * v for w, v in zip(weights, values)) / sum(weights)
        assert got[t - 1] == pytest.approx(expected, rel=1e-12)
    # What a start at the first value gives instead: the first point weighs 0.9^t + ... more.
    biased = values[0]
    for v in values[1:10]:
        biased += (1 - beta) * (v - biased)
    assert abs(biased - got[9]) > 0.05


def test_a_point_that_stands_for_several_batches_weighs_as_many():
    one_by_one = debiased_ema([2.0, 1.0, 1.0, 1.0, 0.5], 0.8)
    bucketed = debiased_ema([2.0, 1.0, 0.5], 0.8, counts=[1, 3, 1])
    assert bucketed[-1] == pytest.approx(one_by_one[-1], rel=1e-12)


def test_values_that_are_not_numbers_are_skipped():
    ema = DebiasedEma(0.5)
    assert ema.add(float("nan")) != ema.add(1.0) == 1.0
    assert ema.add(float("inf")) == 1.0


def test_smoothing_steps_along_its_ladder_and_stops_at_the_ends():
    assert next_smoothing(0.95, 1) == 0.98 and next_smoothing(0.95, -1) == 0.9
    assert next_smoothing(0.999, 1) == 0.999 and next_smoothing(0.0, -1) == 0.0


def test_an_envelope_is_bounded_ends_at_the_last_value_and_keeps_a_spike():
    rng = random.Random(1)
    envelope = Envelope(capacity=1024)
    ys = [1.0 + rng.random() * 0.1 for _ in range(300_000)]
    ys[123_457] = 50.0  # one exploding batch among 300,000
    envelope.extend(ys)
    assert len(envelope.buckets) <= 1024  # what a redraw reads, however long the run
    xs, drawn = envelope.points(240)
    assert len(xs) <= 2 * 240 + 1 and xs == sorted(xs)
    assert (xs[-1], drawn[-1]) == (300_000, ys[-1])  # the end is never behind
    assert max(drawn) == 50.0 and xs[drawn.index(50.0)] == 123_458  # at its own batch
    assert min(drawn) == min(ys)


def test_a_short_series_is_drawn_point_for_point():
    envelope = Envelope()
    envelope.extend([3.0, 1.0, 2.0])
    assert envelope.points(100) == ([1.0, 2.0, 3.0], [3.0, 1.0, 2.0])
    assert envelope.points(100, extremes=False) == envelope.points(100)


def test_a_smooth_curve_takes_one_point_a_bucket_and_ends_at_its_last():
    envelope = Envelope(capacity=64)
    envelope.extend([1 / (1 + i) for i in range(10_000)])
    xs, ys = envelope.points(40, extremes=False)
    assert len(xs) <= 40 and (xs[-1], ys[-1]) == (10_000, 1 / 10_000)


def test_the_loss_plots_last_point_is_the_last_batchs_after_a_long_run():
    """100,000 batches in reports of 37, as a long run brings them: the plot takes each
    report's batches only, and what it draws ends at the last one."""
    rng = random.Random(2)
    losses: list[float] = []
    plot = LossPlot()
    for _ in range(100_000 // 37):
        losses += [rng.uniform(0.2, 0.6) for _ in range(37)]
        plot.sync(losses, [])
    xs, drawn = plot.raw_points()
    assert (xs[-1], drawn[-1]) == (len(losses), losses[-1])
    assert len(xs) <= 2 * plot.max_points + 1
    smoothed = plot.smoothed_points()[1]
    assert smoothed[-1] == pytest.approx(debiased_ema(losses, plot.smoothing)[-1], rel=1e-9)
