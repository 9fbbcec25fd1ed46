"""The app's first frame, drawn before torch has loaded: the starting screen shows the run's
settings and what is loading, ``q`` quits at once, a run that cannot load ends the app with its
line, and the run, once loaded, arrives in the training screen (under a too-small notice when
the terminal is small)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mlp_tui.core.cli import build_parser
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import RunState
from mlp_tui.core.store import RunStore
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui import main as entry
from mlp_tui.tui.app import MLPApp
from mlp_tui.tui.launching import LaunchFailed, Loaded
from mlp_tui.tui.screens.main import MainScreen
from mlp_tui.tui.screens.starting import StartingScreen
from mlp_tui.tui.screens.too_small import TooSmallScreen
from textual.pilot import Pilot

from .conftest import messages
from .test_inspect import shown


class HeldLoad:
    """A load that says its phases, then waits for ``release`` and gives ``outcome`` (a
    Loaded, or an exception to raise)."""

    def __init__(self, outcome: Callable[[], Loaded] | BaseException, phases=("torch", "data")):
        self.outcome, self.phases = outcome, phases
        self.release = threading.Event()

    def __call__(self, phase: Callable[[str], None]) -> Loaded:
        for name in self.phases:
            phase(name)
        assert self.release.wait(30), "the test never released the load"
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome()


@pytest.fixture
def starting_app(tmp_path: Path) -> Callable[..., MLPApp]:
    def make(load: HeldLoad, **options: object) -> MLPApp:
        options.setdefault("preview", TrainConfig(lr=0.05, layers=(512,), device="cpu"))
        options.setdefault("save_dir", tmp_path / "saves")
        options.setdefault("clock", lambda: 0.0)
        return MLPApp(load=load, cursor_blink=False, **options)

    return make


async def until(pilot: Pilot, done: Callable[[], bool], what: str) -> None:
    for _ in range(300):
        if done():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"{what}: not within 6 s")


async def test_the_starting_screen_shows_the_runs_settings_and_what_loads(starting_app):
    load = HeldLoad(RuntimeError("never released"))
    app = starting_app(load)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "the Fashion-MNIST data" in shown(app), "the data's phase")
        text = shown(app)
        assert "LOADING" in text and re.search(r"learning rate +0\.05 ", text)
        assert re.search(r"hidden layers +512 ", text)
        assert re.search(r"q ?Quit", text) and "Step" not in text  # the one key that works
        for key in ("space", "right", "enter", "plus", "s", "question_mark", "i"):  # a run's
            await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, StartingScreen) and not app.loaded
        assert re.search(r"learning rate +0\.05 ", shown(app))  # the panel's keys are off
        load.release.set()


async def test_q_while_loading_quits_without_waiting_for_the_load(starting_app):
    load = HeldLoad(RuntimeError("never released"))
    app = starting_app(load)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.loading_thread is not None, "the load's start")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the exit")
    thread = app.loading_thread
    assert thread is not None and thread.is_alive() and thread.daemon  # not waited for
    assert app.return_code == 0 and app.launch_failed is None and not app.loaded
    load.release.set()


async def test_the_run_arrives_in_the_training_screen(starting_app, make_trainer, tmp_path):
    trainer = make_trainer()
    store = RunStore(tmp_path / "runs.db")
    load = HeldLoad(lambda: Loaded(trainer, store, "the store was read-only"))
    frozen: list[bool] = []
    app = starting_app(load, paused=True, after_first_frame=lambda: frozen.append(True))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.loading_thread is not None, "the load's start")
        assert not frozen  # the launch's clean-up waits for the run's first frame
        load.release.set()
        await until(pilot, lambda: app.loaded and app.screen is app.main, "the run")
        await pilot.pause(0.1)
        assert isinstance(app.main, MainScreen) and app.trainer is trainer
        assert app.main.run_state is RunState.PAUSED and app.main.store is store
        assert "epoch 1/" in shown(app) and "LOADING" not in shown(app)
        assert "the store was read-only" in messages(app)
        assert frozen == [True]
        assert app.loading_thread is None
        await pilot.press("space")  # the training screen's keys work now
        await until(pilot, lambda: app.main.run_state is RunState.RUNNING, "resume")
    for _ in range(250):  # the app's exit asked the loop to stop at its next batch
        if trainer.state is not RunState.RUNNING:
            break
        time.sleep(0.02)
    assert trainer.state is RunState.STOPPED


@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        (LaunchFailed("mlp-tui: bad.safetensors is not an mlp-tui checkpoint", 2), 2, "bad."),
        (RuntimeError("a bug"), 1, "could not load the run: RuntimeError('a bug')"),
    ],
)
async def test_a_run_that_cannot_load_ends_the_app_with_its_line(starting_app, error, code, says):
    load = HeldLoad(error)
    load.release.set()
    app = starting_app(load)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: not app.is_running, "the exit")
    assert app.return_code == code and app.launch_failed is not None
    assert says in app.launch_failed.text and not app.loaded


async def test_a_run_that_loads_under_the_too_small_notice_stays_under_it(
    starting_app, make_trainer
):
    load = HeldLoad(lambda: Loaded(make_trainer()))
    app = starting_app(load, paused=True)
    async with app.run_test(size=(60, 20)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TooSmallScreen), "the notice")
        load.release.set()
        await until(pilot, lambda: app.loaded, "the run")
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: app.screen is app.main, "the training screen")
        await pilot.pause()
        assert "epoch 1/" in shown(app)


def parsed(*argv: str):
    parser = build_parser()
    return parser.parse_args(list(argv)), parser


@pytest.mark.parametrize(
    ("on_disk", "phases"), [(True, ["torch", "data", "run"]), (False, ["torch", "download", "run"])]
)
def test_the_load_says_each_step_and_a_download_as_one(tiny_dir, on_disk, phases):
    args, _ = parsed("--data-dir", str(tiny_dir), "--no-store", "--device", "cpu", "--lr", "0.3")
    said: list[str] = []
    loaded = entry.load_run(args, said.append, on_disk)
    assert said == phases
    assert loaded.trainer.config.lr == 0.3 and loaded.store is None


def test_a_device_this_machine_lacks_is_the_loads_line(tiny_dir, monkeypatch):
    from mlp_tui.core import device
    from mlp_tui.core.config import ConfigError

    def absent(name: str):
        raise ConfigError(f"device: {name} was asked for, but no CUDA GPU is available")

    monkeypatch.setattr(device, "resolve_device", absent)
    args, _ = parsed("--data-dir", str(tiny_dir), "--no-store", "--device", "cuda")
    with pytest.raises(LaunchFailed) as failed:
        entry.load_run(args, lambda name: None)
    assert failed.value.code == 2
    assert (
        failed.value.text == "mlp-tui: --device: cuda was asked for, but no CUDA GPU is available"
    )


async def test_a_resumed_run_opens_paused_once_loaded(tiny_dir, tiny_data, tmp_path):
    trainer = Trainer(TrainConfig(epochs=2, batch_size=64, device="cpu"), tiny_data)
    trainer.run()
    trainer.update(epochs=5)
    trainer.save(tmp_path / "run.safetensors").result()
    args, parser = parsed(
        "--data-dir", str(tiny_dir), "--resume", str(tmp_path / "run.safetensors"), "--no-store"
    )
    app = entry.build_app(args, parser)
    async with app.run_test(size=(120, 40)) as pilot:
        assert "read from" in shown(app)  # its settings are in the checkpoint, not read yet
        await until(pilot, lambda: app.loaded, "the run")
        await pilot.pause()
        assert app.main.start_paused and not app.main.run.unsaved  # saved: as on disk
        assert app.trainer.history == trainer.history and app.trainer.config.epochs == 5


async def test_a_damaged_checkpoint_ends_the_app_with_its_line(tiny_dir, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04not a checkpoint")
    args, parser = parsed("--data-dir", str(tiny_dir), "--resume", str(bad), "--no-store")
    app = entry.build_app(args, parser)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: not app.is_running, "the exit")
    assert app.return_code == 2 and app.launch_failed is not None
    assert "is not an mlp-tui checkpoint" in app.launch_failed.text
    assert app.launch_failed.text.count("\n") == 0


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_the_starting_screen(snap_compare, starting_app, size):
    load = HeldLoad(RuntimeError("never released"), phases=("torch",))
    app = starting_app(load, preview=TrainConfig(device="cpu"))

    async def run_before(pilot: Pilot) -> None:
        await until(pilot, lambda: app.loading_thread is not None, "the load's start")

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        load.release.set()


FIRST_FRAME = """
import asyncio, json, sys
from mlp_tui.core.cli import build_parser
from mlp_tui.tui import main as entry
parser = build_parser()
args = parser.parse_args(["--data-dir", sys.argv[1], "--no-store", "--paused", "--device", "cpu"])
app = entry.build_app(args, parser)
seen = {"torch after build_app": "torch" in sys.modules}
real = entry.load_run
def load_run(*given):
    seen["torch when the load starts"] = "torch" in sys.modules
    seen["status row drawn"] = app.screen.query_one("#status").region.height
    seen["screen when the load starts"] = type(app.screen).__name__
    return real(*given)
entry.load_run = load_run
async def go():
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.loaded and app.launch_failed is None:
            await pilot.pause(0.05)
        seen["screen once loaded"] = type(app.screen).__name__
asyncio.run(go())
print(json.dumps(seen))
"""


def test_the_first_frame_is_drawn_before_torch_loads(tiny_dir):
    """In a fresh interpreter: building the app, importing Textual and drawing the starting
    screen take no torch; the load (which imports it) starts once that frame is drawn."""
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(tiny_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "torch after build_app": False,
        "torch when the load starts": False,
        "status row drawn": 1,
        "screen when the load starts": "StartingScreen",
        "screen once loaded": "MainScreen",
    }
