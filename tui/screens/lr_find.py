"""The lr range test (``f``): run on a copy of the paused run, shown as loss against lr, with a
suggested lr that one key (``a``) gives the run. Escape leaves the run as it was.

The test runs in a thread worker on one core (``threads.py``: a second OpenMP team would slow
the training thread for good); the run itself is paused meanwhile and never touched.
"""

from __future__ import annotations

from collections.abc import Callable

from mlp_tui.core.lr_find import RangeTest, range_test
from mlp_tui.core.threads import keep_this_thread_serial
from mlp_tui.core.trainer import Trainer
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from ..widgets.footer import KeyFooter
from ..widgets.lr_find_plot import LrFindPlot

RangeTester = Callable[[Trainer, Callable[[], bool]], RangeTest]


def _test(trainer: Trainer, cancelled: Callable[[], bool]) -> RangeTest:
    keep_this_thread_serial()
    return range_test(trainer, cancelled=cancelled)


class LrFindScreen(ModalScreen[float | None]):
    """Dismissed with the lr to give the run (``a``), or None (``escape``)."""

    APP_ACTIONS = frozenset({"help"})
    BINDINGS = [
        Binding("a", "apply", "Apply lr", tooltip="give the run the suggested lr"),
        Binding("escape", "close", "Back", tooltip="back to the run, its lr unchanged"),
    ]

    def __init__(self, trainer: Trainer, tester: RangeTester = _test) -> None:
        super().__init__()
        self.trainer, self.tester = trainer, tester
        self.result: RangeTest | None = None
        self.plot = LrFindPlot(id="lr-find-plot")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog lr-find"):
            yield Label("lr range test", classes="dialog-title")
            yield self.plot
            yield Label("", id="lr-find-verdict")
            yield Label(
                "On a copy from the current weights: the run itself is not changed.",
                classes="dialog-hint",
            )
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        where = self.trainer
        self.query_one("#lr-find-verdict", Label).update(
            f"testing from epoch {where.epoch + 1}, batch {where.batch}..."
        )
        self.plot.show(None)
        self._run()

    @work(thread=True, exclusive=True, exit_on_error=False, group="lr-find")
    def _run(self) -> None:
        worker_cancelled = self._cancelled()
        result = self.tester(self.trainer, worker_cancelled)
        self.app.call_from_thread(self.show, result)

    def _cancelled(self) -> Callable[[], bool]:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        return lambda: worker.is_cancelled

    def show(self, result: RangeTest) -> None:
        if not self.is_attached:
            return  # escaped while it ran
        self.result = result
        self.plot.show(result)
        if result.suggested_lr is None:
            verdict = f"no suggestion: the loss never fell ({result.ended})"
        else:
            other = (
                ""
                if result.minimum_lr in (None, result.suggested_lr)
                else f"; the minimum's lr / 10 would be {result.minimum_lr:.3g}"
            )
            verdict = (
                f"suggested lr {result.suggested_lr:.3g}, the {result.rule}{other}. "
                f"{len(result.lrs)} batches; {result.ended}. a: train with it"
            )
        self.query_one("#lr-find-verdict", Label).update(verdict)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply":
            return self.result is not None and self.result.suggested_lr is not None
        return True

    def action_apply(self) -> None:
        if self.result is not None and self.result.suggested_lr is not None:
            self.dismiss(float(f"{self.result.suggested_lr:.3g}"))

    def action_close(self) -> None:
        self.workers.cancel_group(self, "lr-find")
        self.dismiss(None)
