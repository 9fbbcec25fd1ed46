"""What a widget's last draw cost the CPU, conversion to terminal lines included."""

from __future__ import annotations

import time

from textual.geometry import Region
from textual.strip import Strip


class RenderCost:
    """Mix into a heavy widget (a plot, the gallery) before ``Widget``.

    ``render_seconds`` is the UI thread's CPU time in ``render_lines``: the widget's own
    ``render()`` and Textual's work on its result, which for a plot is as much again. The app
    spaces the redraws of heavy widgets by this cost, so that while training they take a small,
    fixed share of the CPU however slow the machine or big the terminal. CPU time, not wall
    time: waiting for the GIL the training thread holds costs training nothing, and counted in
    it stretched a plot's redraws to every 7-8 s on a busy machine.
    """

    render_seconds = 0.0
    _fresh = True  # refreshed since the last timing: the next render_lines does the real work

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose=False):
        self._fresh = True
        # A mixin before Widget (not a Widget itself: that would hide can_focus and the
        # rest of the class it is mixed into): the super() here is the widget's.
        return super().refresh(  # type: ignore[misc]
            *regions, repaint=repaint, layout=layout, recompose=recompose
        )

    def render_lines(self, crop: Region) -> list[Strip]:
        started = time.thread_time()
        lines = super().render_lines(crop)  # type: ignore[misc]
        if self._fresh:  # later calls for the same content mostly hit Textual's cache
            self.render_seconds = time.thread_time() - started
            self._fresh = False
        return lines
