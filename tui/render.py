"""Draw a grayscale image in the terminal as Rich text: block characters or a pure ASCII ramp.

Block mode puts two pixel rows in one cell: ``▀`` with the upper pixel as foreground colour and
the lower as background (as rich-pixels does). ASCII mode maps each pixel to a character of a
density ramp, one cell per pixel column and one line per two rows, so it keeps the aspect ratio
and can be copied anywhere.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import torch
from rich.color import Color
from rich.style import Style
from rich.text import Text

RenderMode = Literal["blocks", "ascii"]
RAMP = " .:-=+*#%@"
_GRAYS = [Style(color=Color.from_rgb(v, v, v)) for v in range(256)]
_BACKGROUNDS = [Style(bgcolor=Color.from_rgb(v, v, v)) for v in range(256)]


@lru_cache(maxsize=65536)
def _cell(top: int, bottom: int) -> Style:
    """The style of one ``▀`` cell; cached, as thumbnails repeat the same pairs of grays."""
    return _GRAYS[top] + _BACKGROUNDS[bottom]


def _downsample(pixels: torch.Tensor, scale: int) -> torch.Tensor:
    if scale <= 1:
        return pixels
    h, w = pixels.shape
    p = pixels[: h - h % scale, : w - w % scale].float()
    return p.reshape(h // scale, scale, w // scale, scale).mean(dim=(1, 3)).round().to(torch.uint8)


def image_rows(
    pixels: torch.Tensor, mode: RenderMode = "blocks", scale: int = 1, zoom: int = 1
) -> list[list[tuple[str, Style | None]]]:
    """The image as lines of (characters, style) runs: what ``render_image`` shows, for
    widgets that draw lines of segments themselves."""
    img = _downsample(pixels.to(torch.uint8).cpu(), scale)
    if zoom > 1:
        img = img.repeat_interleave(zoom, dim=0).repeat_interleave(zoom, dim=1)
    grid: list[list[int]] = img.tolist()
    if len(grid) % 2:
        grid.append([0] * len(grid[0]))
    last = len(RAMP) - 1
    rows: list[list[tuple[str, Style | None]]] = []
    for top, bottom in zip(grid[0::2], grid[1::2]):
        if mode == "ascii":
            rows.append([("".join(RAMP[(a + b) * last // 510] for a, b in zip(top, bottom)), None)])
        else:
            rows.append([("▀", _cell(a, b)) for a, b in zip(top, bottom)])
    return rows


def render_image(
    pixels: torch.Tensor, mode: RenderMode = "blocks", scale: int = 1, zoom: int = 1
) -> Text:
    """``pixels``: (H, W) uint8, 0 = black. ``scale`` > 1 shrinks by averaging scale x scale;
    ``zoom`` > 1 enlarges, each pixel becoming zoom x zoom."""
    text = Text(no_wrap=True, overflow="crop")
    for number, row in enumerate(image_rows(pixels, mode, scale, zoom)):
        if number:
            text.append("\n")
        for characters, style in row:
            text.append(characters, style)
    return text


def image_size(
    mode: RenderMode = "blocks", scale: int = 1, side: int = 28, zoom: int = 1
) -> tuple[int, int]:
    """Cells (width, height) that ``render_image`` produces for a side x side image."""
    px = side // scale * zoom
    return px, (px + 1) // 2


def confidence(p: float, decimals: int = 0) -> str:
    """A probability as a caption says it: never a 100% that is not true. ``91%``; near 1 with
    the decimal that tells them apart (``99.8%``); ``>99.9%`` past that."""
    if p >= 0.9995:
        return ">99.9%"
    if p >= 0.995:
        return f"{p:.1%}"
    return f"{p:.{decimals}%}"


def confidence_in(p: float, width: int) -> str:
    """``confidence`` in at most ``width`` cells: past 99% where the decimal does not fit,
    ``>99%`` (still true), not a cut ``>99.`` that lost its per cent sign."""
    text = confidence(p)
    if len(text) > width and p >= 0.99:
        text = ">99%"
    return text
