"""The wall between the engine and the app: core and headless runs never load the UI stack.

Checked in fresh interpreters, because this test process has Textual loaded by the app's tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

UI_PACKAGES = ("textual", "rich", "textual_plotext", "plotext")

# Imports mlp_tui.core, then each of its modules in turn, and reports the first that pulled in
# a UI package, so a failure names the culprit.
IMPORT_EACH_CORE_MODULE = f"""
import importlib, json, pkgutil, sys
UI = {UI_PACKAGES!r}
def leaked():
    return sorted(m for m in sys.modules if m.split(".")[0] in UI)
import mlp_tui.core
names = ["mlp_tui.core"] + sorted(
    "mlp_tui.core." + m.name for m in pkgutil.iter_modules(mlp_tui.core.__path__)
)
report = {{"modules": names, "culprit": None, "leaked": []}}
for name in names:
    importlib.import_module(name)
    if leaked():
        report.update(culprit=name, leaked=leaked())
        break
print(json.dumps(report))
"""

# Runs the console script's entry point with the given arguments, then reports what it loaded.
RUN_ENTRY_POINT = f"""
import json, runpy, sys
sys.argv = ["mlp-tui", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("mlp_tui.tui.main", run_name="__main__")
except SystemExit as exc:
    code = exc.code
UI = {UI_PACKAGES!r}
print(json.dumps({{
    "code": code,
    "leaked": sorted(m for m in sys.modules if m.split(".")[0] in UI),
}}), file=sys.stderr)
"""


def fresh_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_every_core_module_imports_without_the_ui_stack():
    result = fresh_python(IMPORT_EACH_CORE_MODULE)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"mlp_tui.core.trainer", "mlp_tui.core.cli", "mlp_tui.core.data"} <= set(
        report["modules"]
    )
    assert report["culprit"] is None, f"{report['culprit']} imported {report['leaked']}"


def entry_point_report(*args: str) -> tuple[dict, str]:
    result = fresh_python(RUN_ENTRY_POINT, *args)
    report = result.stderr.strip().splitlines()[-1]
    return json.loads(report), result.stdout


def test_headless_help_does_not_load_the_ui():
    report, stdout = entry_point_report("--headless", "--help")
    assert report["code"] == 0 and "--headless" in stdout
    assert report["leaked"] == []


def test_a_headless_run_never_loads_the_ui(tiny_dir: Path):
    report, stdout = entry_point_report(
        "--headless", "--data-dir", str(tiny_dir), "--epochs", "1", "--hidden", "8",
        "--device", "cpu",
    )  # fmt: skip
    assert report["code"] == 0 and "epoch   1/1" in stdout
    assert report["leaked"] == []
