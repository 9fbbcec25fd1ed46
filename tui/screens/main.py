"""The training screen: the status line, the two plots, the misclassified gallery and the panel.

Training runs in one thread worker calling ``Trainer.run()``. The trainer reports on that
thread; its listener only posts the events (``messages.py``) and never touches a widget. The
handler applies each to the run's view (``run_view.py``) and marks what changed; the redraw
schedule (``redraw.py``) draws it at a pace that keeps the UI a small share of the CPU.
Commands go the other way through the trainer's thread-safe methods, which it reads once per
batch. The screens behind keys (inspector, health, runs, sweep, lr range test, image) are
imported when first opened: at the launch they took 0.12 s. This screen imports torch, so the
app imports it once the run has loaded (``StartingScreen`` is drawn until then).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path

from mlp_tui.core.config import ConfigError, TrainConfig
from mlp_tui.core.events import (
    BatchReport,
    EpochReport,
    Event,
    Failed,
    Health,
    RunState,
    Saved,
    SaveFailed,
    StateChanged,
)
from mlp_tui.core.store import RunStore
from mlp_tui.core.trainer import Trainer
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from .. import checkpoints, exporting, files, ghosts, settings
from ..curves import DEFAULT_SMOOTHING, next_smoothing
from ..keys import MAIN_KEYS, applies, bindings
from ..ladders import show, step
from ..messages import StoreProblem, TrainerEvent
from ..recording import Recording
from ..redraw import PROGRESS_INTERVAL_S, RedrawSchedule
from ..render import RenderMode
from ..run_view import ALL_PARTS, RunView
from ..widgets.epoch_plot import EpochPlot
from ..widgets.footer import KeyFooter
from ..widgets.gallery import MisclassifiedGallery
from ..widgets.hyperparameters import HyperparameterPanel
from ..widgets.loss_plot import LossPlot
from ..widgets.lr_plan import LrPlan
from ..widgets.plot_marks import MAX_GHOSTS, Ghost
from ..widgets.render_cost import RenderCost
from ..widgets.run_numbers import RunNumbers, numbers_of
from ..widgets.status_bar import StatusBar, status_of


class MainScreen(Screen):
    BINDINGS = bindings(MAIN_KEYS)
    ACTIONS = frozenset(binding.action for binding in MAIN_KEYS)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # see app.tcss

    run_state: reactive[RunState] = reactive(RunState.IDLE)  # shown: ahead of the trainer's

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
        store: RunStore | None = None,
        run_name: str | None = None,
    ) -> None:
        """See ``MLPApp``: the screen shows ``trainer``'s run from when it is mounted."""
        super().__init__()
        self.store = store
        self.recording = Recording(store, self._store_failed, run_name)
        self.start_paused, self.train = paused, train
        self.save_dir = Path(save_dir) if save_dir else files.default_save_dir()
        self.autosave = autosave
        self.epoch_files = files.EpochFiles(autosave, metrics_out)
        self.clock = clock
        self.run = RunView(trainer, saved=saved, clock=clock)
        self._after_pause: list[Callable[[], object]] = []
        self.ghosts: list[Ghost] = []  # past runs drawn behind this one, newest first
        self.smoothing = DEFAULT_SMOOTHING  # of the loss plot and the numbers, kept across runs
        self.status_bar = StatusBar(id="status")
        self.numbers = RunNumbers(id="numbers")
        self.loss_plot = LossPlot(id="loss-plot")
        self.epoch_plot = EpochPlot(id="epoch-plot")
        self.lr_plan = LrPlan(id="lr-plan")
        self.gallery = MisclassifiedGallery(id="gallery")
        self.panel = HyperparameterPanel(self.run.config, id="panel")
        heavy: dict[str, RenderCost] = {
            "loss": self.loss_plot,
            "epochs": self.epoch_plot,
            "gallery": self.gallery,
        }
        self.redraws = RedrawSchedule(self, self.redraw, self._training, heavy)

    def _training(self) -> bool:
        return self.run_state is RunState.RUNNING

    def compose(self) -> ComposeResult:
        yield self.status_bar
        yield self.numbers
        with Horizontal(id="plots"):
            yield self.loss_plot
            yield self.epoch_plot
        yield self.lr_plan
        with Horizontal(id="bottom"):
            yield self.gallery
            yield self.panel
        yield KeyFooter(compact=True, show_command_palette=False)  # ctrl+p: on the help screen

    def on_mount(self) -> None:
        self.panel.border_title = "hyperparameters"
        self.gallery.focus()
        self.watch(self.app, "render_mode", self._set_mode)
        self.redraws.start()
        self.show_run(self.run, paused=self.start_paused, start=self.train)

    # ------------------------------------------------------------------ the run
    def show_run(self, run: RunView, *, paused: bool, start: bool = True) -> None:
        """Show ``run`` (new, restarted or opened) and, with ``start``, train it."""
        self.run, trainer = run, run.trainer
        run.set_smoothing(self.smoothing)
        trainer.on_event = self._listener(run, record=start)
        # The status line follows the batches 4 times a second: more reports would only wake
        # the UI thread, and each wake takes a core from the training thread's OpenMP team.
        trainer.report_interval = PROGRESS_INTERVAL_S
        self._after_pause.clear()
        self.loss_plot.clear()
        self.gallery.show(run.predictions, run.pixels)
        self._problem(self.epoch_files.new_run(run.history))
        self.run_state = (RunState.PAUSED if paused else RunState.RUNNING) if start else run.state
        self.redraw()
        if start:
            if trainer.data.held_out:  # which images the validation figures come from
                self.notify(trainer.data.describe_split(), timeout=8)
            self._train(trainer, paused)

    def _listener(self, run: RunView, *, record: bool) -> Callable[[Event], None]:
        """The trainer's listener: runs on the training thread, so it only records the event
        (a run the app trains, when the store is in use) and posts it."""
        recorder = self.recording.start(run.trainer) if record else None
        if recorder is not None:
            run.name = f"{recorder.short_id} {run.name}"
            run.run_id = recorder.run_id

        def listen(event: Event) -> None:
            if recorder is not None:
                recorder(event)
            self.post_message(TrainerEvent(run, event))

        return listen

    @work(thread=True, exclusive=True, exit_on_error=False, group="training")
    def _train(self, trainer: Trainer, paused: bool) -> RunState:
        return trainer.run(paused=paused)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "training" and event.state is WorkerState.ERROR:
            self.notify(f"training could not run: {event.worker.error}", severity="error")

    def _store_failed(self, text: str) -> None:
        self.post_message(StoreProblem(text))  # maybe on the training thread

    def on_store_problem(self, message: StoreProblem) -> None:
        self.notify(message.text, title="run store", severity="warning", timeout=15)

    def _problem(self, problem: str | None) -> None:
        if problem:  # a metrics file that cannot be written
            self.notify(problem, severity="error")

    # ------------------------------------------------------------------ events
    def on_trainer_event(self, message: TrainerEvent) -> None:
        if message.run is not self.run:
            return  # from a run that was replaced
        if not self.is_attached:
            return  # the app is closing: a stopped run's last events have no screen left
        self.show_event(message.event)

    def show_event(self, event: Event) -> None:
        """Take one engine event into the run's view and react to it (on the UI thread)."""
        changed = self.run.apply(event)
        if isinstance(event, BatchReport):
            self.redraws.progressed(*changed)  # for the next periodic tick: no redraw of its own
        elif changed:
            self.redraws.mark(*changed)
        if isinstance(event, StateChanged):
            self.run_state = event.state
            if event.state is not RunState.RUNNING:
                waiting, self._after_pause = self._after_pause, []
                for callback in waiting:
                    callback()
        elif isinstance(event, EpochReport):
            self._problem(self.epoch_files.epoch_ended(self.run.trainer, event))
        elif isinstance(event, Saved):
            if not self.epoch_files.quiet(event):
                self.notify(f"saved {event.path}")
        elif isinstance(event, SaveFailed):
            self.notify(event.message, title="not saved", severity="error")
        elif isinstance(event, Failed):
            self.notify(event.message, title="training failed", severity="error", timeout=30)
        elif isinstance(event, Health):
            for hint in event.hints:
                self.notify(hint.line, title="hint (h: training health)", severity="warning")

    def watch_run_state(self, state: RunState) -> None:
        if state is RunState.RUNNING:
            self.run.progress.start()
        else:
            self.run.progress.stop()
        self.redraws.mark("status")
        self.refresh_bindings()

    def _set_mode(self, mode: RenderMode) -> None:
        self.gallery.mode = mode

    def redraw(self, parts: Iterable[str] = ALL_PARTS) -> None:
        """Bring the named parts up to date with the run's view."""
        run, parts = self.run, set(parts)
        with self.app.batch_update():
            if "status" in parts:
                self.status_bar.show(status_of(run, self.run_state))
                self.numbers.show(numbers_of(run, self.run_state))
                self.lr_plan.show(run.config, run.batches, run.schedule_step)
            if "panel" in parts:
                self.panel.show(run.config, run.pending_batch_size)
            if "loss" in parts and self.loss_plot.sync(
                run.losses, run.changes, run.rollbacks, run.refused
            ):
                self.loss_plot.replot()
            if "epochs" in parts and self.epoch_plot.sync(
                run.history, run.changes, run.batches, run.config.epochs
            ):
                self.epoch_plot.replot()
            if "gallery" in parts and self.gallery.predictions is not run.predictions:
                self.gallery.show(run.predictions, run.pixels)

    # ------------------------------------------------------------------ keys
    def applies(self, action: str) -> bool | None:
        return applies(action, self.run_state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.applies(action) if action in self.ACTIONS else True

    def action_pause(self) -> None:
        self.run.trainer.pause()
        self.run_state = RunState.PAUSED  # shown at once; the trainer confirms within a batch

    def action_resume(self) -> None:
        self.run.trainer.resume()
        self.run_state = RunState.RUNNING

    def action_step(self) -> None:
        self.run.trainer.step(1)

    def action_inspector(self) -> None:
        from .inspect import InspectScreen

        def inspect() -> None:
            run = self.run
            screen = InspectScreen(
                run.trainer, per_class=run.per_class, export_dir=self.save_dir, history=run.history
            )
            self.app.push_screen(screen)

        self.after_pause(inspect)

    def action_health(self) -> None:
        from .health import HealthScreen

        self.app.push_screen(HealthScreen(lambda: self.run, self.app.render_mode))  # type: ignore[attr-defined]

    def action_lr_find(self) -> None:
        """Pause, then the lr range test on a copy; its ``a`` gives the run the lr."""
        from .lr_find import LrFindScreen

        def apply(lr: float | None) -> None:
            if lr is not None:
                self.apply_setting("lr", lr)
                self.notify(f"lr {lr:g}: space to train with it")

        self.after_pause(lambda: self.app.push_screen(LrFindScreen(self.run.trainer), apply))

    def action_slower(self) -> None:
        self._pace(-1)

    def action_faster(self) -> None:
        self._pace(1)

    def _pace(self, direction: int) -> None:
        """Slow motion a rung slower or faster (``ladders.SLOW_RATES``): full speed is the top."""
        rate = step("slow", self.run.config.slow, direction)
        if rate is None:
            self.app.bell()
            return
        self.apply_setting("slow", rate)
        self.notify(f"slow motion: {show('slow', rate)}" if rate else "full speed", timeout=2)

    def action_export(self) -> None:
        self.after_pause(lambda: exporting.ask_to_export(self.app, self.run, self.save_dir))

    def action_runs(self) -> None:
        if self.store is None:
            self.notify("runs are not recorded in this session", severity="warning")
            return
        from .runs import RunsScreen

        data, device = self.run.trainer.data, self.run.config.device
        screen = RunsScreen(
            self.store,
            data,
            device,
            self.has_unsaved,
            self.opened,
            live=lambda: self.run.run_id,
            deleted=self.forget_runs,
        )
        self.app.push_screen(screen, self.overlay)

    def action_sweep(self) -> None:
        """The sweep screen, this run paused: a sweep's members would share its cores."""
        store = self.store
        if store is None:
            self.notify("sweeps record their members in the run store: none in this session",
                        severity="warning")  # fmt: skip
            return
        from .sweep import SweepScreen

        data, base = self.run.trainer.data, self.run.config
        self.after_pause(lambda: self.app.push_screen(SweepScreen(store, data, base)))

    def has_unsaved(self) -> bool:
        return self.run.unsaved  # asked later: the run trains on behind the runs screen

    def after_pause(self, callback: Callable[[], object]) -> None:
        """Pause, and call ``callback`` once the loop has really stopped between batches."""
        if self.run.trainer.state is RunState.RUNNING:
            self._after_pause.append(callback)
            self.action_pause()
        else:
            callback()

    def on_misclassified_gallery_opened(self, message: MisclassifiedGallery.Opened) -> None:
        shown = self.gallery
        if shown.pixels is None or shown.predictions is None:
            return  # no evaluation yet: the gallery opens nothing
        from .image import ImageScreen

        at, mode = message.position, shown.mode  # the gallery's mode is the app's
        screen = ImageScreen(shown.pixels, shown.predictions, shown.wrong, at, mode)
        self.app.push_screen(screen, self.gallery_to)

    def gallery_to(self, position: int | None) -> None:
        """Back from the big image: the gallery's cursor on the image shown last."""
        if position is not None:
            self.gallery.cursor = self.gallery.validate_cursor(position)

    # ------------------------------------------------------------------ settings
    def on_hyperparameter_panel_changed(self, message: HyperparameterPanel.Changed) -> None:
        self.apply_setting(message.field, message.value)

    def action_lr_up(self) -> None:
        self.apply_setting("lr", self.run.config.lr * 2)

    def action_lr_down(self) -> None:
        self.apply_setting("lr", self.run.config.lr / 2)

    def action_type_lr(self) -> None:
        self.panel.edit("lr")

    def action_restart(self) -> None:
        self.confirm_new_run(self.run.config, "the current settings")

    def apply_setting(self, field: str, value: object) -> None:
        """Change one setting: live, from the next epoch, or (confirmed) in a new run."""
        run = self.run
        try:
            change = settings.change(run, field, value)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return
        if change is None:
            return
        if change.new_run:
            self.confirm_new_run(change.config, change.new_run)
            return
        # The next step or edit starts from it; drawn at the next tick, not before the trainer
        # has taken the change (a redraw now holds the GIL the training thread needs for it).
        self.panel.config = run.config
        self.redraws.mark("status", "panel", "epochs")
        if change.note:
            self.notify(change.note)
        elif field == "lr" and run.config.schedule != "constant":
            self.notify(f"lr {value:g} is the {run.config.schedule} schedule's base: it scales")
        if change.continues:
            self.run_state = RunState.PAUSED
            self._train(run.trainer, True)

    def confirm_new_run(self, config: TrainConfig, what: str) -> None:
        settings.confirm_new_run(self.app, what, self.run.unsaved, lambda: self.new_run(config))

    def new_run(self, config: TrainConfig) -> None:
        try:
            trainer = Trainer(config, self.run.trainer.data)
        except (ConfigError, RuntimeError) as exc:
            self.notify(f"cannot start a new run: {exc}", severity="error")
            return
        self.replace_run(trainer)

    # ------------------------------------------------------------------ checkpoints
    def action_save(self) -> None:
        self.ask_to_save()

    def ask_to_save(self, then: Callable[[Future], object] | None = None) -> None:
        checkpoints.ask_to_save(self.app, self.run, self.save_dir, self.autosave, then)

    def action_open(self) -> None:
        """An opened checkpoint stays paused if this run was: a paused user is not surprised
        by a run that trains at once (as ``--resume`` opens one paused)."""
        checkpoints.ask_to_open(
            self.app,
            self.run,
            self.save_dir,
            lambda trainer: self.opened(trainer, paused=self.run_state is RunState.PAUSED),
        )

    def opened(self, trainer: Trainer, *, paused: bool = False) -> None:
        """An opened checkpoint, or a run continued from the runs screen (``c``: it trains)."""
        self.replace_run(trainer, saved=True, paused=paused)
        self.notify(f"opened a run: {self.run.where()}" + (", paused" if paused else ""))

    def replace_run(self, trainer: Trainer, *, saved: bool = False, paused: bool = False) -> None:
        """Stop the run on screen and train ``trainer`` instead; the one replaced stays on the
        plots as a ghost, so that what the new settings do shows at a glance."""
        self.run.trainer.stop()
        self.keep_as_ghost(self.run)
        self.show_run(RunView(trainer, saved=saved, clock=self.clock), paused=paused)

    def keep_as_ghost(self, run: RunView) -> None:
        self.show_ghosts(ghosts.with_run(self.ghosts, run))

    def overlay(self, records: object) -> None:
        """Draw the runs chosen on the runs screen (``v``) as the ghosts, this run left out:
        it is drawn live."""
        if not isinstance(records, list):
            return  # the runs screen closed without an overlay
        chosen = [r for r in records if r.summary.id != self.run.run_id]
        if len(chosen) > MAX_GHOSTS:
            self.notify(f"{len(chosen)} runs chosen: the first {MAX_GHOSTS} are drawn")
        self.show_ghosts(ghosts.of_records(chosen))

    def forget_runs(self, ids: list[int]) -> None:
        """Runs deleted from the store: their ghosts go from the plots."""
        gone = set(ids)
        if any(g.run_id in gone for g in self.ghosts):
            self.show_ghosts([g for g in self.ghosts if g.run_id not in gone])

    def show_ghosts(self, shown: list[Ghost]) -> None:
        self.ghosts = shown
        self.loss_plot.show_ghosts(shown)
        self.epoch_plot.show_ghosts(shown)

    def action_fork(self) -> None:
        """A/B from here: the run so far is saved and set aside, paused (R, then c, continues
        it), and a child run starts from exactly its weights, optimizer state and place in
        the data, paused, for the settings to change before it goes on."""
        self.after_pause(self._fork)

    def _fork(self) -> None:
        parent_run, parent = self.run, self.run.trainer
        path = files.default_checkpoint_path(
            self.save_dir, parent_run.config.layers, parent_run.epochs_done, parent_run.step
        )
        parent.save(path)  # before the stop: the loop obeys in order
        child = parent.fork()
        self.recording.park(parent)  # its stop leaves it paused in the store, at that save
        parent.stop()
        # The parent's batch accuracies too: the numbers line shows them beside the losses.
        view = RunView(child, clock=self.clock, accuracies=parent_run.accuracies)
        self.show_run(view, paused=True)
        self.notify(f"forked at batch {child.fork_step}: change a setting, then space; "
                    f"the parent is paused, saved in {path} (R, then c, continues it)")  # fmt: skip

    def action_clear_ghosts(self) -> None:
        self.show_ghosts([])

    # ------------------------------------------------------------------ how the plots read
    def action_log_loss(self) -> None:
        log = not self.loss_plot.log_y
        self.loss_plot.log_y = self.epoch_plot.log_y = log
        self.loss_plot.replot()
        self.epoch_plot.replot()

    def action_smoother(self) -> None:
        self.set_smoothing(next_smoothing(self.smoothing, 1))

    def action_rougher(self) -> None:
        self.set_smoothing(next_smoothing(self.smoothing, -1))

    def set_smoothing(self, smoothing: float) -> None:
        """Smooth the loss plot, its ghosts and the numbers with this weight of the past, now
        (a key's effect shows at once, not at the plot's next turn)."""
        self.smoothing = smoothing
        self.run.set_smoothing(smoothing)
        self.loss_plot.set_smoothing(smoothing)
        self.redraw({"status", "loss"})
