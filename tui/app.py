"""The mlp-tui app: watch the scratch MLP learn Fashion-MNIST and steer it from the keyboard.

Training runs in one thread worker calling ``Trainer.run()``. The trainer reports on that
thread; the app only posts messages from there (``messages.py``) and never touches a widget.
Handlers note what changed and a 15 Hz tick redraws it: the status line 4 times a second, the
plots and the gallery at most once a second, less when they are slow to draw
(``heavy_interval``), so the UI's cost does not grow with the batch rate and stays a small share
of the CPU: the training thread waits whenever the UI thread holds the GIL. Commands go the
other way through the trainer's thread-safe methods, which it reads once per batch. The keys for
settings and checkpoints live in ``app_settings.py`` and ``app_checkpoints.py``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mlp_tui.core.analysis import PerClassHistory
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
from textual.worker import Worker, WorkerState

from . import files
from .app_checkpoints import CheckpointKeys
from .app_drawing import PROGRESS_INTERVAL_S, ScreenUpdates
from .app_settings import SettingsKeys
from .messages import BatchProgress, TrainerEvent
from .progress import RunProgress
from .render import RenderMode
from .screens.help import HelpScreen, key_rows
from .screens.image import ImageScreen
from .widgets.epoch_plot import EpochPlot
from .widgets.footer import KeyFooter
from .widgets.gallery import MisclassifiedGallery
from .widgets.hyperparameters import HyperparameterPanel
from .widgets.loss_plot import LossPlot
from .widgets.status_bar import StatusBar

INSPECTOR = "mlp_tui.tui.screens.inspect"
GC_THRESHOLDS = (5000, 20, 20)  # Python's defaults: (700, 10, 10)
STOPPED_STATES = (RunState.FINISHED, RunState.FAILED, RunState.STOPPED, RunState.IDLE)


LR_KEYS = Binding.Group("lr×2÷2", compact=True)


def _key(keys: str, action: str, description: str, tooltip: str, **kwargs) -> Binding:
    return Binding(keys, action, description, tooltip=tooltip, id=action, **kwargs)


class MLPApp(ScreenUpdates, SettingsKeys, CheckpointKeys, App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live elsewhere
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
        self._autosaves = 0  # --save writes under way, which need no message
        self._dirty: set[str] = set()
        self._progressed = False  # batches went by: the status line is due, but not urgent
        self._last_progress = 0.0
        self._drawn_at: dict[str, float] = {}  # heavy part -> when it was last redrawn
        self._predictions: Predictions | None = None  # the latest, shown when the gallery is due
        # Each epoch's per-class test accuracy, for the inspector: the trainer keeps only its
        # latest predictions, so the app collects them as they come.
        self.per_class = PerClassHistory()
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
        yield KeyFooter(compact=True, show_command_palette=False)  # ctrl+p: on the help screen

    def on_mount(self) -> None:
        # The UI allocates steadily; with Python's default thresholds that brought a full
        # collection about once an epoch, 100-180 ms holding the GIL while training waited.
        # Rarer young collections promote less, so full ones became rare (measured: 3 in 5
        # epochs, 0.42 s, before; none after).
        gc.set_threshold(*GC_THRESHOLDS)
        self.panel.border_title = "hyperparameters"
        self.gallery.focus()
        self.start_ticking()
        self.adopt(self.trainer, paused=self.start_paused, start=self.train, saved=self.start_saved)

    def exit(self, *args, **kwargs) -> None:
        """Every way out stops the loop (at its next batch): the worker's thread is joined when
        the event loop closes, so a run left going would keep the process from ending."""
        self.trainer.stop()
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        self.trainer.stop()  # also when the app ends without exit(), on an error

    # ------------------------------------------------------------------ the run
    def adopt(self, trainer: Trainer, *, paused: bool, start: bool = True, saved: bool = False):
        """Show ``trainer`` (new, restarted or opened) and, with ``start``, train it."""
        self.trainer = trainer
        trainer.on_event = self._relay(trainer)
        # The status line follows the batches 4 times a second: more reports would only wake
        # the UI thread, and each wake takes a core from the training thread's OpenMP team.
        trainer.report_interval = PROGRESS_INTERVAL_S
        self.config = trainer.config
        self.progress = RunProgress(trainer.elapsed + trainer.epoch_seconds, self.clock)
        self._saved_step = trainer.step_count if saved else 0
        self._autosaves = 0
        self._after_pause.clear()
        self.loss_plot.clear()
        if trainer.predictions is None and trainer.step_count and trainer.state in STOPPED_STATES:
            trainer.predictions = trainer.predict()  # a resumed run: show where it stands
        self._predictions = trainer.predictions
        self.gallery.show(trainer.predictions, trainer.data.test_pixels)
        # A checkpoint keeps each epoch's overall accuracy, not per class: a resumed run's
        # curve starts at the epoch it was saved after (the evaluation just made), or empty
        # when it was saved mid-epoch.
        self.per_class = PerClassHistory()
        if trainer.predictions is not None and trainer.batch == 0:
            self.per_class.add(trainer.predictions)
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
        """The trainer's listener: runs on the training thread, so it only posts messages.

        Batch reports (up to 20 a second) are passed on at the status line's pace: each one
        wakes the UI thread, and every wake-up costs the training thread the GIL.
        """
        last_batch_post = [0.0]

        def on_event(event: object) -> None:
            if isinstance(event, BatchReport):
                now = time.monotonic()
                if now - last_batch_post[0] >= PROGRESS_INTERVAL_S:
                    last_batch_post[0] = now
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
            self._progressed = True  # for the next periodic tick: no redraw of its own
            self._dirty.add("loss")

    def on_trainer_event(self, message: TrainerEvent) -> None:
        if message.trainer is not self.trainer:
            return  # from a run that was replaced
        if not self.screen_stack:
            return  # the app is closing: a stopped run's last events have no screen left
        self.show_event(message.event)

    def show_event(self, event: object) -> None:
        """Update the screen for one engine event (on the UI thread)."""
        if isinstance(event, StateChanged):
            self.reason = event.reason
            self.run_state = event.state
            self.mark("status")
            if event.state is not RunState.RUNNING:
                waiting, self._after_pause = self._after_pause, []
                for callback in waiting:
                    callback()
        elif isinstance(event, EpochReport):
            self.progress.sync(self.trainer.elapsed)
            self.mark("status", "epochs", "loss")
            if self.metrics_out:
                self._write_metrics([event], append=True)
            if self.autosave:
                self._autosaves += 1
                self.trainer.save(self.autosave)
        elif isinstance(event, Predictions):
            self._predictions = event
            self.per_class.add(event)
            self.mark("gallery")
        elif isinstance(event, SettingsChanged):
            self.mark("status", "panel", "loss", "epochs")
        elif isinstance(event, Saved):
            self._saved_step = self.trainer.step_count
            if self._autosaves and event.path == str(self.autosave):
                self._autosaves -= 1  # --save after each epoch: quietly
            else:
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
        self.mark("status")
        self.refresh_bindings()

    def watch_render_mode(self, mode: RenderMode) -> None:
        self.gallery.mode = mode

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
        self.after_pause(
            lambda: self.push_screen(
                InspectScreen(self.trainer, per_class=self.per_class, export_dir=self.save_dir)
            )
        )

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
