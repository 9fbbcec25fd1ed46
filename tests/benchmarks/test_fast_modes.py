"""benchmarks/fast_modes.py on the tiny data: every mode this machine runs is in the table, fp32
first as the yardstick, and fp32's figures are the default run's own."""

from __future__ import annotations

import torch
from mlp_tui.core import precision
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.trainer import Trainer

from benchmarks import fast_modes


def test_the_table_puts_each_mode_beside_fp32_with_its_accuracy(tiny_data):
    config = TrainConfig(hidden=16, batch_size=64, device="cpu")
    modes, refused = fast_modes.modes_for(torch.device("cpu"))
    assert modes[0] == "fp32" and ("bf16" in modes) == precision.cpu_bf16_support()[0]
    assert any(line.startswith("tf32: precision: tf32 is for CUDA") for line in refused) or (
        torch.cuda.is_available()
    )
    trainers = fast_modes.measure(config, tiny_data, modes, epochs=2)
    lines = fast_modes.table(trainers, 2).splitlines()
    assert lines[0].split() == ["precision", "s/epoch", "x", "fp32", "paired", "train", "loss@2",
                                "test", "acc@2"]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == modes
    assert lines[1].split()[2:4] == ["1.00", "1.00"]
    alone = Trainer(config.replace(epochs=2), tiny_data, health=False)  # not in turns
    alone.run()
    fp32 = trainers["fp32"].history
    assert [r.train_loss for r in fp32] == [r.train_loss for r in alone.history]
    assert lines[1].split()[4:] == [
        f"{fp32[-1].train_loss:.4f}",
        f"{fp32[-1].test_acc:.4f}",
    ]
    steps = fast_modes.step_times(config, tiny_data, modes, rounds=2)
    assert list(steps) == modes and all(len(v) == 2 and min(v) > 0 for v in steps.values())
