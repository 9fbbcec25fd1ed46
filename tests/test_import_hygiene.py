"""The wall between the engine and the app: core and headless runs never load the UI stack.

Checked in a fresh interpreter, because this test process has Textual loaded by the app's tests.
One interpreter (the session fixture ``fresh_interpreter``) takes every step in turn and reports
what was loaded after each. A loaded module stays loaded, so the first step whose report names
a UI package is the one that pulled it in, and every step before it loaded none.
"""

from __future__ import annotations

from tests.fresh_interpreter import HEADLESS_HELP, entry_point_report


def test_every_core_module_imports_without_the_ui_stack(fresh_interpreter):
    report = fresh_interpreter["core"]
    assert {"mlp_tui.core.trainer", "mlp_tui.core.cli", "mlp_tui.core.data"} <= set(
        report["modules"]
    )
    assert report["culprit"] is None, f"{report['culprit']} imported {report['leaked']}"


def test_headless_help_does_not_load_the_ui(fresh_interpreter):
    report, stdout = entry_point_report(fresh_interpreter, HEADLESS_HELP)
    assert report["code"] == 0 and "--headless" in stdout
    assert report["leaked"] == []


def test_a_headless_run_never_loads_the_ui(fresh_interpreter):
    report, stdout = entry_point_report(fresh_interpreter, ["--headless", "--data-dir"])
    assert report["code"] == 0 and "epoch   1/1" in stdout
    assert report["leaked"] == []
