"""The prediction inspector driven from the keyboard, on a small deterministic run."""

from __future__ import annotations

import asyncio
import functools
import io
import threading

import pytest
import torch
from mlp_tui.core import analysis, data
from mlp_tui.core.analysis import PerClassHistory
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.data import to_unit
from mlp_tui.core.events import Predictions, RunState, StateChanged
from mlp_tui.core.export import FILES
from mlp_tui.core.trainer import Trainer
from mlp_tui.tui.screens.export_prompt import ExportPrompt
from mlp_tui.tui.screens.inspect import InspectScreen
from mlp_tui.tui.widgets import image_grid
from mlp_tui.tui.widgets.confusion_matrix import ConfusionMatrix
from mlp_tui.tui.widgets.explorer_grid import PredictionGrid
from mlp_tui.tui.widgets.explorer_panel import ExplorerPanel
from mlp_tui.tui.widgets.per_class_plot import COLOURS, PerClassPlot
from mlp_tui.tui.widgets.weights_view import WeightsView
from rich.console import Console
from textual.app import App
from textual.widgets import DataTable, Input, TabbedContent

from tests.conftest import make_images, write_dataset

CONFIG = TrainConfig(epochs=2, batch_size=64, lr=0.4, hidden=32, seed=0, device="cpu")
SIZE = (120, 40)


def train(dataset: data.FashionMNIST) -> tuple[Trainer, PerClassHistory]:
    """Two epochs on the tiny data, feeding a PerClassHistory as the app does."""
    history = PerClassHistory()
    trainer = Trainer(
        CONFIG, dataset, lambda e: history.add(e) if isinstance(e, Predictions) else None
    )
    trainer.run()
    return trainer, history


class InspectApp(App):
    """Stands in for the main app: opens the inspector and records notifications."""

    def __init__(self, trainer: Trainer, **options) -> None:
        super().__init__()
        self.trainer, self.options = trainer, options
        self.animation_level = "none"  # tab switches without the underline animation
        self.notes: list[tuple[str, str]] = []

    def on_mount(self) -> None:
        self.push_screen(InspectScreen(self.trainer, **self.options))

    def notify(self, message, *, title="", severity="information", **kwargs) -> None:
        self.notes.append((severity, f"{title}: {message}"))
        super().notify(message, title=title, severity=severity, **kwargs)


def sync(test):
    """Run an async pilot test on its own event loop (no asyncio plugin needed)."""

    @functools.wraps(test)
    def run(*args, **kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One run shared by the module: the inspector only reads the trainer."""
    return train(data.load(write_dataset(tmp_path_factory.mktemp("tiny"))))


def shown(app: App) -> str:
    """The characters on the terminal, as ``App.export_screenshot`` renders them, as text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def grid(app: App) -> PredictionGrid:
    return app.screen.query_one(PredictionGrid)


def selection(app: App) -> analysis.Selection:
    return app.screen.query_one(ExplorerPanel).selection


@sync
async def test_opens_on_every_prediction_of_the_current_model(trained):
    trainer, _ = trained
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, InspectScreen)
        assert app.screen.query_one(TabbedContent).active == "explorer"
        assert grid(app).indices == list(range(200))
        assert isinstance(app.focused, PredictionGrid)
        text = shown(app)
        assert "all predictions" in text and "of 200" in text and "test image #0" in text
        assert f"{trainer.history[-1].test_acc:.2%}" in text


@sync
async def test_filter_keys_narrow_the_list(trained):
    trainer, _ = trained
    predictions = trainer.predict()
    labels, predicted = predictions.labels.tolist(), predictions.predicted.tolist()
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        wrong = grid(app).indices
        assert wrong and all(labels[i] != predicted[i] for i in wrong)
        assert len(wrong) == len(predictions.misclassified())
        first = wrong[0]

        await pilot.press("t")  # the selected image's true class
        assert selection(app).filter == "true" and selection(app).true == labels[first]
        assert all(labels[i] == labels[first] for i in grid(app).indices)
        assert grid(app).selected == first  # the image stays selected
        await pilot.press("t")  # again: the next class
        assert selection(app).true == (labels[first] + 1) % 10

        await pilot.press("m", "p")
        assert selection(app).filter == "predicted"
        assert all(predicted[i] == predicted[first] for i in grid(app).indices)

        await pilot.press("m", "c")
        pair = (labels[first], predicted[first])
        assert (selection(app).true, selection(app).predicted) == pair
        assert all((labels[i], predicted[i]) == pair for i in grid(app).indices)
        assert "predicted as" in shown(app)

        await pilot.press("d")
        assert grid(app).indices == [0, 1, 2, 3, 4, 5]
        assert "predict_ch3" in shown(app)

        await pilot.press("a")
        assert grid(app).indices == list(range(200))


