"""The console script shortens GNU OpenMP's spinning before torch loads, unless the user chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = (
    "import os, sys, mlp_tui.tui.main;"
    "print(os.environ.get('GOMP_SPINCOUNT'), 'torch' in sys.modules)"
)


@pytest.mark.parametrize(
    "preset, expected",
    [({}, "50000"), ({"GOMP_SPINCOUNT": "7"}, "7"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "None")],
)
def test_the_spin_count_is_set_before_torch_loads_and_a_users_choice_wins(preset, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    done = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=env | preset, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [expected, "False"]  # set while torch is not yet loaded
