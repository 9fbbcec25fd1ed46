"""Shown instead of the app while the terminal is smaller than the layout needs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

MIN_SIZE = (80, 24)  # the smallest terminal the screens are laid out for


def too_small(width: int, height: int) -> bool:
    return width < MIN_SIZE[0] or height < MIN_SIZE[1]


class TooSmallScreen(Screen[None]):
    """A word instead of a layout that has fallen apart; training goes on behind it, and the
    screen goes by itself once the terminal is large enough."""

    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; background: $background; }
    TooSmallScreen Static { width: 100%; color: $warning; text-align: center; text-style: bold; }
    """
    APP_ACTIONS: frozenset[str] = frozenset()  # no dialog can be read at this size

    def compose(self) -> ComposeResult:
        yield Static(self.text(*self.app.size), id="too-small")

    def on_resize(self) -> None:
        self.query_one(Static).update(self.text(*self.app.size))

    @staticmethod
    def text(width: int, height: int) -> str:
        need = f"{MIN_SIZE[0]}x{MIN_SIZE[1]}"
        return (
            f"terminal too small ({width}x{height}, need {need})\n"
            "training goes on · ctrl+c saves and quits"
        )
