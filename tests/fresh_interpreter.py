"""One fresh interpreter that takes every import-hygiene step in turn (see
tests/test_import_hygiene.py): a launch costs 1-3 s (torch imports), so it is made once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

UI_PACKAGES = ("textual", "rich", "textual_plotext", "plotext")

# First imports mlp_tui.core and each of its modules in turn (the Triton kernels only where
# triton is), stopping at the first that pulled in a UI package, so a failure names the
# culprit. Then runs the console script's entry point with each argument list of argv[1]
# (JSON), reporting its exit code, its stdout and what was loaded by then.
STEPS = f"""
import contextlib, importlib, importlib.util, io, json, pkgutil, runpy, sys
UI = {UI_PACKAGES!r}
def leaked():
    return sorted(m for m in sys.modules if m.split(".")[0] in UI)
import mlp_tui.core
names = ["mlp_tui.core"] + sorted(
    "mlp_tui.core." + m.name for m in pkgutil.iter_modules(mlp_tui.core.__path__)
)
core = {{"modules": names, "culprit": None, "leaked": []}}
for name in names:
    if name.endswith(".triton_kernels") and importlib.util.find_spec("triton") is None:
        continue  # the GPU kernels need triton (with the CUDA build of torch): not here
    importlib.import_module(name)
    if leaked():
        core.update(culprit=name, leaked=leaked())
        break
runs = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["mlp-tui", *argv]
    out, code = io.StringIO(), 0
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_module("mlp_tui.tui.main", run_name="__main__")
        except SystemExit as exc:
            code = exc.code
    runs.append({{"argv": argv, "code": code, "stdout": out.getvalue(), "leaked": leaked()}})
print(json.dumps({{"core": core, "runs": runs}}))
"""

HEADLESS_HELP = ["--headless", "--help"]
BENCH_HELP = ["bench", "--help"]


def headless_run(data_dir: Path) -> list[str]:
    return ["--headless", "--data-dir", str(data_dir), "--epochs", "1", "--hidden", "8",
            "--device", "cpu"]  # fmt: skip


def take_the_steps(folder: Path, data_dir: Path) -> dict:
    """The report of the one fresh interpreter: ``core``, and ``runs`` in the order taken."""
    env = {k: v for k, v in os.environ.items() if k != "MLP_TUI_DATA"}
    env.update(XDG_CACHE_HOME=str(folder / "cache"), XDG_DATA_HOME=str(folder / "share"))
    steps = [HEADLESS_HELP, BENCH_HELP, headless_run(data_dir)]
    result = subprocess.run(
        [sys.executable, "-c", STEPS, json.dumps(steps)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def entry_point_report(report: dict, argv: list[str]) -> tuple[dict, str]:
    """The step that ran ``argv`` (matched on its first two words): its report and the stdout
    it printed. A UI package loaded before that step is failed as the earlier step's doing."""
    runs = report["runs"]
    index = next(i for i, run in enumerate(runs) if run["argv"][:2] == argv[:2])
    if report["core"]["culprit"] is not None:
        pytest.fail(f"{report['core']['culprit']} loaded {report['core']['leaked']} earlier")
    for earlier in runs[:index]:
        if earlier["leaked"]:
            pytest.fail(f"mlp-tui {' '.join(earlier['argv'])} loaded {earlier['leaked']} earlier")
    return runs[index], runs[index]["stdout"]