@sync
async def test_sort_and_reverse_keys_order_the_list(trained):
    trainer, _ = trained
    predictions = trainer.predict()
    confidence = analysis.confidence(predictions).tolist()
    losses = analysis.example_losses(predictions).tolist()
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right", "s")
        order = [confidence[i] for i in grid(app).indices]
        assert order == sorted(order, reverse=True)
        assert grid(app).cursor == 0  # a new order starts at its top
        assert "confidence ↓" in shown(app)
        await pilot.press("s")
        order = [losses[i] for i in grid(app).indices]
        assert order == sorted(order, reverse=True)
        await pilot.press("r")
        order = [losses[i] for i in grid(app).indices]
        assert order == sorted(order)
        await pilot.press("s")
        assert grid(app).indices == list(range(200))


@sync
async def test_arrow_and_page_keys_move_through_pages(trained):
    trainer, _ = trained
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        cards = grid(app)
        columns, page = cards.columns, cards.page_size
        assert 1 < columns < page < 200
        await pilot.press("left")
        assert cards.cursor == 0
        await pilot.press("right")
        assert cards.cursor == 1 and "test image #1 " in shown(app)
        await pilot.press("down")
        assert cards.cursor == 1 + columns
        await pilot.press("up", "pagedown")
        assert cards.cursor == 1 + page
        assert f"{page + 1}–{2 * page} of 200" in shown(app)
        await pilot.press("pageup")
        assert cards.cursor == 1
        await pilot.press("end")
        assert cards.cursor == 199 and "test image #199" in shown(app)
        await pilot.press("home")
        assert cards.cursor == 0


@sync
async def test_g_switches_images_between_blocks_and_ascii(trained):
    trainer, _ = trained
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "▀" in shown(app)
        await pilot.press("g")
        assert grid(app).mode == "ascii" and app.screen.query_one(WeightsView).mode == "ascii"
        assert "▀" not in shown(app)
        await pilot.press("4")
        assert "▀" not in shown(app)
        await pilot.press("g")
        assert "▀" in shown(app)


@sync
async def test_confusion_cell_enter_lists_its_images(trained):
    trainer, _ = trained
    predictions = trainer.predict()
    matrix = analysis.confusion_matrix(predictions)
    off = matrix - torch.diag(matrix.diagonal())
    t, p = divmod(int(off.argmax()), 10)
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        assert app.screen.query_one(TabbedContent).active == "confusion"
        assert isinstance(app.focused, ConfusionMatrix)
        await pilot.press(*["down"] * t, *["right"] * p)
        view = app.screen.query_one(ConfusionMatrix)
        assert (view.row, view.column) == (t, p)
        text = shown(app)
        assert f"{int(matrix[t, p])} of {int(matrix[t].sum())}" in text
        await pilot.press("up", "down", "left", "right", "enter")
        assert app.screen.query_one(TabbedContent).active == "explorer"
        assert isinstance(app.focused, PredictionGrid)
        assert len(grid(app).indices) == int(matrix[t, p])
        for i in grid(app).indices:
            assert (int(predictions.labels[i]), int(predictions.predicted[i])) == (t, p)


@sync
async def test_per_class_tab_table_and_one_class_plot(trained):
    trainer, history = trained
    matrix = analysis.confusion_matrix(trainer.predict())
    accuracy = analysis.per_class_accuracy(matrix).tolist()
    app = InspectApp(trainer, per_class=history)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        table = app.screen.query_one(DataTable)
        assert app.focused is table and table.row_count == 10
        for c in range(10):
            assert table.get_row_at(c)[0] == data.CLASS_NAMES[c]
            assert str(table.get_row_at(c)[3]) == f"{accuracy[c]:.1%}"
            swatch = table.get_row_at(c)[-1]  # the key to the plot: the class's line colour
            assert swatch.style.color.triplet == COLOURS[c]
        plot = app.screen.query_one(PerClassPlot)
        assert plot.history.epochs == [1, 2] and plot.only is None
        await pilot.press("o")
        assert plot.only == 0
        await pilot.press("down")
        assert plot.only == 1
        await pilot.press("o")
        assert plot.only is None


