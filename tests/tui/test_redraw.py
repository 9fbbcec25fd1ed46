"""The redraw schedule on a clock and timers the test moves: marks coalesce into one tick,
batches wait for the periodic one, and heavy widgets wait by their cost only while training."""

from __future__ import annotations

from mlp_tui.tui.redraw import HEAVY_CPU_SHARE, HEAVY_INTERVAL_S, TICK_S, RedrawSchedule


class Host:
    """Stands in for the screen: records the timers asked for, fires them when told."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, object]] = []

    def set_timer(self, delay: float, callback) -> object:
        self.timers.append((delay, callback))
        return callback

    def set_interval(self, interval: float, callback) -> object:
        return callback

    def fire(self) -> None:
        timers, self.timers = self.timers, []
        for _, callback in timers:
            callback()


class Widget:
    def __init__(self, render_seconds: float) -> None:
        self.render_seconds = render_seconds


def schedule(running: bool = True, plot_cost: float = 0.002):
    host, now, drawn = Host(), [100.0], []
    heavy = {"loss": Widget(plot_cost)}
    redraws = RedrawSchedule(host, drawn.append, lambda: running, heavy, clock=lambda: now[0])
    return redraws, host, now, drawn


def test_marks_coalesce_into_one_tick_within_a_fifteenth_of_a_second():
    redraws, host, now, drawn = schedule(running=False)
    redraws.mark("status")
    redraws.mark("panel", "status")
    assert len(host.timers) == 1 and 0 < host.timers[0][0] <= TICK_S
    host.fire()
    assert drawn == [{"status", "panel"}]


def test_batches_wait_for_the_periodic_tick():
    redraws, host, now, drawn = schedule()
    redraws.progressed("loss")
    assert not host.timers  # no redraw of their own
    redraws.tick()
    assert drawn == [{"status", "loss"}]


def test_a_heavy_part_waits_its_interval_while_training_and_not_when_paused():
    redraws, host, now, drawn = schedule(plot_cost=0.05)  # 50 ms a draw: every 5 s
    assert redraws.heavy_interval(Widget(0.05)) == 0.05 / HEAVY_CPU_SHARE
    assert redraws.heavy_interval(Widget(0.001)) == HEAVY_INTERVAL_S
    redraws.progressed("loss")
    redraws.tick()
    assert drawn[-1] == {"status", "loss"}
    now[0] += 1.0
    redraws.progressed("loss")
    redraws.tick()
    assert drawn[-1] == {"status"} and "loss" in redraws.dirty  # kept for later
    now[0] += 4.0
    redraws.tick()
    assert drawn[-1] == {"status", "loss"}

    paused, host, now, drawn = schedule(running=False, plot_cost=0.05)
    for _ in range(3):
        paused.mark("loss")
        host.fire()
        now[0] += 0.1
    assert drawn == [{"loss"}] * 3  # nothing competes: at each tick
