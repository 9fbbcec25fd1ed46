"""The mlp-tui app: watch the scratch MLP learn Fashion-MNIST and steer it from the keyboard.

The app holds the keys that work across screens (help, quit, the image render mode) and shows
the training screen (``screens/main.py``), which owns the run, its keys and its widgets.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path

from mlp_tui.core.checkpoint import CheckpointError
from mlp_tui.core.store import RunStore
from mlp_tui.core.trainer import Trainer
from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.reactive import reactive
from textual.screen import Screen

from .files import SAVE_TIMEOUT_S
from .keys import APP_KEYS, MAIN_KEYS, bindings
from .render import RenderMode
from .screens.help import HelpScreen, Section, key_rows
from .screens.main import MainScreen
from .screens.quit import QuitDialog
from .screens.too_small import TooSmallScreen, too_small
from .widgets.gallery import MisclassifiedGallery
from .widgets.hyperparameters import HyperparameterPanel

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
        store: RunStore | None = None,
        store_problem: str = "",
        run_name: str | None = None,
        after_first_frame: Callable[[], object] | None = None,
    ) -> None:
        """``trainer``: the run to show (new, or from a checkpoint with ``saved=True``).

        ``paused`` starts it paused; ``train=False`` starts no training thread at all, so
        tests can script the state. ``clock`` drives elapsed time and can be frozen.
        ``autosave`` and ``metrics_out`` are ``--save`` and ``--metrics-out``: written at
        each epoch's end. ``store``: where every run is recorded (None: nowhere, and
        ``store_problem`` says why when it could not be opened); ``run_name``: the first run's.
        ``after_first_frame``: called once the first frame is drawn (the launch's clean-up).
        """
        super().__init__()
        self.saved_on_quit: Path | None = None  # where q, then Save, put the run
        self.cursor_blink = cursor_blink
        self.store_problem = store_problem
        self.after_first_frame = after_first_frame
        self.main = MainScreen(
            trainer,
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

    @property
    def trainer(self) -> Trainer:
        """The trainer of the run on screen (a restart or an open replaces it)."""
        return self.main.run.trainer

    def get_default_screen(self) -> Screen:
        return self.main

    def on_mount(self) -> None:
        # The UI allocates steadily; with Python's default thresholds that brought a full
        # collection about once an epoch, 100-180 ms holding the GIL while training waited.
        # Rarer young collections promote less, so full ones became rare (measured: 3 in 5
        # epochs, 0.42 s, before; none after).
        gc.set_threshold(*GC_THRESHOLDS)
        if self.after_first_frame is not None:
            self.call_after_refresh(self.after_first_frame)
        if self.store_problem:
            self.notify(self.store_problem, title="run store", severity="warning", timeout=15)

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
        self.trainer.stop()
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        self.trainer.stop()  # also when the app ends without exit(), on an error

    # ------------------------------------------------------------------ keys
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in self.KEYS:
            return True
        if self.screen is not self.main and action not in getattr(self.screen, "APP_ACTIONS", ()):
            return False  # a dialog or another screen is in front
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands (less its Quit: the app's asks to save first), then the
        actions of the screen the palette is opened on, each with its key."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command
        if screen is not self.main:
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