@sync
async def test_weights_tab_browses_hidden_units(trained):
    trainer, _ = trained
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        view = app.screen.query_one(WeightsView)
        assert app.focused is view and view.unit == 0
        await pilot.press("right")
        assert view.unit == 1
        await pilot.press("down")
        assert view.unit == 17
        await pilot.press("up", "left", "left")
        assert view.unit == 31  # wraps around the 32 units
        await pilot.press("home")
        assert view.unit == 0
        await pilot.press("end", "pageup", "pagedown")
        assert view.unit == 31
        best = analysis.strongest_classes(trainer.net.W2, 31)[0][0]
        text = shown(app)
        assert "Hidden unit" in text and "31" in text
        assert f"Strongest classes: {data.CLASS_NAMES[best]}" in text


@sync
async def test_number_keys_switch_tabs_and_escape_closes(trained):
    trainer, _ = trained
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.screen.query_one(TabbedContent)
        for key, tab in (
            ("2", "confusion"),
            ("3", "per-class"),
            ("4", "weights"),
            ("1", "explorer"),
        ):
            await pilot.press(key)
            assert tabs.active == tab
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


@sync
async def test_export_key_writes_the_files_into_the_chosen_folder(trained, tmp_path):
    trainer, _ = trained
    app = InspectApp(trainer, export_dir=tmp_path / "default")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m", "e")
        assert isinstance(app.screen, ExportPrompt)
        field = app.screen.query_one(Input)
        assert field.value == str(tmp_path / "default")
        field.value = str(tmp_path / "chosen")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, InspectScreen)
        assert sorted(p.name for p in (tmp_path / "chosen").iterdir()) == sorted(FILES)
        assert app.notes[-1] == (
            "information",
            f"Exported: {len(FILES)} files in {tmp_path / 'chosen'}",
        )
        assert selection(app).filter == "misclassified"  # the view is as it was
        await pilot.press("e")
        assert app.screen.query_one(Input).value == str(tmp_path / "chosen")


@sync
async def test_export_escape_cancels_and_a_failure_loses_nothing(trained, tmp_path):
    trainer, _ = trained
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    app = InspectApp(trainer, export_dir=blocker)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m", "e", "escape")
        assert isinstance(app.screen, InspectScreen) and app.notes == []
        await pilot.press("e", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        severity, message = app.notes[-1]
        assert severity == "error" and "is a file" in message
        assert blocker.read_text() == "keep me"
        assert isinstance(app.screen, InspectScreen)
        assert selection(app).filter == "misclassified"


@sync
async def test_ten_thousand_predictions_draw_only_one_page(tiny_data, monkeypatch):
    images, labels = make_images(10_000, seed=3)
    big = data.FashionMNIST.from_uint8(
        (to_unit(tiny_data.train_pixels) * 255).round().to(torch.uint8).reshape(-1, 28, 28),
        tiny_data.train_y.to(torch.uint8),
        images,
        labels,
    )
    trainer = Trainer(CONFIG.replace(epochs=1), big)
    trainer.run()
    drawn: list[int] = []
    real = image_grid.image_rows
    monkeypatch.setattr(image_grid, "image_rows", lambda *a, **k: drawn.append(1) or real(*a, **k))
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        widgets = len(app.screen.query("*"))
        page = grid(app).page_size
        assert "of 10,000" in shown(app)
        drawn.clear()
        await pilot.press("pagedown", "pagedown", "end")
        await pilot.pause()
        assert grid(app).cursor == 9_999
        assert len(drawn) <= 6 * page  # a few renders of one page, never the whole list
        assert len(app.screen.query("*")) == widgets


@sync
async def test_inspects_a_checkpoint_without_training(trained, tiny_data, tmp_path):
    trainer, history = trained
    path = tmp_path / "run.safetensors"
    trainer.save(path).result()
    loaded = Trainer.from_checkpoint(path, tiny_data)
    app = InspectApp(loaded, per_class=history.accuracies)  # plain rows for epochs 1, 2
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert torch.equal(screen.matrix, analysis.confusion_matrix(trainer.predict()))
        assert "Idle after epoch 2" in shown(app)
        assert screen.per_class.epochs == [1, 2]
        assert screen.per_class.accuracies == history.accuracies
    assert loaded.step_count == trainer.step_count  # inspecting trained nothing


@sync
async def test_inspects_a_paused_run_mid_epoch(tiny_data):
    paused = threading.Event()
    states: list[RunState] = []

    def on_event(event) -> None:
        if isinstance(event, StateChanged):
            states.append(event.state)
            if states[-2:] == [RunState.RUNNING, RunState.PAUSED]:
                paused.set()

    trainer = Trainer(CONFIG, tiny_data, on_event)
    worker = threading.Thread(target=trainer.run, kwargs={"paused": True})
    worker.start()
    try:
        trainer.step(3)
        assert paused.wait(30)
        app = InspectApp(trainer)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert "Paused after epoch 0 + 3/10 batches" in shown(app)
            assert app.screen.per_class.epochs == [0]
            assert trainer.step_count == 3
    finally:
        trainer.stop()
        worker.join(30)


def test_confusion_shades_stay_apart_in_a_256_colour_terminal():
    """A mistake held by 1 image in 1,000 and one held by 199 must not look alike once the
    colours are brought down to xterm's 256 (tmux's default): more images, a different shade."""
    from mlp_tui.tui.widgets.confusion_matrix import cell_style
    from rich.color import ColorSystem

    def number(count: int, diagonal: bool = False) -> int | None:
        colour = cell_style(count, 1000, diagonal, selected=False).bgcolor
        assert colour is not None
        return colour.downgrade(ColorSystem.EIGHT_BIT).number

    mistakes = [number(n) for n in (0, 2, 10, 30, 80, 199)]
    assert len(set(mistakes)) == len(mistakes)  # six counts, six shades
    correct = [number(n, diagonal=True) for n in (500, 700, 850, 950)]
    assert len(set(correct)) == len(correct) and not set(correct) & set(mistakes)


@sync
async def test_keys_pressed_in_quick_succession_under_load_all_land(trained):
    """Seen once: on the Weights tab, Home, End, e opened no export dialog and 1, e, Left,
    Esc did nothing for ~20 s. Typed at once, while another thread keeps a core busy, every
    key must take effect in order: the dialog opens, closes, the tab changes, it opens again."""
    from tests.tui.conftest import press_now, wait_until

    trainer, _ = trained
    app = InspectApp(trainer)
    stop = threading.Event()

    def burn() -> None:  # a training-like load holding the GIL in bursts
        x = torch.randn(256, 784)
        w = torch.randn(784, 256)
        while not stop.is_set():
            (x @ w).relu_().sum()
            sum(range(2000))

    load = threading.Thread(target=burn, daemon=True)
    load.start()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen))
            await press_now(pilot, "4", "home", "end", "e")
            await wait_until(pilot, lambda: isinstance(app.screen, ExportPrompt), timeout=5)
            await press_now(pilot, "escape", "1", "e")
            await wait_until(pilot, lambda: isinstance(app.screen, ExportPrompt), timeout=5)
            assert app.screen_stack[-2].query_one(TabbedContent).active == "explorer"
            await press_now(pilot, "left", "escape")
            await wait_until(pilot, lambda: isinstance(app.screen, InspectScreen), timeout=5)
            await press_now(pilot, "4", "end")
            view = app.screen.query_one(WeightsView)
            await wait_until(pilot, lambda: view.unit == CONFIG.hidden - 1, timeout=5)
    finally:
        stop.set()
        load.join()


