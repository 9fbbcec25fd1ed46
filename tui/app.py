"""The mlp-tui app: watch the scratch MLP learn Fashion-MNIST and steer it from the keyboard.

The app holds the keys that work across screens (help, quit, the image render mode) and shows
the training screen (``screens/main.py``), which owns the run, its keys and its widgets.

This module is torch-free: the launch draws its first frame (``screens/starting.py``) before
torch has loaded, and the training screen is imported once the run has (``MLPApp``'s ``load``).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlp_tui.core.config import TrainConfig
from mlp_tui.core.parsing import EXIT_FAILED
from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.reactive import reactive
from textual.screen import Screen

from .keys import APP_KEYS, MAIN_KEYS, bindings
from .launching import LaunchFailed, Loaded
from .screens.help import HelpScreen, Section, key_rows
from .screens.quit import QuitDialog
from .screens.starting import StartingScreen
from .screens.too_small import TooSmallScreen, too_small

if TYPE_CHECKING:
    from mlp_tui.core.store import RunStore
    from mlp_tui.core.trainer import Trainer

    from .render import RenderMode
    from .screens.main import MainScreen

GC_THRESHOLDS = (5000, 20, 20)  # Python's defaults: (700, 10, 10)

TAB = Binding("tab", "focus_next", "", tooltip="move between the gallery and the hyperparameters")
PALETTE = Binding("ctrl+p", "command_palette", "", tooltip="command palette: every action by name")
QUIT_NOW = Binding("ctrl+c", "quit_now", "", tooltip="quit now, saving unsaved progress (SIGTERM)")


def help_sections() -> list[Section]:
    """Every screen's keys, for ``?``: (where, keys). Built when asked: the screens behind keys
    load when first opened (see ``screens/main.py``), not at the launch."""
    from .screens.compare import CompareScreen
    from .screens.health import HealthScreen
    from .screens.image import ImageScreen
    from .screens.inspect import InspectScreen
    from .screens.lr_find import LrFindScreen
    from .screens.runs import RunsScreen
    from .screens.sweep import SweepScreen
    from .widgets.confusion_matrix import ConfusionMatrix
    from .widgets.explorer_grid import PredictionGrid
    from .widgets.explorer_panel import ExplorerPanel
    from .widgets.gallery import MisclassifiedGallery
    from .widgets.hyperparameters import HyperparameterPanel
    from .widgets.per_class_panel import PerClassPanel
    from .widgets.weights_view import WeightsView

    return [
        ("main screen", [*MAIN_KEYS, *APP_KEYS, TAB, PALETTE]),
        ("gallery", MisclassifiedGallery.BINDINGS),
        ("panel", HyperparameterPanel.BINDINGS),
        ("image view", ImageScreen.BINDINGS),
        ("inspector", [*InspectScreen.BINDINGS, *APP_KEYS[:1]]),
        ("explorer tab", [*ExplorerPanel.BINDINGS, *PredictionGrid.BINDINGS]),
        ("confusion tab", ConfusionMatrix.BINDINGS),
        ("per-class tab", PerClassPanel.BINDINGS),
        ("weights tab", WeightsView.BINDINGS),
        ("runs", [*RunsScreen.BINDINGS, *APP_KEYS[:1]]),
        ("comparison", CompareScreen.BINDINGS),
        ("sweep", [*SweepScreen.BINDINGS, *APP_KEYS[:1]]),
        ("training health", [*HealthScreen.BINDINGS, *APP_KEYS[:1]]),
        ("lr range test", LrFindScreen.BINDINGS),
        ("anywhere", [QUIT_NOW]),
    ]  # fmt: skip


SCREEN_KEYS: dict[str, tuple[str, ...]] = {  # a screen's sections of the help, by class name
    "MainScreen": ("main screen", "gallery", "panel"),
    "ImageScreen": ("image view",),
    "InspectScreen": ("inspector", "explorer tab", "confusion tab", "per-class tab", "weights tab"),
    "RunsScreen": ("runs",),
    "CompareScreen": ("comparison",),
    "SweepScreen": ("sweep",),
    "HealthScreen": ("training health",),
    "LrFindScreen": ("lr range test",),
}


class MLPApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live elsewhere
    TITLE = "mlp-tui"
    BINDINGS = bindings(APP_KEYS)
    KEYS = frozenset({"help", "quit", "render_mode"})  # the app's actions behind keys

    render_mode: reactive[RenderMode] = reactive("blocks")

    def __init__(
        self,
        trainer: Trainer | None = None,
        *,
        load: Callable[[Callable[[str], None]], Loaded] | None = None,
        preview: TrainConfig | None = None,
        resume: str | None = None,
        paused: bool = False,
        train: bool = True,
        saved: bool = False,
        save_dir: str | Path | None = None,
        autosave: Path | None = None,
        metrics_out: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        cursor_blink: bool = True,
        store: RunStore | None = None,
        store_problem: str = "",
        run_name: str | None = None,
        after_first_frame: Callable[[], object] | None = None,
    ) -> None:
        """``trainer``: the run to show (new, or from a checkpoint with ``saved=True``).

        Or ``load`` instead: called on a thread once the first frame is drawn, it loads the
        run (torch, the data, the store, the trainer; it tells ``StartingScreen`` each phase
        through the callable it is given) and returns it, or raises ``LaunchFailed``, which
        ends the app with that exit code (``launch_failed`` holds it for the shell's screen).
        Meanwhile ``StartingScreen`` shows ``preview``'s hyperparameters (or ``resume``'s file).

        ``paused`` starts it paused; ``train=False`` starts no training thread at all, so
        tests can script the state. ``clock`` drives elapsed time and can be frozen.
        ``autosave`` and ``metrics_out`` are ``--save`` and ``--metrics-out``: written at
        each epoch's end. ``store``: where every run is recorded (None: nowhere, and
        ``store_problem`` says why when it could not be opened); ``run_name``: the first run's.
        ``after_first_frame``: called once the run's first frame is drawn (the launch's
        clean-up).
        """
        super().__init__()
        if (trainer is None) == (load is None):
            raise TypeError("MLPApp takes a trainer or a load: one of them")
        self.saved_on_quit: Path | None = None  # where q, then Save, put the run
        self.launch_failed: LaunchFailed | None = None  # why a load gave no run
        self.cursor_blink = cursor_blink
        self.store_problem = store_problem
        self.after_first_frame = after_first_frame
        self._load = load
        self._loading: threading.Thread | None = None
        self._starting = StartingScreen(preview, resume, clock) if load is not None else None
        self._options: dict[str, Any] = dict(
            paused=paused,
            train=train,
            saved=saved,
            save_dir=save_dir,
            autosave=autosave,
            metrics_out=metrics_out,
            clock=clock,
            store=store,
            run_name=run_name,
        )
        self._main: MainScreen | None = None
        if trainer is not None:
            self._main = self._training_screen(trainer)

    def _training_screen(self, trainer: Trainer) -> MainScreen:
        from .screens.main import MainScreen  # torch: loaded by now

        return MainScreen(trainer, **self._options)

    @property
    def loaded(self) -> bool:
        """Whether the run is here (always, unless the app was given a ``load``)."""
        return self._main is not None

    @property
    def loading_thread(self) -> threading.Thread | None:
        """The thread loading the run: None before it starts, once it has handed the run
        over, and in an app given its trainer."""
        return self._loading

    @property
    def main(self) -> MainScreen:
        """The training screen (only once ``loaded``)."""
        if self._main is None:
            raise RuntimeError("the run has not loaded yet")
        return self._main

    @property
    def trainer(self) -> Trainer:
        """The trainer of the run on screen (a restart or an open replaces it)."""
        return self.main.run.trainer

    def get_default_screen(self) -> Screen:
        return self._main if self._main is not None else self._starting  # type: ignore[return-value]

    def on_mount(self) -> None:
        # The UI allocates steadily; with Python's default thresholds that brought a full
        # collection about once an epoch, 100-180 ms holding the GIL while training waited.
        # Rarer young collections promote less, so full ones became rare (measured: 3 in 5
        # epochs, 0.42 s, before; none after).
        gc.set_threshold(*GC_THRESHOLDS)
        if self._load is not None:
            self.call_after_refresh(self._start_loading, self._load)
            return
        self._run_is_here()

    def _start_loading(self, load: Callable[[Callable[[str], None]], Loaded]) -> None:
        """Once the first frame is drawn: torch's import is Python code that contends for the
        GIL, and would slow that frame if it began alongside it. A daemon thread: a
        quit while torch imports ends the process at once (nothing has trained, so nothing
        is lost), not once the import is done."""
        self._loading = threading.Thread(
            target=self._load_run, args=(load,), name="mlp-tui load", daemon=True
        )
        self._loading.start()

    def _run_is_here(self) -> None:
        if self.after_first_frame is not None:
            self.call_after_refresh(self.after_first_frame)
        if self.store_problem:
            self.notify(self.store_problem, title="run store", severity="warning", timeout=15)

    def _load_run(self, load: Callable[[Callable[[str], None]], Loaded]) -> None:
        """On the loading thread: the run, handed to the UI thread."""
        outcome: Loaded | LaunchFailed
        try:
            outcome = load(self._phase)
        except LaunchFailed as exc:
            outcome = exc
        except Exception as exc:  # a bug: said on the shell's screen, not lost in a log
            outcome = LaunchFailed(f"mlp-tui: could not load the run: {exc!r}", EXIT_FAILED)
        self._to_ui(self._show_loaded, outcome)

    def _phase(self, phase: str) -> None:
        """From the loading thread: what it loads now, for the starting screen."""
        self._to_ui(self._starting.now_loading, phase)  # type: ignore[union-attr]

    def _to_ui(self, callback: Callable[..., object], *args: object) -> None:
        """From the loading thread: ``callback(*args)`` on the UI thread, unless the app has
        already ended (a quit while loading)."""
        if not self.is_running:
            return
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:
            pass  # it ended just now

    def _show_loaded(self, outcome: Loaded | LaunchFailed) -> None:
        self._loading = None
        if isinstance(outcome, LaunchFailed):
            self.launch_failed = outcome
            self.exit(return_code=outcome.code)
            return
        from mlp_tui.core.threads import keep_this_thread_serial

        keep_this_thread_serial()  # before this thread's first tensor (see core/threads.py)
        self._options.update(store=outcome.store)
        self.store_problem = outcome.store_problem
        self._main = self._training_screen(outcome.trainer)
        while len(self.screen_stack) > 1:  # a too-small notice: over the training screen next
            self.pop_screen()
        self._starting.loaded()  # type: ignore[union-attr]
        # Pushed over the starting screen (the default screen cannot be switched away), which
        # stays below it, never shown again.
        self.push_screen(self._main)
        if too_small(*self.size):
            self.push_screen(TooSmallScreen())
        self._run_is_here()

    def on_resize(self, event: events.Resize) -> None:
        """Below the smallest size the screens are laid out for, a notice instead of them."""
        small = too_small(event.size.width, event.size.height)
        if small and not isinstance(self.screen, TooSmallScreen):
            self.push_screen(TooSmallScreen())
        elif not small and isinstance(self.screen, TooSmallScreen):
            self.pop_screen()

    def exit(self, *args, **kwargs) -> None:
        """Every way out stops the loop (at its next batch): the worker's thread is joined when
        the event loop closes, so a run left going would keep the process from ending."""
        if self.loaded:
            self.trainer.stop()
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        if self.loaded:
            self.trainer.stop()  # also when the app ends without exit(), on an error

    # ------------------------------------------------------------------ keys
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in self.KEYS:
            return True
        if self.screen is not self._main and action not in getattr(self.screen, "APP_ACTIONS", ()):
            return False  # a dialog or another screen is in front
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands (less its Quit: the app's asks to save first), then the
        actions of the screen the palette is opened on, each with its key."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command
        if screen is not self._main:
            yield from self.screen_commands(screen)
            return
        for node, keys in ((self.main, MAIN_KEYS), (self, APP_KEYS)):
            for binding in keys:
                if self.main.applies(binding.action) is not True:
                    continue
                namespace, _, action = binding.action.rpartition(".")
                target: DOMNode = self if namespace == "app" else node
                yield SystemCommand(
                    binding.tooltip.capitalize(),
                    f"key: {self.get_key_display(binding)}",
                    getattr(target, f"action_{action}"),
                )

    def screen_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """A screen's own keys as palette commands (the inspector's tabs, export, ...)."""
        for binding in (b for b in screen.BINDINGS if isinstance(b, Binding)):
            action = binding.action
            if action.startswith("app.") or screen.check_action(action, ()) is False:
                continue
            title = (binding.tooltip or binding.description).capitalize()
            key = self.get_key_display(next(iter(Binding.make_bindings([binding]))))

            async def run(action: str = action) -> None:
                await screen.run_action(action)

            yield SystemCommand(title, f"key: {key}", run)

    def action_help(self) -> None:
        names = (cls.__name__ for cls in type(self.screen).__mro__)
        first = next((SCREEN_KEYS[n] for n in names if n in SCREEN_KEYS), SCREEN_KEYS["MainScreen"])
        title = "Keys" if first[0] == "main screen" else f"Keys: the {first[0]}'s, then all"
        self.push_screen(HelpScreen(key_rows(self, help_sections(), first), title))

    def action_render_mode(self) -> None:
        self.render_mode = "ascii" if self.render_mode == "blocks" else "blocks"

    async def action_quit(self) -> None:
        if not self.loaded:  # nothing has trained yet
            self.exit()
            return
        run = self.main.run
        if not run.unsaved:
            self.exit()
            return

        def answer(choice: str | None) -> None:
            if choice == "discard":
                self.exit()
            elif choice == "save":
                self.main.ask_to_save(then=self.quit_when_saved)

        self.push_screen(QuitDialog(run.where()), answer)

    @work(group="quit")
    async def quit_when_saved(self, future: Future) -> None:
        from mlp_tui.core.checkpoint import CheckpointError

        from .files import SAVE_TIMEOUT_S

        try:  # shielded: a timeout must not cancel the future the trainer will still set
            path = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), SAVE_TIMEOUT_S
            )
        except CheckpointError:
            return  # the trainer's SaveFailed event says why
        except asyncio.TimeoutError:
            self.notify("the save did not finish: not quitting", severity="error")
            return
        self.saved_on_quit = Path(path)
        self.exit()
