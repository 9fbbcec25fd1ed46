"""A/B: this tree's epoch against another tree's, in alternating turns, on the real data.

A shared machine's speed moves by 2x within minutes, so two figures measured a minute apart
say little; turns that alternate (A, B, A, B, ...) see the same drift. Each turn is a fresh
process training ``--epochs`` epochs headless with ``--args`` (CLI options, default the seed's
run); its first epoch is a warm-up and left out. Also checks that both trees give the same
train losses and test accuracies, which a change that keeps the seed's run bit for bit must.

    git archive main | tar -x -C /tmp/main-tree
    python benchmarks/ab_epoch.py /tmp/main-tree --rounds 6 --epochs 3 [--args "--hidden 512"]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TURN = """
import json, sys
from mlp_tui.core import cli, data
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.trainer import Trainer
args = cli.build_parser().parse_args(sys.argv[1:])
trainer = Trainer(TrainConfig(**cli.config_overrides(args)), data.load(args.data_dir))
trainer.run()
print(json.dumps({
    "where": cli.__file__,
    "seconds": [r.seconds for r in trainer.history],
    "figures": [[r.train_loss, r.train_acc, r.test_acc] for r in trainer.history],
}))
"""


def shim(tree: Path, root: Path) -> Path:
    """A folder that makes ``mlp_tui.core`` and ``mlp_tui.tui`` import from ``tree``."""
    package = root / "mlp_tui"
    package.mkdir()
    for part in ("core", "tui"):
        (package / part).symlink_to(tree.resolve() / part)
    return root


def turn(path: Path | None, options: list[str]) -> dict:
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    done = subprocess.run(
        [sys.executable, "-c", TURN, *options], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"a turn failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other source tree (with core/ and tui/)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--args", default="", help="CLI options for both, e.g. '--hidden 512'")
    args = parser.parse_args()
    options = ["--device", "cpu", "--epochs", str(args.epochs), *shlex.split(args.args)]
    with tempfile.TemporaryDirectory() as root:
        other = shim(args.other, Path(root))
        seconds: dict[str, list[float]] = {"this": [], "other": []}
        figures: dict[str, list] = {}
        for round_ in range(args.rounds):
            order = [("this", None), ("other", other)]
            for name, path in order if round_ % 2 == 0 else order[::-1]:
                result = turn(path, options)
                seconds[name] += result["seconds"][1:]
                figures.setdefault(name, result["figures"])
                epochs = " ".join(f"{s:.3f}" for s in result["seconds"][1:])
                print(f"round {round_ + 1} {name:>5}: {epochs}  ({result['where']})")
    for name, values in seconds.items():
        print(
            f"{name:>5}: median {statistics.median(values):.3f} s, "
            f"min {min(values):.3f} s over {len(values)} epochs"
        )
    ratio = statistics.median(seconds["this"]) / statistics.median(seconds["other"])
    print(f"this / other: {ratio:.3f} (medians)")
    same = figures["this"] == figures["other"]
    print("figures: " + ("identical" if same else f"DIFFER\n{figures}"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
