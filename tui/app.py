"""The mlp-tui app: watch the scratch MLP learn Fashion-MNIST and steer it from the keyboard.

Training runs in one thread worker calling ``Trainer.run()``. The trainer reports on that
thread; the app only posts messages from there (``messages.py``) and never touches a widget.
Handlers note what changed and a 15 Hz tick redraws it, the plots at most twice a second (less
when a rebuild is slow), so the UI's cost does not grow with the batch rate. Commands go the
other way through the trainer's thread-safe methods, which it reads once per batch. The keys for
settings and checkpoints live in ``app_settings.py`` and ``app_checkpoints.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import (
    BatchReport,
    EpochReport,
    Failed,
    Predictions,
    RunState,
    Saved,
    SaveFailed,
    SettingsChanged,
    StateChanged,
)
from mlp_tui.core.trainer import Trainer
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from . import files
from .app_checkpoints import CheckpointKeys
from .app_settings import SettingsKeys
from .messages import BatchProgress, TrainerEvent
from .progress import RunProgress
from .render import RenderMode
from .screens.help import HelpScreen, key_rows
from .screens.image import ImageScreen
from .widgets.epoch_plot import EpochPlot
from .widgets.gallery import MisclassifiedGallery
from .widgets.hyperparameters import HyperparameterPanel
from .widgets.loss_plot import LossPlot
from .widgets.status_bar import StatusBar, status_of

TICK_S = 1 / 15  # the most often anything is redrawn
PLOT_INTERVAL_S = 0.5  # the most often a plot is rebuilt while training
PLOT_CPU_SHARE = 0.03  # rebuilds wait so that plotting takes about this share of one core
INSPECTOR = "mlp_tui.tui.screens.inspect"
PLOTS = frozenset({"loss", "epochs"})
STOPPED_STATES = (RunState.FINISHED, RunState.FAILED, RunState.STOPPED, RunState.IDLE)


LR_KEYS = Binding.Group("lr×2÷2", compact=True)


def _key(keys: str, action: str, description: str, tooltip: str, **kwargs) -> Binding:
    return Binding(keys, action, description, tooltip=tooltip, id=action, **kwargs)


class MLPApp(SettingsKeys, CheckpointKeys, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mlp-tui"
    BINDINGS = [
        _key("space", "pause", "Pause", "pause training"),
        _key("space", "resume", "Resume", "resume training"),
        _key("n", "step", "Step", "train one batch, then pause again"),
        _key("plus", "lr_up", "lr×2", "double the learning rate", group=LR_KEYS),
        _key("minus", "lr_down", "lr÷2", "halve the learning rate", group=LR_KEYS),
        _key("l", "type_lr", "lr=", "type an exact learning rate"),
        _key("s", "save", "Save", "save a checkpoint"),
        _key("o", "open", "Open", "open a checkpoint and continue it"),
        _key("r", "restart", "Restart", "start a new run with the current settings"),
        _key("g", "render_mode", "Render", "draw images with blocks or in ASCII"),
        _key("i", "inspector", "Inspect", "open the prediction inspector (pauses)"),
        _key("question_mark", "help", "Help", "show every key"),
        _key("q", "quit", "Quit", "quit (offers to save unsaved progress)"),
    ]
    ACTIONS = frozenset(binding.action for binding in BINDINGS)

    render_mode: reactive[RenderMode] = reactive("blocks")
    run_state: reactive[RunState] = reactive(RunState.IDLE)

    def __init__(
        self,
        trainer: Trainer,
        *,
        paused: bool = False,
        train: bool = True,
        saved: bool = False,
        save_dir: str | Path | None = None,
        autosave: Path | None = None,
        metrics_out: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        cursor_blink: bool = True,
    ) -> None:
        """``trainer``: the run to show (new, or from a checkpoint with ``saved=True``).

        ``paused`` starts it paused; ``train=False`` starts no training thread at all, so
        tests can script the state. ``clock`` drives elapsed time and can be frozen.
        ``autosave`` and ``metrics_out`` are ``--save`` and ``--metrics-out``: written at
        each epoch's end.
        """
        super().__init__()
        self.trainer = trainer
        self.config: TrainConfig = trainer.config  # what the user asked for, ahead of the loop
        self.start_paused, self.train, self.start_saved = paused, train, saved
        self.save_dir = Path(save_dir) if save_dir else files.default_save_dir()
        self.autosave, self.metrics_out = autosave, metrics_out
        self.clock = clock
        self.cursor_blink = cursor_blink
        self.reason = ""
        self.progress = RunProgress(clock=clock)
        self._saved_step = 0
        self._dirty: set[str] = set()
        self._last_plot = 0.0
        self._after_pause: list[Callable[[], object]] = []

    def compose(self) -> ComposeResult:
        # Kept as attributes: handlers reach them even while a dialog is the active screen.
        self.status_bar = StatusBar(id="status")
        self.loss_plot = LossPlot(id="loss-plot")
        self.epoch_plot = EpochPlot(id="epoch-plot")
        self.gallery = MisclassifiedGallery(id="gallery")
        self.panel = HyperparameterPanel(self.config, id="panel")
        yield self.status_bar
        with Horizontal(id="plots"):
            yield self.loss_plot
            yield self.epoch_plot
        with Horizontal(id="bottom"):
            yield self.gallery
            yield self.panel
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p: on the help screen

    def on_mount(self) -> None:
        self.panel.border_title = "hyperparameters"
        self.gallery.focus()
        self.set_interval(TICK_S, self._tick)
        self.adopt(self.trainer, paused=self.start_paused, start=self.train, saved=self.start_saved)

    def on_unmount(self) -> None:
        self.trainer.stop()  # a running loop ends at its next batch: nothing waits on it

    # ------------------------------------------------------------------ the run
    def adopt(self, trainer: Trainer, *, paused: bool, start: bool = True, saved: bool = False):
        """Show ``trainer`` (new, restarted or opened) and, with ``start``, train it."""
        self.trainer = trainer
        trainer.on_event = self._relay(trainer)
        self.config = trainer.config
        self.progress = RunProgress(trainer.elapsed + trainer.epoch_seconds, self.clock)
        self._saved_step = trainer.step_count if saved else 0
        self._after_pause.clear()
        self.loss_plot.clear()
        if trainer.predictions is None and trainer.step_count and trainer.state in STOPPED_STATES:
            trainer.predictions = trainer.predict()  # a resumed run: show where it stands
        self.gallery.show(trainer.predictions, trainer.data.test_pixels)
        self.reason = ""
        if self.metrics_out:
            self._write_metrics(trainer.history, append=False)
        self.run_state = (
            (RunState.PAUSED if paused else RunState.RUNNING) if start else trainer.state
        )
        self.redraw()
        if start:
            self._train(trainer, paused)

    def _relay(self, trainer: Trainer) -> Callable[[object], None]:
        """The trainer's listener: runs on the training thread, so it only posts messages."""

        def on_event(event: object) -> None:
            if isinstance(event, BatchReport):
                self.post_message(BatchProgress(trainer, event))
            else:
                self.post_message(TrainerEvent(trainer, event))

        return on_event

    @work(thread=True, exclusive=True, exit_on_error=False, group="training")
    def _train(self, trainer: Trainer, paused: bool) -> RunState:
        return trainer.run(paused=paused)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "training" and event.state is WorkerState.ERROR:
            self.notify(f"training could not run: {event.worker.error}", severity="error")

    def _write_metrics(self, reports: list[EpochReport], append: bool) -> None:
        problem = files.write_metrics(self.metrics_out, reports, append)
        if problem:
            self.notify(problem, severity="error")

    @property
    def unsaved(self) -> bool:
        return self.trainer.step_count != self._saved_step

    # ------------------------------------------------------------------ messages
    def on_batch_progress(self, message: BatchProgress) -> None:
        if message.trainer is self.trainer:
            self.progress.record(message.report.examples_per_s)
            self._dirty |= {"status", "loss"}

    def on_trainer_event(self, message: TrainerEvent) -> None:
        if message.trainer is not self.trainer:
            return  # from a run that was replaced
        self.show_event(message.event)

    def show_event(self, event: object) -> None:
        """Update the screen for one engine event (on the UI thread)."""
        if isinstance(event, StateChanged):
            self.reason = event.reason
            self.run_state = event.state
            self._dirty.add("status")
            if event.state is not RunState.RUNNING:
                waiting, self._after_pause = self._after_pause, []
                for callback in waiting:
                    callback()
        elif isinstance(event, EpochReport):
            self.progress.sync(self.trainer.elapsed)
            self._dirty |= {"status", "epochs", "loss"}
            if self.metrics_out:
                self._write_metrics([event], append=True)
            if self.autosave:
                self.trainer.save(self.autosave)
        elif isinstance(event, Predictions):
            self.gallery.show(event, self.trainer.data.test_pixels)
        elif isinstance(event, SettingsChanged):
            self._dirty |= {"status", "panel", "loss", "epochs"}
        elif isinstance(event, Saved):
            self._saved_step = self.trainer.step_count
            self.notify(f"saved {event.path}")
        elif isinstance(event, SaveFailed):
            self.notify(event.message, title="not saved", severity="error")
        elif isinstance(event, Failed):
            self.notify(event.message, title="training failed", severity="error", timeout=30)

    def watch_run_state(self, state: RunState) -> None:
        for each in RunState:
            self.status_bar.set_class(each is state, f"-{each.value}")
        if state is RunState.RUNNING:
            self.progress.start()
        else:
            self.progress.stop()
        self._dirty.add("status")
        self.refresh_bindings()

    def watch_render_mode(self, mode: RenderMode) -> None:
        self.gallery.mode = mode

    # ------------------------------------------------------------------ drawing
    def _tick(self) -> None:
        if self.run_state is RunState.RUNNING:
            self._dirty.add("status")  # elapsed time moves on
        if not self._dirty:
            return
        now = time.monotonic()
        due = set(self._dirty)
        if now - self._last_plot < self.plot_interval:
            due -= PLOTS
        elif due & PLOTS:
            self._last_plot = now
        self._dirty -= due
        self.redraw(due)

    @property
    def plot_interval(self) -> float:
        """Seconds between plot rebuilds: their cost (build and drawing, about twice the build)
        over the CPU share they may take, and never more often than PLOT_INTERVAL_S."""
        if self.run_state is not RunState.RUNNING:
            return TICK_S  # nothing competes: be as quick as the tick
        cost = 2 * (self.loss_plot.render_seconds + self.epoch_plot.render_seconds)
        return max(PLOT_INTERVAL_S, cost / PLOT_CPU_SHARE)

    def redraw(self, parts: Iterable[str] = ("status", "panel", "loss", "epochs")) -> None:
        """Bring the named parts up to date with the run now."""
        trainer, parts = self.trainer, set(parts)
        with self.batch_update():
            if "status" in parts:
                self.status_bar.show(
                    status_of(self.trainer, self.config, self.run_state, self.reason, self.progress)
                )
            if "panel" in parts:
                pending = self.config.batch_size
                pending = pending if pending != trainer.epoch_batch_size else None
                self.panel.show(self.config, pending)
            if "loss" in parts and self.loss_plot.sync(trainer.batch_losses, trainer.lr_changes):
                self.loss_plot.replot()
            if "epochs" in parts and self.epoch_plot.sync(
                trainer.history, trainer.lr_changes, trainer.batches_per_epoch, self.config.epochs
            ):
                self.epoch_plot.replot()

    # ------------------------------------------------------------------ keys
    def applies(self, action: str) -> bool | None:
        """Whether an app action makes sense in the run's state: None = shown but dimmed."""
        state = self.run_state
        waiting = state in (RunState.PAUSED, RunState.DIVERGED)
        if action == "pause":
            return state is RunState.RUNNING
        if action == "resume":
            return True if waiting else (False if state is RunState.RUNNING else None)
        if action == "step":
            return True if waiting else None
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in self.ACTIONS:
            return True
        if len(self.screen_stack) > 1 and action not in getattr(self.screen, "APP_ACTIONS", ()):
            return False  # a dialog or another screen is in front
        return self.applies(action)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if self.applies(binding.action) is True:
                key = self.get_key_display(binding)
                yield SystemCommand(
                    binding.tooltip.capitalize(),
                    f"key: {key}",
                    getattr(self, f"action_{binding.action}"),
                )

    def action_pause(self) -> None:
        self.trainer.pause()
        self.run_state = RunState.PAUSED  # shown at once; the trainer confirms within a batch

    def action_resume(self) -> None:
        self.trainer.resume()
        self.run_state = RunState.RUNNING

    def action_step(self) -> None:
        self.trainer.step(1)

    def action_render_mode(self) -> None:
        self.render_mode = "ascii" if self.render_mode == "blocks" else "blocks"

    def action_help(self) -> None:
        widgets = [(MisclassifiedGallery, "gallery"), (HyperparameterPanel, "panel")]
        self.push_screen(HelpScreen(key_rows(self, widgets)))

    def action_inspector(self) -> None:
        try:
            from mlp_tui.tui.screens.inspect import InspectScreen
        except ImportError as exc:
            detail = "" if exc.name == INSPECTOR else f": {exc}"
            self.notify(f"inspector not available{detail}", severity="warning")
            return
        self.after_pause(lambda: self.push_screen(InspectScreen(self.trainer)))

    def after_pause(self, callback: Callable[[], object]) -> None:
        """Pause, and call ``callback`` once the loop has really stopped between batches."""
        if self.trainer.state is RunState.RUNNING:
            self._after_pause.append(callback)
            self.action_pause()
        else:
            callback()

    # ------------------------------------------------------------------ gallery
    def on_misclassified_gallery_opened(self, message: MisclassifiedGallery.Opened) -> None:
        gallery = self.gallery
        self.push_screen(
            ImageScreen(
                gallery.pixels,
                gallery.predictions,
                gallery.wrong,
                message.position,
                self.render_mode,
            )
        )
