"""``curves.png``: d2l's ``train_ch3`` figure as a picture, beside the batch losses.

Left, the loss of every batch (min and max of each pixel column, so a spike is never averaged
away) with its mean; right, train loss, train accuracy and test accuracy by epoch, as the
notebook draws them. Drawn with ``raster``'s primitives; no plotting library.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .events import EpochReport
from .raster import BLACK, FONT_ZOOM, Image, fill, line, paint, text_mask, text_width

PANEL_W, PANEL_H, MARGIN = 420, 260, 48
GREY = (0.55, 0.55, 0.55)
BATCH, MEAN = (0.7, 0.7, 0.75), (0.1, 0.35, 0.8)
TRAIN_LOSS, TRAIN_ACC, TEST_ACC = (0.1, 0.35, 0.8), (0.6, 0.2, 0.6), (0.2, 0.6, 0.2)


def label(canvas: Image, text: str, x: int, y: int, colour: tuple = BLACK) -> None:
    paint(canvas, text_mask(text), x, y, colour)


def frame(canvas: Image, x: int, y: int, top: float, bottom: float, title: str) -> None:
    """An axes box at (x, y) with ``title`` above it and its y range at the left."""
    for a, b, c, d in ((0, 0, PANEL_W, 0), (0, PANEL_H, PANEL_W, PANEL_H), (0, 0, 0, PANEL_H),
                       (PANEL_W, 0, PANEL_W, PANEL_H)):  # fmt: skip
        line(canvas, x + a, y + b, x + c, y + d, GREY, width=1)
    label(canvas, title, x, y - 5 * FONT_ZOOM - 6)
    for value, at in ((top, y), (bottom, y + PANEL_H - 5 * FONT_ZOOM)):
        text = f"{value:.2f}"
        label(canvas, text, x - text_width(text) - 4, at, GREY)


def polyline(canvas: Image, points: Sequence[tuple[float, float]], colour: tuple) -> None:
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        line(canvas, x0, y0, x1, y1, colour)
    if len(points) == 1:
        fill(canvas, int(points[0][0]) - 2, int(points[0][1]) - 2, 5, 5, colour)


def batch_panel(canvas: Image, losses: Sequence[float], x: int, y: int) -> None:
    values = torch.tensor([v for v in losses if v == v and abs(v) != float("inf")])
    if not len(values):
        frame(canvas, x, y, 1.0, 0.0, "training loss per batch: none yet")
        return
    top, bottom = float(values.max()), min(float(values.min()), 0.0)
    span = top - bottom or 1.0
    frame(canvas, x, y, top, bottom, f"training loss per batch ({len(values):,})")

    def to_y(v: float) -> float:
        return y + PANEL_H - (v - bottom) / span * PANEL_H

    columns = min(len(values), PANEL_W)
    edges = torch.linspace(0, len(values), columns + 1).long()
    means = []
    for c in range(columns):
        chunk = values[edges[c] : max(edges[c + 1], edges[c] + 1)]
        px = x + (c + 0.5) * PANEL_W / columns
        line(canvas, px, to_y(float(chunk.max())), px, to_y(float(chunk.min())), BATCH, width=1)
        means.append((px, to_y(float(chunk.mean()))))
    polyline(canvas, means, MEAN)


def epoch_panel(canvas: Image, history: Sequence[EpochReport], x: int, y: int) -> None:
    top = max([1.0, *(e.train_loss for e in history if e.train_loss == e.train_loss)])
    frame(canvas, x, y, top, 0.0, "per epoch")
    last = max(len(history), 1)

    def at(epoch: int, value: float) -> tuple[float, float]:
        px = x + (epoch - 1) / max(last - 1, 1) * PANEL_W if last > 1 else x + PANEL_W / 2
        return px, y + PANEL_H - min(max(value / top, 0.0), 1.0) * PANEL_H

    for field, colour in (("train_loss", TRAIN_LOSS), ("train_acc", TRAIN_ACC),
                          ("test_acc", TEST_ACC)):  # fmt: skip
        points = [at(e.epoch, getattr(e, field)) for e in history if getattr(e, field) is not None]
        polyline(canvas, points, colour)
    key_x = x
    for name, colour in (("train loss", TRAIN_LOSS), ("train acc", TRAIN_ACC),
                         ("test acc", TEST_ACC)):  # fmt: skip
        fill(canvas, key_x, y + PANEL_H + 12, 12, 4, colour)
        label(canvas, name, key_x + 16, y + PANEL_H + 9, colour)
        key_x += text_width(name) + 40
    label(canvas, f"epochs 1-{last}", x + PANEL_W - text_width(f"epochs 1-{last}"),
          y + PANEL_H + 9, GREY)  # fmt: skip


def curves_image(history: Sequence[EpochReport], batch_losses: Sequence[float]) -> Image:
    """The two panels side by side on white."""
    width, height = 2 * (PANEL_W + 2 * MARGIN), PANEL_H + 2 * MARGIN + 10 * FONT_ZOOM
    canvas = torch.ones(3, height, width)
    batch_panel(canvas, batch_losses, MARGIN, MARGIN)
    epoch_panel(canvas, history, PANEL_W + 3 * MARGIN, MARGIN)
    return canvas
