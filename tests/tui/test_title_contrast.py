"""Words drawn in a panel's border (the gallery's header at 80x24, the panel's title) read in
the colours a terminal really shows: truecolor and 256 colours, the audit's two."""

from __future__ import annotations

import pytest
from rich.color import ColorSystem
from rich.segment import Segment

from .conftest import script

MIN_CONTRAST = 4.5  # WCAG's for text


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(segment: Segment, system: ColorSystem) -> float:
    style = segment.style
    assert style is not None and style.color is not None and style.bgcolor is not None
    fg, bg = (c.downgrade(system).get_truecolor() for c in (style.color, style.bgcolor))
    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def word_segments(app, widget, words: str) -> list[Segment]:
    """The segments with letters in them on the first row of ``widget`` (its border
    included) that shows ``words``."""
    region = widget.region
    for row in app.screen._compositor.render_strips()[region.y : region.bottom]:
        x, segments = 0, []
        for segment in row:
            if region.x <= x < region.right and segment.text.strip("─╭╮│ "):
                segments.append(segment)
            x += segment.cell_length
        if words in "".join(s.text for s in segments):
            return segments
    raise AssertionError(f"{words!r} not in {widget}")


@pytest.mark.parametrize("system", [ColorSystem.TRUECOLOR, ColorSystem.EIGHT_BIT])
@pytest.mark.parametrize("focus", ["panel", "gallery"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_the_gallerys_header_reads_whichever_pane_has_focus(
    make_trainer, make_app, system, focus, size
):
    """Before, with the panel focused the gallery's header in its border at 80x24 (its count,
    epoch and page, shown nowhere else) was navy on near-black: about 1.5:1."""
    app = make_app(script(make_trainer(epochs=10), 3), train=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.main.redraw()
        getattr(app.main, focus).focus()
        await pilot.pause()
        assert app.main.gallery.header_in_border == (size == (80, 24))
        for segment in word_segments(app, app.main.gallery, "epoch 3 ·"):
            assert contrast(segment, system) >= MIN_CONTRAST, segment
        for segment in word_segments(app, app.main.panel, "hyperparameters"):
            assert contrast(segment, system) >= MIN_CONTRAST, segment
