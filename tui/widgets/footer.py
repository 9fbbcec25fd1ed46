"""The key bar: Textual's Footer, fitted to the terminal's width, without keeping the keys it
replaces."""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby

from textual import events
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

# Kept when keys must be left out: a way out and a way to every other key.
ESSENTIAL = frozenset(
    {"help", "quit", "pause", "resume", "step", "inspector", "close", "dismiss", "app.pop_screen"}
)
Entry = list[list[tuple[Binding, bool, str]]]  # one key, or a group of keys, with its bindings


class KeyFooter(Footer):
    """Textual's Footer cuts off the keys that do not fit (at 80 columns the main screen lost
    ``i``, ``?`` and ``q``); this one leaves out the least needed keys instead, from the right,
    keeping ``ESSENTIAL`` ones (``?`` lists the rest). It also works around Textual 8.2.8's
    Footer keeping every key it ever built: its ``compact`` watchers hold them
    (Textualize/textual#6666; 20 pause/resume cycles kept 600 dead widgets, +12-20 MiB), so
    the watchers run after each rebuild to let Textual drop the removed keys' entries."""

    _fitted_width = -1
    _composed: tuple[object, ...] | None = None  # the plan the keys on screen were built from

    async def recompose(self) -> None:
        """Rebuild the keys only when what they show changed. The screen signals a change of
        its bindings after every refresh of them (each pause, resume and epoch), and a rebuild
        mounts and styles some twenty widgets: redone for nothing, it was a fifth of the UI
        thread's work in the pilot tests."""
        if self._bindings_ready and self.is_attached and self._plan() == self._composed:
            self._fitted_width = self.size.width
            return
        await super().recompose()
        self.mutate_reactive(Footer.compact)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)

    def entries(self) -> list[Entry]:
        """The screen's shown keys in the footer's order, a group of keys as one entry."""
        by_action: defaultdict[str, list[tuple[Binding, bool, str]]] = defaultdict(list)
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show:
                by_action[binding.action].append((binding, enabled, tooltip))
        out: list[Entry] = []
        for group, members in groupby(by_action.values(), lambda m: m[0][0].group):
            members_ = list(members)
            if group is not None and len(members_) > 1:
                out.append(members_)
            else:
                out.extend([m] for m in members_)
        return out

    def width_of(self, entry: Entry) -> int:
        keys = [self.app.get_key_display(bindings[0][0]) for bindings in entry]
        if len(entry) > 1:  # a group: its keys, then its label
            group = entry[0][0][0].group
            return sum(len(k) + 1 for k in keys) + len(group.description if group else "") + 2
        description = entry[0][0][0].description
        return len(keys[0]) + len(description) + (2 if self.compact else 3)

    def fitted(self, entries: list[Entry], width: int) -> list[Entry]:
        """``entries`` less the non-essential ones, from the right, until they fit ``width``."""
        kept = list(entries)
        for entry in reversed(entries):
            if sum(map(self.width_of, kept)) <= width:
                break
            if not any(b.action.rpartition(".")[2] in ESSENTIAL or b.action in ESSENTIAL
                       for b, _, _ in entry[0]):  # fmt: skip
                kept.remove(entry)
        return kept

    def _fit(self) -> tuple[list[Entry], ActiveBinding | None]:
        """The entries that fit the footer's width, and the command palette's key if shown."""
        width = self.size.width
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        room = width - (len(self.app.get_key_display(palette[1])) + 12 if palette else 0)
        entries = self.entries()
        return (self.fitted(entries, room) if width > 0 else entries), palette

    def _plan(self, fit: tuple[list[Entry], ActiveBinding | None] | None = None) -> tuple:
        """What ``compose`` shows for ``fit`` (by default, the keys that fit now): each key's
        display, description, action, enabled and tooltip, the palette key, and the style."""
        entries, palette = self._fit() if fit is None else fit
        shown = tuple(
            tuple((b.key, self.app.get_key_display(b), b.description, b.action, b.group, enabled,
                   tooltip) for b, enabled, tooltip in (bindings[0] for bindings in entry))
            for entry in entries
        )  # fmt: skip
        return self.compact, shown, palette and (palette[1], palette[2])

    def _key(
        self,
        binding: Binding,
        description: str,
        enabled: bool,
        tooltip: str,
        classes: str = "",
    ) -> FooterKey:
        """A ``FooterKey`` born in the footer's style: Textual's starts compact and is restyled
        twice when it mounts (compact, then the footer's style), each a stylesheet pass."""
        key = FooterKey(
            binding.key,
            self.app.get_key_display(binding),
            description,
            binding.action,
            disabled=not enabled,
            tooltip=tooltip,
            classes=f"{classes} -compact".strip() if self.compact else classes,
        )
        key.set_reactive(FooterKey.compact, self.compact)
        return key.data_bind(compact=Footer.compact)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        entries, palette = fit = self._fit()
        self._composed, self._fitted_width = self._plan(fit), self.size.width
        self.styles.grid_size_columns = sum(len(entry) for entry in entries)
        for entry in entries:
            if len(entry) > 1:
                group = entry[0][0][0].group
                with KeyGroup(classes="-compact" if group and group.compact else ""):
                    for binding, enabled, tooltip in (bindings[0] for bindings in entry):
                        yield self._key(
                            binding, "", enabled, tooltip or binding.description, "-grouped"
                        )
                yield FooterLabel(group.description if group else "")
                continue
            binding, enabled, tooltip = entry[0][0]
            yield self._key(binding, binding.description, enabled, tooltip)
        if palette is not None:
            _, binding, enabled, _ = palette
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )
