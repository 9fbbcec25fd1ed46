"""``e`` on the training screen: the inspector's export (CSV tables, PNG pictures, the curves)
for the run on screen, paused first so that the files describe one moment of it."""

from __future__ import annotations

import threading
from pathlib import Path

from mlp_tui.core import export
from textual.app import App

from .run_view import RunView
from .screens.export_prompt import ExportPrompt


def ask_to_export(app: App, run: RunView, default_dir: Path) -> None:
    """Ask for a folder, then write the files there in a thread and say how it went."""

    def chosen(directory: str | None) -> None:
        if directory:
            folder = Path(directory).expanduser()
            threading.Thread(target=write, args=(folder,), name="export", daemon=True).start()

    def write(folder: Path) -> None:
        try:
            written = export.export_trainer(run.trainer, folder, run.per_class)
        except (export.ExportError, OSError) as exc:
            app.call_from_thread(app.notify, str(exc), title="Export failed", severity="error")
            return
        text = f"{len(written)} files in {folder} (paused: space resumes)"
        app.call_from_thread(app.notify, text, title="Exported")

    app.push_screen(ExportPrompt(str(default_dir)), chosen)
