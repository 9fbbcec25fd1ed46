"""Write a run's results as files other tools open: CSV tables and PNG pictures.

``metrics.csv`` (one row per epoch), ``confusion.csv``, ``per_class.csv``, ``misclassified.png``
(a captioned grid, most confident mistakes first), ``confusion.png`` and ``curves.png`` (the
batch losses and d2l's per-epoch curves). Pictures are laid out
here as float tensors; torchvision's ``make_grid``/``save_image`` tile and encode them where
torchvision imports, and a small zlib+struct PNG writer does it where it does not, so exports
never depend on a working torchvision. Every file is written atomically: a failed export leaves
earlier files as they were.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .analysis import PerClassHistory, accuracy, confusion_matrix, per_class_accuracy
from .checkpoint import CheckpointError, write_atomic
from .curve_image import curves_image
from .data import CLASS_NAMES, NUM_CLASSES
from .events import EpochReport, Event, Predictions
from .raster import BLACK, FONT_ZOOM, GREEN, RED, WHITE, Image, fill, paint, text_mask, text_width

if TYPE_CHECKING:
    from .trainer import Trainer

FILES = (
    "metrics.csv", "confusion.csv", "per_class.csv", "misclassified.png", "confusion.png",
    "curves.png",
)  # fmt: skip
MISCLASSIFIED_LIMIT = 64
GRID_COLUMNS = 8
PADDING = 2
IMAGE_ZOOM = 3  # 28 px -> 84 px per tile


class ExportError(RuntimeError):
    """The export could not be written; the message names the file and the reason."""


# ------------------------------------------------------------------------------------- tables
def _csv(rows: Sequence[Sequence[object]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def metrics_csv(history: Sequence[EpochReport]) -> bytes:
    """One row per epoch; the validation columns only where the run had a validation set."""
    has_val = any(report.val_acc is not None for report in history)
    names = [f.name for f in dataclasses.fields(EpochReport)]
    names = [n for n in names if has_val or not n.startswith("val_")]
    return _csv([names] + [[getattr(report, n) for n in names] for report in history])


def confusion_csv(matrix: torch.Tensor) -> bytes:
    rows = [["true\\predicted", *CLASS_NAMES]]
    rows += [[CLASS_NAMES[t], *matrix[t].tolist()] for t in range(NUM_CLASSES)]
    return _csv(rows)


def per_class_csv(matrix: torch.Tensor, history: PerClassHistory | None = None) -> bytes:
    """One row per class: images, correct, accuracy now, then its accuracy after each epoch."""
    history = history or PerClassHistory()
    acc = per_class_accuracy(matrix).tolist()
    rows: list[list[object]] = [
        ["class", "images", "correct", "accuracy", *(f"epoch_{e}" for e in history.epochs)]
    ]
    for c in range(NUM_CLASSES):
        rows.append(
            [CLASS_NAMES[c], int(matrix[c].sum()), int(matrix[c, c]), acc[c], *history.series(c)]
        )
    return _csv(rows)


# --------------------------------------------------------------------------------- pictures
def misclassified_tiles(
    pixels: torch.Tensor, predictions: Predictions, limit: int = MISCLASSIFIED_LIMIT
) -> list[Image]:
    """One tile per mistake, most confident first: the image, the true label in green, the
    predicted label and its probability in red, a line each (a long name leaves no room for the
    probability beside it)."""
    side = pixels.shape[-1] * IMAGE_ZOOM
    line = 5 * FONT_ZOOM
    tiles = []
    for i in predictions.misclassified()[:limit].tolist():
        image = pixels[i].float().div(255).repeat_interleave(IMAGE_ZOOM, 0)
        image = image.repeat_interleave(IMAGE_ZOOM, 1).expand(3, side, side)
        caption = torch.zeros(3, 3 * line + 16, side)
        predicted = int(predictions.predicted[i])
        probability = float(predictions.probs[i, predicted])
        paint(caption, text_mask(CLASS_NAMES[int(predictions.labels[i])]), 1, 4, GREEN)
        paint(caption, text_mask(CLASS_NAMES[predicted]), 1, 8 + line, RED)
        paint(caption, text_mask(percent(probability)), 1, 12 + 2 * line, RED)
        tiles.append(torch.cat([image, caption], dim=1))
    return tiles


def percent(p: float) -> str:
    """A whole percentage that is never an untrue 100% (99.6% is '>99%')."""
    return f"{p:.0%}" if p < 0.995 else ">99%"


def plain_make_grid(tiles: list[Image], nrow: int, padding: int, pad_value: float) -> Image:
    """torchvision's ``make_grid`` for same-sized tiles: ``padding`` around and between (and,
    as there, none around a single tile)."""
    if len(tiles) == 1:
        return tiles[0]
    _, h, w = tiles[0].shape
    rows = -(-len(tiles) // nrow)
    columns = min(nrow, len(tiles))
    grid = torch.full(
        (3, rows * (h + padding) + padding, columns * (w + padding) + padding), pad_value
    )
    for k, tile in enumerate(tiles):
        y, x = (k // nrow) * (h + padding) + padding, (k % nrow) * (w + padding) + padding
        grid[:, y : y + h, x : x + w] = tile
    return grid


def with_header(body: Image, lines: Sequence[Sequence[tuple[str, tuple]]]) -> Image:
    """``body`` below a white strip of text lines, each a sequence of (text, colour) runs."""
    line = 5 * FONT_ZOOM
    width = max([body.shape[2]] + [sum(text_width(t) for t, _ in runs) + 8 for runs in lines])
    header = torch.ones(3, len(lines) * (line + 4) + 8, width)
    for row, runs in enumerate(lines):
        x = 4
        for text, colour in runs:
            paint(header, text_mask(text), x, 6 + row * (line + 4), colour)
            x += text_width(text) + FONT_ZOOM * 4
    canvas = torch.ones(3, body.shape[1], width)
    canvas[:, :, : body.shape[2]] = body
    return torch.cat([header, canvas], dim=1)


def misclassified_image(
    pixels: torch.Tensor,
    predictions: Predictions,
    make_grid: Callable[..., Image] = plain_make_grid,
    limit: int = MISCLASSIFIED_LIMIT,
) -> Image:
    wrong = len(predictions.misclassified())
    tiles = misclassified_tiles(pixels, predictions, limit)
    if not tiles:
        return with_header(torch.ones(3, 0, 1), [[("no misclassified test images", BLACK)]])
    body = make_grid(tiles, nrow=GRID_COLUMNS, padding=PADDING, pad_value=1.0)
    title = f"misclassified: {len(tiles)} of {wrong:,}, most confident first"
    legend = [("green: true label", (0.0, 0.5, 0.1)), ("red: predicted", (0.8, 0.0, 0.0))]
    return with_header(body, [[(title, BLACK)], legend])


def confusion_image(matrix: torch.Tensor, cell: int = 44) -> Image:
    """The matrix as a heat map: green diagonal, red mistakes, shaded by share of the row."""
    line, label = 5 * FONT_ZOOM, max(text_width(n) for n in CLASS_NAMES)
    x0, y0 = 8 + label + 6, 8 + line + 8 + label + 6
    size = NUM_CLASSES * cell
    canvas = torch.ones(3, y0 + size + 8 + line + 8, x0 + size + 8)
    paint(canvas, text_mask("confusion matrix: rows true, columns predicted"), 8, 8, BLACK)
    fill(canvas, x0, y0, size + 1, size + 1, (0.75, 0.75, 0.75))
    totals = matrix.sum(dim=1).clamp_min(1).tolist()
    for t in range(NUM_CLASSES):
        name = text_mask(CLASS_NAMES[t])
        paint(canvas, name, x0 - 6 - name.shape[1], y0 + t * cell + (cell - line) // 2, BLACK)
        column = torch.rot90(name, 1, dims=(0, 1))  # reads bottom to top
        paint(canvas, column, x0 + t * cell + (cell - line) // 2, y0 - 6 - column.shape[0], BLACK)
        for p in range(NUM_CLASSES):
            count = int(matrix[t, p])
            share = count / totals[t]
            target, strength = (
                ((0.1, 0.55, 0.2), share) if t == p else ((0.8, 0.1, 0.1), share**0.5)
            )
            colour = tuple(1 - strength * (1 - c) for c in target)
            fill(canvas, x0 + p * cell + 1, y0 + t * cell + 1, cell - 1, cell - 1, colour)
            luminance = 0.3 * colour[0] + 0.6 * colour[1] + 0.1 * colour[2]
            digits = text_mask(str(count))
            x = x0 + p * cell + (cell - digits.shape[1]) // 2
            y = y0 + t * cell + (cell - line) // 2
            paint(canvas, digits, x, y, BLACK if luminance > 0.55 else WHITE)
    total = int(matrix.sum())
    summary = f"accuracy {accuracy(matrix):.2%} ({int(matrix.diagonal().sum()):,} of {total:,})"
    paint(canvas, text_mask(summary), x0, y0 + size + 8, BLACK)
    return canvas


def to_uint8(image: Image) -> torch.Tensor:
    """(H, W, 3) uint8, rounded as torchvision's ``save_image`` rounds."""
    return image.mul(255).add(0.5).clamp(0, 255).permute(1, 2, 0).to(torch.uint8)


