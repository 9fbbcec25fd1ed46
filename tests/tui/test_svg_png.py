"""Screenshots to PNG without losing spaces: ``assets/svg_png.py``.

What the PNGs of the numbers line ("acc –test acc") and the confusion matrix's description
("759of 1,000") showed was librsvg dropping a space that opens a ``<text>`` element, not the
app: its text, the terminal and the SVG in a browser have the space. The tests below pin both.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import pytest
import torch
from mlp_tui.tui.widgets.confusion_matrix import ConfusionMatrix
from mlp_tui.tui.widgets.run_numbers import Numbers, numbers_line

from assets.svg_png import preserve_spaces

from .test_inspect import InspectApp, sync
from .test_small_terminal import trained  # noqa: F401  (a fixture)

CELL = 12.2  # Rich's cell width in its SVGs, at its default font size


def test_the_text_has_its_spaces_around_a_missing_value_and_after_a_bold_count():
    waiting = Numbers(math.nan, math.nan, 0.822, 0.822, 2, (470, 0.4365, math.nan))
    assert "loss 0.4365 acc – │ test acc 82.2% best 82.2% @2" in numbers_line(waiting, True).plain
    assert "acc –   train (smoothed)" in numbers_line(waiting).plain
    matrix = torch.zeros(10, 10, dtype=torch.long)
    matrix[0, 0], matrix[0, 6] = 759, 241
    assert ConfusionMatrix(matrix).describe().plain.startswith("759 of 1,000 t-shirt images")


@sync
async def test_a_screenshots_spaces_become_ones_every_renderer_keeps(trained):  # noqa: F811
    trainer, _ = trained
    app = InspectApp(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        svg = app.export_screenshot()
    assert re.search(r">&#160;of&#160;\d", svg), "the space after the bold count opens a <text>"
    fixed = preserve_spaces(svg)
    assert "&#160;" not in fixed and re.search(r"<svg [^>]*xml:space=\"preserve\"", fixed)
    assert re.search(r"> of \d+ \S+ images classified", fixed)
    assert len(fixed) == len(svg) - 5 * svg.count("&#160;") + len(' xml:space="preserve"')


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="needs rsvg-convert")
def test_rsvg_draws_the_space_that_opens_a_text_element(tmp_path):
    """ " of" in three cells, as Rich writes it: the ink must start a cell in, not at 0."""
    image = pytest.importorskip("PIL.Image")
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30">'
        '<rect width="60" height="30" fill="white"/>'
        f'<text x="0" y="20" font-family="monospace" font-size="20px" textLength="{3 * CELL}">'
        "&#160;of</text></svg>"
    )
    png = tmp_path / "of.png"
    subprocess.run(
        ["rsvg-convert", "-o", str(png)], input=preserve_spaces(svg).encode(), check=True
    )
    pixels = image.open(png).convert("L")
    inked = [
        x for x in range(pixels.width) if min(pixels.getpixel((x, y)) for y in range(30)) < 128
    ]
    assert inked and inked[0] >= 0.8 * CELL, inked[:3]
