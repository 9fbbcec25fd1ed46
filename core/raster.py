"""Drawing on float image tensors (3, H, W) in [0, 1]: a tiny bitmap font, filled boxes and
lines. The pictures of an export are made with these, with no imaging library."""

from __future__ import annotations

import torch

FONT_ZOOM = 2  # 3x5 glyphs -> 6x10 px, 8 px per character
GREEN, RED, BLACK, WHITE = (0.2, 0.85, 0.3), (1.0, 0.3, 0.3), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

Image = torch.Tensor  # (3, H, W) float in [0, 1], torchvision's layout


# ---------------------------------------------------------------------------- a bitmap font
# 3x5 glyphs, rows top to bottom; enough for class names, numbers and short captions.
_FONT = {
    "A": "010101111101101", "B": "110101110101110", "C": "011100100100011",
    "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "H": "101101111101101", "I": "111010010010111",
    "J": "001001001101010", "K": "101101110101101", "L": "100100100100111",
    "M": "101111111101101", "N": "110101101101101", "O": "010101101101010",
    "P": "110101110100100", "Q": "010101101110011", "R": "110101110101101",
    "S": "011100010001110", "T": "111010010010010", "U": "101101101101111",
    "V": "101101101101010", "W": "101101111111101", "X": "101101010101101",
    "Y": "101101010010010", "Z": "111001010100111", "0": "111101101101111",
    "1": "010110010010111", "2": "110001010100111", "3": "110001010001110",
    "4": "101101111001001", "5": "111100110001110", "6": "011100111101111",
    "7": "111001010010010", "8": "111101111101111", "9": "111101111001110",
    "-": "000000111000000", ".": "000000000000010", ":": "000010000010000",
    "%": "101001010100101", "/": "001001010100100", ">": "100010001010100",
    "(": "010100100100010", ")": "010001001001010", ",": "000000000010100",
    "?": "110001010000010", " ": "000000000000000",
}  # fmt: skip
_GLYPHS = {
    ch: torch.tensor([bit == "1" for bit in bits]).reshape(5, 3) for ch, bits in _FONT.items()
}


def text_mask(text: str, zoom: int = FONT_ZOOM) -> torch.Tensor:
    """(5*zoom, width) bool: ``text`` in capitals, one blank column between letters."""
    columns: list[torch.Tensor] = []
    for i, ch in enumerate(text.upper()):
        if i:
            columns.append(torch.zeros(5, 1, dtype=torch.bool))
        columns.append(_GLYPHS.get(ch, _GLYPHS["?"]))
    mask = torch.cat(columns, dim=1) if columns else torch.zeros(5, 0, dtype=torch.bool)
    return mask.repeat_interleave(zoom, 0).repeat_interleave(zoom, 1)


def text_width(text: str, zoom: int = FONT_ZOOM) -> int:
    return max(len(text) * 4 - 1, 0) * zoom


def paint(canvas: Image, mask: torch.Tensor, x: int, y: int, colour: tuple) -> None:
    """Colour the true pixels of ``mask`` with their top-left corner at (x, y), clipped."""
    _, height, width = canvas.shape
    mask = mask[: max(height - y, 0), : max(width - x, 0)]
    region = canvas[:, y : y + mask.shape[0], x : x + mask.shape[1]]
    for channel, value in enumerate(colour):
        region[channel][mask] = value


def fill(canvas: Image, x: int, y: int, w: int, h: int, colour: tuple) -> None:
    for channel, value in enumerate(colour):
        canvas[channel, y : y + h, x : x + w] = value


def line(
    canvas: Image, x0: float, y0: float, x1: float, y1: float, colour: tuple, width: int = 2
) -> None:
    """A straight segment from (x0, y0) to (x1, y1), ``width`` pixels thick, clipped."""
    _, height, w = canvas.shape
    steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    t = torch.linspace(0, 1, steps)
    xs, ys = (x0 + (x1 - x0) * t).round().long(), (y0 + (y1 - y0) * t).round().long()
    for dx in range(width):
        for dy in range(width):
            x, y = xs + dx, ys + dy
            keep = (x >= 0) & (x < w) & (y >= 0) & (y < height)
            for channel, value in enumerate(colour):
                canvas[channel, y[keep], x[keep]] = value
