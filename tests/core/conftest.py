"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import pytest
from mlp_tui.core.analysis import PerClassHistory
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import Predictions
from mlp_tui.core.trainer import Trainer

TRAINED_CONFIG = TrainConfig(epochs=2, batch_size=64, lr=0.4, hidden=32, seed=0, device="cpu")


@pytest.fixture
def trained(tiny_data) -> tuple[Trainer, PerClassHistory]:
    """A trainer after two epochs on the tiny data, and the per-class history fed from its
    events (as the app feeds it)."""
    history = PerClassHistory()
    trainer = Trainer(
        TRAINED_CONFIG,
        tiny_data,
        lambda e: history.add(e) if isinstance(e, Predictions) else None,
    )
    trainer.run()
    return trainer, history
