"""What a change to a setting does to the run, and the questions it asks.

lr, momentum, weight decay and epochs go to the running trainer at once, batch size from the
next epoch; the layers, activation, dropout, init, init scale, seed and device define the
network, so they start a new run, after a yes. Every value, stepped or typed, is checked by
``TrainConfig`` first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlp_tui.core.config import TrainConfig, parse_field
from mlp_tui.core.device import resolve_device
from mlp_tui.core.events import RunState
from mlp_tui.core.precision import check as check_precision
from textual.app import App

from .ladders import LABELS, NEW_RUN_FIELDS, show
from .run_view import RunView
from .screens.confirm import ConfirmDialog
from .screens.prompt import ValuePrompt


@dataclass(frozen=True)
class Change:
    config: TrainConfig  # the settings the user now has
    new_run: str = ""  # the change, in words, when it needs a new run: ask first
    note: str = ""  # what the user should be told
    continues: bool = False  # more epochs for a finished run: train on (paused)


def change(run: RunView, field: str, value: object) -> Change | None:
    """Set ``field`` to ``value``: a live change goes to the trainer here, a new run is only
    described. None when nothing changes; raises ConfigError for a value the run cannot take."""
    config = run.config.replace(**{field: value})
    if config == run.config:
        return None
    if field in ("precision", "device"):  # tf32 on a CPU, bf16 on a GPU: said now, in a line
        check_precision(config.precision, resolve_device(config.device))
    if field in NEW_RUN_FIELDS:
        return Change(config, new_run=f"{LABELS[field]} {show(field, value)}")
    run.trainer.update(**{field: value})
    run.config = config
    note = f"batch size {value} from the next epoch" if field == "batch_size" else ""
    finished = run.state is RunState.FINISHED
    return Change(config, note=note, continues=finished and run.epochs_done < config.epochs)


def value_prompt(config: TrainConfig, field: str) -> ValuePrompt:
    """Type ``field``'s value; the prompt dismisses with a value ``config`` accepts."""

    def check(text: str) -> object:
        value = parse_field(field, text)
        config.replace(**{field: value})
        if field == "device":
            resolve_device(str(value))  # a device this machine has
        if field == "precision":
            check_precision(str(value), resolve_device(config.device))
        return value

    now = show(field, getattr(config, field))
    return ValuePrompt(f"{LABELS[field]} (now {now})", now, check)


def confirm_new_run(app: App, what: str, unsaved: bool, start: Callable[[], object]) -> None:
    """Ask before starting a new run with ``what`` (in words); ``start`` it after a yes."""
    lost = " This run's unsaved progress is lost." if unsaved else ""

    def answer(yes: bool | None) -> None:
        if yes:
            start()

    app.push_screen(ConfirmDialog(f"Start a new run with {what}?{lost}", yes="New run"), answer)
