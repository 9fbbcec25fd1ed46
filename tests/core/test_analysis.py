"""The inspector's numbers against independent computations, down to a model read from disk."""

from __future__ import annotations

import math

import pytest
import torch
from mlp_tui.core import analysis
from mlp_tui.core.analysis import PerClassHistory, Selection, select
from mlp_tui.core.data import NUM_CLASSES, to_unit
from mlp_tui.core.events import Predictions
from safetensors.torch import load_file


def test_confusion_matrix_and_per_class_agree_with_a_model_read_from_the_checkpoint(
    trained, tmp_path
):
    trainer, _ = trained
    path = tmp_path / "run.safetensors"
    trainer.save(path).result()
    weights = load_file(str(path))
    W1, b1, W2, b2 = (weights[name] for name in ("W1", "b1", "W2", "b2"))
    data = trainer.data
    X = data.test_pixels.reshape(-1, 784).float() / 255
    predicted = (torch.clamp(X @ W1 + b1, min=0) @ W2 + b2).argmax(dim=1).tolist()
    labels = data.test_y.tolist()

    counts = [[0] * NUM_CLASSES for _ in range(NUM_CLASSES)]
    for t, p in zip(labels, predicted):
        counts[t][p] += 1
    matrix = analysis.confusion_matrix(trainer.predict())
    assert matrix.tolist() == counts

    per_class = analysis.per_class_accuracy(matrix).tolist()
    for c in range(NUM_CLASSES):
        mine = [p for t, p in zip(labels, predicted) if t == c]
        assert per_class[c] == pytest.approx(sum(p == c for p in mine) / len(mine))

    diagonal = sum(counts[c][c] for c in range(NUM_CLASSES))
    assert diagonal / len(labels) == trainer.history[-1].test_acc == analysis.accuracy(matrix)
    assert 0 < trainer.history[-1].test_acc < 1  # the fixture run has mistakes to inspect


def test_per_class_history_fed_from_events_keeps_every_epoch(trained):
    trainer, history = trained
    assert history.epochs == [1, 2]
    latest = analysis.per_class_accuracy(analysis.confusion_matrix(trainer.predictions))
    assert history.accuracies[-1] == latest.tolist()
    assert history.series(3) == [row[3] for row in history.accuracies]
    # Weighted by class sizes, each epoch's per-class accuracies give that epoch's test accuracy.
    sizes = torch.bincount(trainer.data.test_y, minlength=NUM_CLASSES).double()
    for row, report in zip(history.accuracies, trainer.history):
        assert float((torch.tensor(row) * sizes).sum() / sizes.sum()) == pytest.approx(
            report.test_acc
        )


def test_per_class_history_replaces_a_repeated_epoch_and_keeps_order():
    history = PerClassHistory.from_rows([[0.1] * 10, [0.2] * 10])
    history.add_row(2, [0.3] * 10)
    history.add_row(0, [0.0] * 10)
    assert history.epochs == [0, 1, 2]
    assert history.series(0) == [0.0, 0.1, 0.3]
    copy = history.copy()
    copy.add_row(3, [1.0] * 10)
    assert len(history) == 3 and len(copy) == 4
    with pytest.raises(ValueError):
        history.add_row(4, [0.5])


def test_a_class_without_images_has_no_accuracy_rather_than_zero():
    matrix = torch.zeros(10, 10, dtype=torch.long)
    matrix[0, 0] = 3
    acc = analysis.per_class_accuracy(matrix)
    assert acc[0] == 1.0 and math.isnan(float(acc[1]))


def fake_predictions() -> Predictions:
    probs = torch.tensor(
        [
            [0.7, 0.2, 0.1] + [0.0] * 7,  # 0: true 0, right, confident
            [0.4, 0.6, 0.0] + [0.0] * 7,  # 1: true 0, predicted 1
            [0.1, 0.8, 0.1] + [0.0] * 7,  # 2: true 1, right
            [0.05, 0.9, 0.05] + [0.0] * 7,  # 3: true 2, predicted 1, very confident
            [0.3, 0.3, 0.4] + [0.0] * 7,  # 4: true 2, right, unsure
        ]
    )
    return Predictions(epoch=1, probs=probs, labels=torch.tensor([0, 0, 1, 2, 2]))


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (Selection(), [0, 1, 2, 3, 4]),
        (Selection(reverse=True), [4, 3, 2, 1, 0]),
        (Selection(filter="misclassified"), [1, 3]),
        (Selection(filter="true", true=2), [3, 4]),
        (Selection(filter="predicted", predicted=1), [1, 2, 3]),
        (Selection(filter="pair", true=2, predicted=1), [3]),
        (Selection(filter="pair", true=0, predicted=0), [0]),
        (Selection(filter="first", count=2), [0, 1]),
        (Selection(sort="confidence"), [3, 2, 0, 1, 4]),
        (Selection(sort="confidence", reverse=True), [4, 1, 0, 2, 3]),
        (Selection(sort="loss"), [3, 1, 4, 0, 2]),
        (Selection(filter="misclassified", sort="loss"), [3, 1]),
    ],
)
def test_select_filters_and_orders_predictions(selection, expected):
    assert select(fake_predictions(), selection).tolist() == expected


def test_predict_ch3_preset_is_the_first_six_in_order(trained):
    trainer, _ = trained
    assert select(trainer.predict(), analysis.PREDICT_CH3).tolist() == list(range(6))
    assert "predict_ch3" in analysis.PREDICT_CH3.describe()


def test_example_losses_are_the_seeds_cross_entropy(trained):
    trainer, _ = trained
    logits = trainer.net(to_unit(trainer.data.test_flat)).detach()
    expected = torch.nn.CrossEntropyLoss(reduction="none")(logits, trainer.data.test_y)
    losses = analysis.example_losses(trainer.predict())
    assert torch.allclose(losses.float(), expected, atol=1e-4)


def test_weight_image_keeps_the_sign_and_the_pixel_layout():
    W1 = torch.zeros(784, 3)
    W1[0, 1] = 0.5  # row 0, column 0
    W1[28 * 3 + 5, 1] = -0.25  # row 3, column 5
    image = analysis.weight_image(W1, 1)
    assert image.shape == (28, 28) and image.dtype == torch.uint8
    assert image[0, 0] == 255 and image[3, 5] == 64 and image[10, 10] == 128
    assert (analysis.weight_image(W1, 0) == 128).all()  # all-zero weights: flat grey


def test_strongest_classes_follow_w2():
    W2 = torch.zeros(4, 10)
    W2[2] = torch.tensor([0.1, -0.5, 0.9, 0.0, 0.3, -0.1, 0.2, 0.0, 0.0, 0.05])
    ranked = analysis.strongest_classes(W2, 2)
    assert [c for c, _ in ranked[:3]] == [2, 4, 6]
    assert ranked[-1] == (1, pytest.approx(-0.5))
