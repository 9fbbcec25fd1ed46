"""The inspector on a network of several hidden layers: the weights tab goes layer by layer."""

from __future__ import annotations

import pytest
from mlp_tui.core import analysis, data
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.widgets.weights_view import WeightsView

from tests.conftest import write_dataset

from .test_inspect import SIZE, InspectApp, shown, sync

DEEP = TrainConfig(epochs=1, batch_size=64, lr=0.4, layers=(32, 16), activation="tanh",
                   dropout=(0.1,), device="cpu")  # fmt: skip


@pytest.fixture(scope="module")
def deep(tmp_path_factory) -> Trainer:
    trainer = Trainer(DEEP, data.load(write_dataset(tmp_path_factory.mktemp("tiny"))))
    trainer.run()
    return trainer


@sync
async def test_the_weights_tab_goes_layer_by_layer(deep):
    app = InspectApp(deep)
    async with app.run_test(size=SIZE) as pilot:
        assert "784-32-16-10 tanh, dropout 0.1" in shown(app)  # the title
        await pilot.press("4")
        view = app.screen.query_one(WeightsView)
        await pilot.press("end")
        assert (view.shown_layer, view.unit) == (0, 31)
        text = shown(app)
        assert "Hidden unit 31 of 0–31 · layer 1 of 2" in text
        assert "inputs: the 784 pixels" in text and "units of layer 2 it drives most" in text
        unit, _ = analysis.strongest_units(deep.net.W2, 31)[0]
        assert f"unit {unit} " in text
        await pilot.press("right_square_bracket")
        assert (view.shown_layer, view.unit) == (1, 15)  # unit 31 is past layer 2's 16
        text = shown(app)
        assert "layer 2 of 2" in text and "inputs: layer 1's 32 units" in text
        best = analysis.strongest_classes(deep.net.W3, 15)[0][0]
        assert f"Strongest classes: {data.CLASS_NAMES[best]}" in text
        await pilot.press("right_square_bracket")  # no layer 3: stays
        assert view.shown_layer == 1
        await pilot.press("left_square_bracket", "home")
        assert (view.shown_layer, view.unit) == (0, 0)


def test_a_deeper_layers_weights_are_a_grid_of_the_previous_units(deep):
    image = analysis.weight_image(deep.net.W2, 3)  # 32 inputs: 6 columns, 6 rows
    assert image.shape == (6, 6) and image.dtype.is_floating_point is False
    assert (image.flatten()[32:] == 128).all()  # past the last unit: mid grey
    assert analysis.weight_image(deep.net.W1, 3).shape == (28, 28)