def encode_png(pixels: torch.Tensor) -> bytes:
    """A PNG of (H, W) gray or (H, W, 3) RGB uint8 pixels: no filter, one zlib stream."""
    height, width = pixels.shape[:2]
    channels = 1 if pixels.dim() == 2 else pixels.shape[2]
    rows = pixels.reshape(height, width * channels).to(torch.uint8)
    raw = torch.cat([torch.zeros(height, 1, dtype=torch.uint8), rows], dim=1).contiguous()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, {1: 0, 3: 2}[channels], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.numpy().tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def plain_png(image: Image) -> bytes:
    return encode_png(to_uint8(image))


def image_tools() -> tuple[Callable[..., Image], Callable[[Image], bytes]]:
    """(make_grid, to_png): torchvision's where it imports, the plain ones where it does not."""
    try:
        from torchvision.utils import make_grid, save_image
    except Exception:  # not installed, or built for another torch: it raises RuntimeError then
        return plain_make_grid, plain_png

    def to_png(image: Image) -> bytes:
        buffer = io.BytesIO()
        save_image(image, buffer, format="png")
        return buffer.getvalue()

    return make_grid, to_png


# ----------------------------------------------------------------------------------- export
def render(
    history: Sequence[EpochReport],
    predictions: Predictions,
    pixels: torch.Tensor,
    per_class: PerClassHistory | None = None,
    batch_losses: Sequence[float] = (),
) -> dict[str, bytes]:
    """Every export file's bytes, in memory: nothing touches the disk until all are ready."""
    make_grid, to_png = image_tools()
    matrix = confusion_matrix(predictions)
    return {
        "metrics.csv": metrics_csv(history),
        "confusion.csv": confusion_csv(matrix),
        "per_class.csv": per_class_csv(matrix, per_class),
        "misclassified.png": to_png(misclassified_image(pixels, predictions, make_grid)),
        "confusion.png": to_png(confusion_image(matrix)),
        "curves.png": to_png(curves_image(history, batch_losses)),
    }


