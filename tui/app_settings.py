"""The app's hyperparameter keys: what a change to each setting does to the run.

lr, momentum, weight decay and epochs go to the running trainer at once, batch size from the
next epoch; hidden units, init scale, seed and device define the network, so they start a new
run, after a yes. Every value, stepped or typed, is checked by ``TrainConfig`` first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlp_tui.core.config import ConfigError, TrainConfig, parse_field
from mlp_tui.core.device import resolve_device
from mlp_tui.core.events import RunState
from mlp_tui.core.trainer import Trainer

from .ladders import LABELS, NEW_RUN_FIELDS, show
from .screens.confirm import ConfirmDialog
from .screens.prompt import ValuePrompt
from .widgets.hyperparameters import HyperparameterPanel

if TYPE_CHECKING:
    from .app import MLPApp

    _Base = MLPApp
else:
    _Base = object


class SettingsKeys(_Base):
    """Mixed into ``MLPApp``: the hyperparameter panel's messages, ``l``, ``+``/``-``, ``r``."""

    def on_hyperparameter_panel_stepped(self, message: HyperparameterPanel.Stepped) -> None:
        self.apply_setting(message.field, message.value)

    def on_hyperparameter_panel_edit_requested(
        self, message: HyperparameterPanel.EditRequested
    ) -> None:
        self.edit_setting(message.field)

    def edit_setting(self, field: str) -> None:
        def check(text: str) -> object:
            value = parse_field(field, text)
            self.config.replace(**{field: value})
            if field == "device":
                resolve_device(value)  # a device this machine has
            return value

        prompt = ValuePrompt(
            f"{LABELS[field]} (now {show(field, getattr(self.config, field))})",
            show(field, getattr(self.config, field)),
            check,
        )
        self.push_screen(prompt, lambda value: value is None or self.apply_setting(field, value))

    def apply_setting(self, field: str, value: object) -> None:
        """Change one setting: live, from the next epoch, or (confirmed) in a new run."""
        try:
            config = self.config.replace(**{field: value})
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return
        if config == self.config:
            return
        if field in NEW_RUN_FIELDS:
            self.confirm_new_run(config, f"{LABELS[field]} {show(field, value)}")
            return
        try:
            self.trainer.update(**{field: value})
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return
        self.config = config
        self.mark("status", "panel", "epochs")
        if field == "batch_size":
            self.notify(f"batch size {value} from the next epoch")
        trainer = self.trainer
        if field == "epochs" and trainer.state is RunState.FINISHED and not trainer.finished:
            self.run_state = RunState.PAUSED
            self._train(trainer, True)  # more epochs for a finished run: continue, paused

    def confirm_new_run(self, config: TrainConfig, what: str) -> None:
        lost = " This run's unsaved progress is lost." if self.unsaved else ""
        dialog = ConfirmDialog(f"Start a new run with {what}?{lost}", yes="New run")
        self.push_screen(dialog, lambda yes: yes and self.new_run(config))

    def new_run(self, config: TrainConfig) -> None:
        try:
            trainer = Trainer(config, self.trainer.data)
        except (ConfigError, RuntimeError) as exc:
            self.notify(f"cannot start a new run: {exc}", severity="error")
            return
        self.trainer.stop()
        self.adopt(trainer, paused=False)

    def action_lr_up(self) -> None:
        self.apply_setting("lr", self.config.lr * 2)

    def action_lr_down(self) -> None:
        self.apply_setting("lr", self.config.lr / 2)

    def action_type_lr(self) -> None:
        self.edit_setting("lr")

    def action_restart(self) -> None:
        self.confirm_new_run(self.config, "the current settings")
