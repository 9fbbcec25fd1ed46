"""The ten class probabilities of one image as bars: long and labelled, or one cell each."""

from __future__ import annotations

from collections.abc import Sequence

from mlp_tui.core.data import CLASS_NAMES
from rich.text import Text

from ..render import confidence
from .bars import bar

HEIGHTS = " ▁▂▃▄▅▆▇█"
RIGHT, WRONG, OTHER = "green", "red", "grey62"


def class_style(cls: int, true: int, predicted: int) -> str:
    if cls == true:
        return f"bold {RIGHT}"
    return f"bold {WRONG}" if cls == predicted else OTHER


def probability_bars(probs: Sequence[float], true: int, predicted: int, width: int = 20) -> Text:
    """One line per class: a mark, the name, a bar of ``width`` cells, the percentage.

    The true class is green and marked ``●``; a wrong prediction is red and marked ``✗``, so
    the two stand out without relying on colour alone.
    """
    text = Text(no_wrap=True, overflow="crop")
    for cls, p in enumerate(probs):
        mark = "●" if cls == true else ("✗" if cls == predicted else " ")
        style = class_style(cls, true, predicted)
        text.append(f"{mark} {CLASS_NAMES[cls]:<10} ", style)
        text.append(bar(p, width), style)
        text.append_text(Text(f"{confidence(p, 1):>7}", style=style))
        if cls < len(probs) - 1:
            text.append("\n")
    return text


def probability_spark(probs: Sequence[float], true: int, predicted: int) -> Text:
    """Ten one-cell bars, class 0 first, on a dark strip so an empty bar still shows."""
    text = Text(no_wrap=True, overflow="crop")
    for cls, p in enumerate(probs):
        height = round(max(0.0, min(1.0, p)) * 8)
        text.append(HEIGHTS[height], class_style(cls, true, predicted) + " on grey19")
    return text
