"""Bad command lines, in this process and (a few) through the real console script: exit 2,
one line naming the flag and the problem, nothing on stdout, no traceback."""

from __future__ import annotations

import pytest
import torch
from mlp_tui.core import __version__
from mlp_tui.core.cli import main
from mlp_tui.core.config import ConfigError, TrainConfig, parse_field
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import TRACEBACK, run_cli

# (arguments, words the one line on stderr must hold); {tmp} is the test's temporary folder.
BAD_ARGUMENTS = [
    (["--lr", "abc"], ["--lr", "'abc' is not a number"]),
    (["--lr", "-1"], ["--lr", "-1 is outside (0, 1e+06]"]),
    (["--lr", "0"], ["--lr", "0 is outside (0, 1e+06]"]),
    (["--lr", "nan"], ["--lr", "nan is not allowed"]),
    (["--lr", "inf"], ["--lr", "infinite"]),
    (["--lr", "1e999"], ["--lr", "'1e999' is infinite or too large"]),
    (["--lr", ""], ["--lr", "a value is required"]),
    (["--lr", "   "], ["--lr", "a value is required"]),
    (["--lr", "０.１"], ["--lr", "'０.１' is not a number"]),
    (["--lr", "½"], ["--lr", "'½' is not a number"]),
    (["--batch-size", "0"], ["--batch-size", "0 is outside [1, 65536]"]),
    (["--batch-size", "-3"], ["--batch-size", "-3 is outside [1, 65536]"]),
    (["--batch-size", "2.5"], ["--batch-size", "'2.5' is not a whole number"]),
    (["--epochs", "0"], ["--epochs", "0 is outside [1, 100000]"]),
    (["--hidden", "0"], ["--hidden", "0 is outside [1, 16384]"]),
    (["--momentum", "1.5"], ["--momentum", "1.5 is outside [0, 0.999]"]),
    (["--engine", "turbo"], ["--engine", "'turbo' is not one of fused, autograd"]),
    (["--resume", "{tmp}/missing.safetensors"], ["--resume", "missing.safetensors does not exist"]),
    (["--data-dir", "{tmp}/nowhere"], ["--data-dir", "nowhere is not a directory"]),
    (["--device", "tpu"], ["--device", "'tpu' is not one of"]),
    (["--resume", "{tmp}"], ["--resume", "is a directory"]),
    (["--save", "{tmp}"], ["--save", "is a directory"]),
    (["--save", "{tmp}/a-file/run.safetensors"], ["--save", "a-file is a file, not a folder"]),
    (["--metrics-out", "{tmp}"], ["--metrics-out", "is a directory"]),
    (
        ["--metrics-out", "{tmp}/a-file/m.jsonl"],
        ["--metrics-out", "a-file is a file, not a folder"],
    ),
    (["--no-such-flag"], ["unrecognized arguments: --no-such-flag"]),
    # as typed, not as read: 1e-400 is 0.0 to a float
    (["--lr", "1e-400"], ["--lr", "1e-400 is outside (0, 1e+06]"]),
    # equal rates are no excuse: more rates than layers is refused as 0.2,0.5 is
    (["--dropout", "0.5,0.5"], ["--dropout: 2 rates for 1 hidden layers"]),
    (["--dropout", "0.5,0.5,0.5", "--layers", "64,32"], ["--dropout: 3 rates for 2 hidden"]),
    (["--divergence-factor", "0.5"], ["0.5 is outside (1, 1e+12]; off (or 0): no check"]),
]
if not torch.cuda.is_available():
    BAD_ARGUMENTS.append((["--device", "cuda"], ["--device", "no CUDA GPU is available"]))


CASE_IDS = [" ".join(args) for args, _ in BAD_ARGUMENTS]


def run_in_process(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """``mlp-tui --headless ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main(["--headless", *args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("args", "words"), BAD_ARGUMENTS, ids=CASE_IDS)
def test_a_bad_argument_is_one_line_and_exit_2(args, words, tmp_path, capsys):
    (tmp_path / "a-file").write_text("in the way of a folder")
    tmp = str(tmp_path)
    code, out, err = run_in_process([a.replace("{tmp}", tmp) for a in args], capsys)
    words = [w.replace("{tmp}", tmp) for w in words]
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert all(word in lines[0] for word in words), lines[0]
    assert TRACEBACK not in err


def test_the_console_script_says_a_bad_argument_in_one_line_too():
    result = run_cli("--headless", "--lr", "abc")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["mlp-tui: argument --lr: 'abc' is not a number"]


def test_help_and_version_exit_0():
    help_ = run_cli("--headless", "--help")
    assert help_.returncode == 0 and help_.stderr == ""
    assert all(flag in help_.stdout for flag in ("--lr", "--resume", "--metrics-out", "--save"))
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"mlp-tui {__version__}"


@pytest.mark.parametrize(
    ("field", "text", "says"),
    [
        ("batch_size", "0", "batch size: 0 is outside [1, 65536]"),
        ("lr", "abc", "learning rate: 'abc' is not a number"),
        ("weight_decay", "2", "weight decay: 2 is outside [0, 1]"),
    ],
)
def test_a_bad_value_is_named_in_the_words_the_panel_uses(field, text, says):
    with pytest.raises(ConfigError) as error:
        parse_field(field, text)
    assert str(error.value) == says


def test_a_field_that_needs_a_new_run_is_refused_by_its_label(tiny_data):
    trainer = Trainer(TrainConfig(hidden=8, device="cpu"), tiny_data)
    with pytest.raises(ConfigError, match="^hidden units cannot change during a run"):
        trainer.update(hidden=16)
