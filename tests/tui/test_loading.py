"""The loading frame on a real pseudo-terminal: drawn at once, a failure's line shown on the
shell's screen after it, the terminal's echo given back, and nothing drawn off a terminal."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time

from mlp_tui.tui.loading import ENTER, LEAVE, MARKER

CHILD = """
import sys, termios
from mlp_tui.tui.loading import LoadingFrame
with LoadingFrame() as frame:
    if sys.argv[1] != "hand-over":
        print("frame up", file=sys.stderr)
    if sys.argv[1] == "fail":
        sys.exit(2)
    frame.hand_over()
echo = bool(termios.tcgetattr(0)[3] & termios.ECHO)
print(f"after echo={echo}", file=sys.stderr)
"""


def on_a_pty(mode: str) -> str:
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", CHILD, mode])
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return seen.decode(errors="replace")


def test_a_failure_shows_its_line_on_the_shell_screen_after_the_frame():
    seen = on_a_pty("fail")
    assert ENTER in seen and MARKER in seen
    left = seen.index(LEAVE)
    assert "frame up" in seen[left:]  # held back until the shell's screen was back
    assert "frame up" not in seen[:left]


def test_a_hand_over_stays_on_the_alternate_screen_and_gives_echo_back():
    seen = on_a_pty("hand-over")
    assert MARKER in seen and LEAVE not in seen
    assert "after echo=True" in seen


def test_what_was_written_meanwhile_is_shown_at_the_hand_over():
    seen = on_a_pty("hand-over-noisy")
    assert "frame up" in seen[seen.index(LEAVE) :]
    assert "after echo=True" in seen


def test_off_a_terminal_nothing_is_drawn():
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "fail"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr == "frame up\n"
    assert done.stdout == ""


def test_the_echo_is_off_while_the_frame_is_up():
    pid, fd = pty.fork()
    if pid == 0:
        code = (
            "import sys, termios\n"
            "from mlp_tui.tui.loading import LoadingFrame\n"
            "with LoadingFrame():\n"
            "    sys.stdout.write(f'ECHO={bool(termios.tcgetattr(0)[3] & termios.ECHO)}\\n')\n"
            "    sys.stdout.flush()\n"
        )
        os.execv(sys.executable, [sys.executable, "-c", code])
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    assert b"ECHO=False" in seen


def test_sigterm_while_the_frame_is_up_restores_the_terminal():
    code = (
        "import sys, time\n"
        "from mlp_tui.tui.loading import LoadingFrame, Terminated\n"
        "try:\n"
        "    with LoadingFrame():\n"
        "        time.sleep(30)\n"
        "except Terminated:\n"
        "    print('terminated', file=sys.stderr)\n"
    )
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", code])
    seen = b""
    while MARKER.encode() not in seen:
        seen += os.read(fd, 65536)
    os.kill(pid, signal.SIGTERM)
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = seen.decode(errors="replace")
    assert os.WEXITSTATUS(status) == 0
    assert "terminated" in text[text.index(LEAVE) :]


BEHIND_KEYS = """
import json, sys
import mlp_tui.tui.app as app
def loaded():
    screens = sorted(m for m in sys.modules if m.startswith("mlp_tui.tui.screens."))
    return screens + ["torch"] * ("torch" in sys.modules)
at_launch = loaded()
app.help_sections()
print(json.dumps([at_launch, loaded()]))
"""


def test_the_app_loads_without_torch_and_the_screens_behind_keys_when_opened():
    """The app's import is on the way to its first frame: it takes the starting screen and
    neither torch (1.0-1.5 s) nor the training screen, which load on a thread once that frame
    is drawn; the inspector, health, runs, sweep, comparison, lr range test and image screens
    load when first opened (the help lists their keys, so it loads them)."""
    result = subprocess.run(
        [sys.executable, "-c", BEHIND_KEYS], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    at_launch, after_help = json.loads(result.stdout.strip().splitlines()[-1])
    names = ("inspect", "health", "runs", "sweep", "compare", "lr_find", "image", "main")
    behind = {f"mlp_tui.tui.screens.{name}" for name in names}
    assert "mlp_tui.tui.screens.starting" in at_launch
    assert "torch" not in at_launch
    assert not behind & set(at_launch), behind & set(at_launch)
    assert behind - {"mlp_tui.tui.screens.main"} <= set(after_help)