@sync
async def test_the_explorer_fills_its_height_with_cards(trained):
    """At 120x40 two rows of cards left ten rows empty: cards with one label line fit three."""
    trainer, _ = trained
    app = InspectApp(trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        grid = app.screen.query_one(PredictionGrid)
        assert grid.compact and grid.rows == 3 and grid.page_size == 12
        spare = grid.size.height - grid.rows * grid.card_size[1]
        assert spare < grid.card_size[1]  # no room left for another row
        for height in range(30, 70, 3):  # one line of labels only where it wins a row
            await pilot.resize_terminal(120, height)
            await pilot.pause()
            full = grid.size.height // (grid.card_size[1] + (1 if grid.compact else 0))
            assert grid.rows >= full and grid.compact == (grid.rows > full), height


class GridApp(App):
    def __init__(self, predictions: Predictions, pixels: torch.Tensor) -> None:
        super().__init__()
        self.predictions, self.pixels = predictions, pixels

    def compose(self):
        yield PredictionGrid(self.predictions, self.pixels)

    def on_mount(self) -> None:
        self.query_one(PredictionGrid).show(list(range(len(self.predictions.labels))))


@sync
async def test_cards_keep_the_per_cent_sign_of_a_confidence_past_99():
    """Before, at 120x40 a card said ``>99.``: its 4 cells beside the bars cut ``>99.9%``."""
    labels = torch.tensor([0, 1, 2, 3])
    probs = torch.full((4, 10), 1e-5)
    for row, (predicted, p) in enumerate([(1, 0.99991), (2, 0.9971), (3, 0.993), (3, 0.91)]):
        probs[row, predicted] = p
    app = GridApp(Predictions(1, probs, labels), torch.zeros(4, 28, 28, dtype=torch.uint8))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = shown(app)
        assert text.count(">99%") == 2, text  # 99.991% and 99.71%: both true, both whole
        assert " 99%" in text and " 91%" in text
        assert ">99." not in text and "99.7" not in text
