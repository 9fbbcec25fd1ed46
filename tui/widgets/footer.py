"""The key bar: Textual's Footer, without keeping the keys it replaces."""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual 8.2.8's Footer rebuilds its keys whenever the active bindings change (every
    pause, resume, step and dialog), and its ``compact`` watchers keep every key it ever built
    (Textualize/textual#6666): 20 pause/resume cycles kept 600 dead widgets, +12-20 MiB. Running
    the watchers after each rebuild lets Textual drop the removed keys' entries."""

    async def recompose(self) -> None:
        await super().recompose()
        self.mutate_reactive(Footer.compact)
