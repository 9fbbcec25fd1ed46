"""The app's keys: one list each for the training screen and the app, from which the footer,
the help screen and the command palette are all made, and when each key applies."""

from __future__ import annotations

from mlp_tui.core.events import RunState
from textual.binding import Binding, BindingType

LR_KEYS = Binding.Group("lr×2÷2", compact=True)


def key(keys: str, action: str, description: str, tooltip: str, **kwargs) -> Binding:
    """A key with its words for the footer (``description``) and for help (``tooltip``)."""
    return Binding(keys, action, description, tooltip=tooltip, id=action.split(".")[-1], **kwargs)


MAIN_KEYS: list[Binding] = [  # the training screen's, in the footer's order
    key("space", "pause", "Pause", "pause training"),
    key("space", "resume", "Resume", "resume training"),
    key("n", "step", "Step", "train one batch, then pause again"),
    key("plus", "lr_up", "lr×2", "double the learning rate", group=LR_KEYS),
    key("minus", "lr_down", "lr÷2", "halve the learning rate", group=LR_KEYS),
    key("l", "type_lr", "lr=", "type an exact learning rate"),
    key("s", "save", "Save", "save a checkpoint"),
    key("o", "open", "Open", "open a checkpoint and continue it"),
    key("r", "restart", "Restart", "start a new run with the current settings"),
    key("g", "app.render_mode", "Render", "draw images with blocks or in ASCII"),
    key("i", "inspector", "Inspect", "open the prediction inspector (pauses)"),
    key("h", "health", "Health", "training health: dead units, update sizes, hints", show=False),
    key("e", "export", "Export", "export tables, pictures and curves (pauses)", show=False),
    key("b", "fork", "Fork", "A/B from here: a new run from this exact point", show=False),
    key("x", "clear_ghosts", "Ghosts", "clear the past runs drawn behind this one", show=False),
    key("R", "runs", "Runs", "the recorded runs, to compare or continue", show=False),
    key("w", "sweep", "Sweep", "set up and train a sweep, then rank it (pauses)", show=False),
    key("L", "log_loss", "Log", "the loss on a log or a linear scale", show=False),
    key("right_square_bracket", "smoother", "Smoother", "smooth the loss curve more", show=False),
    key("left_square_bracket", "rougher", "Rougher", "smooth the loss curve less", show=False),
    key("f", "lr_find", "lr find", "the lr range test from here (pauses)", show=False),
    key("less_than_sign", "slower", "Slower", "slow motion: fewer batches a second", show=False),
    key("greater_than_sign", "faster", "Faster", "slow motion: more, up to full speed", show=False),
]
APP_KEYS: list[Binding] = [  # the app's, after those
    key("question_mark", "help", "Help", "show every key"),
    key("q", "quit", "Quit", "quit (offers to save unsaved progress)"),
]


def bindings(keys: list[Binding]) -> list[BindingType]:
    """``keys`` as a class's BINDINGS (a list of any of Textual's binding forms)."""
    return [*keys]


def applies(action: str, state: RunState) -> bool | None:
    """Whether an action makes sense in the run's state: None = shown but dimmed."""
    waiting = state in (RunState.PAUSED, RunState.DIVERGED)
    if action == "pause":
        return state is RunState.RUNNING
    if action in ("resume", "step") and state is RunState.FINISHED:
        return False  # not offered: a finished run trains on once its epochs are raised
    if action == "resume":
        return True if waiting else (False if state is RunState.RUNNING else None)
    if action == "step":
        return True if waiting else None
    return True
