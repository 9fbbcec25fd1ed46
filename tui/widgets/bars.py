"""Horizontal bars drawn to an eighth of a cell, for every widget that charts probabilities."""

from __future__ import annotations

from ..render import RenderMode

EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int, mode: RenderMode = "blocks") -> str:
    """``fraction`` of ``width`` cells, padded to ``width`` so that what follows lines up.

    Eighth blocks show a 1% difference on a short bar; ASCII mode has no partial cells, so it
    rounds to whole '#'s.
    """
    fraction = min(max(fraction, 0.0), 1.0)
    if mode == "ascii":
        return ("#" * round(fraction * width)).ljust(width)
    full, part = divmod(round(fraction * width * 8), 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)