def export(
    directory: str | Path,
    history: Sequence[EpochReport],
    predictions: Predictions,
    pixels: torch.Tensor,
    per_class: PerClassHistory | None = None,
    batch_losses: Sequence[float] = (),
) -> list[Path]:
    """Write the FILES into ``directory`` (created if needed); raises ExportError."""
    directory = Path(directory).expanduser()
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"cannot export to {directory}: it is a file, not a folder")
    files = render(history, predictions, pixels, per_class, batch_losses)
    written: list[Path] = []
    for name, payload in files.items():
        try:
            written.append(write_atomic(directory / name, payload))
        except CheckpointError as exc:
            done = f"{len(written)} of {len(files)} files written" if written else "nothing written"
            raise ExportError(f"{exc} ({done})") from None
    return written


def export_trainer(
    trainer: Trainer, directory: str | Path, per_class: PerClassHistory | None = None
) -> list[Path]:
    """Export the trainer's current model; ``per_class`` adds the per-epoch accuracy columns."""
    predictions = trainer.predict()
    per_class = per_class.copy() if per_class else PerClassHistory()
    if predictions.epoch not in per_class.epochs:
        per_class.add(predictions)
    pixels, losses = trainer.data.test_pixels, trainer.batch_losses
    return export(directory, trainer.history, predictions, pixels, per_class, losses)


class HeadlessExport:
    """``--export DIR`` of a headless run: listens for each epoch's predictions (for the
    per-class curve) and writes the files when the run is over."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser()
        self.per_class = PerClassHistory()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Predictions):
            self.per_class.add(event)

    def write(self, trainer: Trainer) -> bool:
        """Export, report on stdout (or stderr on failure); False when nothing could be saved."""
        try:
            written = export_trainer(trainer, self.directory, self.per_class)
        except ExportError as exc:
            print(f"mlp-tui: export failed: {exc}", file=sys.stderr)
            return False
        print(f"exported {', '.join(p.name for p in written)} to {self.directory}")
        return True
