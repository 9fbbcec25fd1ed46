"""The opt-in fast modes (``--precision bf16`` / ``tf32``): they train about as well as fp32, are
really less exact than fp32 (not fp32 under another name), leave the process's settings and the
seed's default run exactly as they were, and are refused in one line where they cannot run."""

from __future__ import annotations

import pytest
import torch
from mlp_tui.core import checkpoint, precision
from mlp_tui.core.bf16_step import Bf16AutogradStep, Bf16FusedStep
from mlp_tui.core.config import ConfigError, TrainConfig
from mlp_tui.core.model import FusedStep, ScratchMLP
from mlp_tui.core.population import Population
from mlp_tui.core.store import default_name
from mlp_tui.core.trainer import Trainer

from tests.core._helpers import metrics, params, same_params
from tests.core.test_cli_args import run_in_process

HAS_BF16 = precision.cpu_bf16_support()[0]
needs_bf16 = pytest.mark.skipif(not HAS_BF16, reason="this CPU has no bf16 instructions")
CPU = torch.device("cpu")


def train(data, **settings) -> Trainer:
    config = TrainConfig(hidden=32, epochs=5, batch_size=32, lr=0.5, device="cpu", **settings)
    trainer = Trainer(config, data)
    trainer.run()
    return trainer


@needs_bf16
@pytest.mark.parametrize("engine", ["fused", "autograd"])
def test_bf16_learns_the_tiny_data_as_well_as_fp32_but_not_identically(tiny_data, engine):
    fp32 = train(tiny_data, engine=engine)
    bf16 = train(tiny_data, engine=engine, precision="bf16")
    assert isinstance(bf16._step_fn, Bf16FusedStep if engine == "fused" else Bf16AutogradStep)
    assert fp32.history[-1].test_acc > 0.9
    assert abs(bf16.history[-1].test_acc - fp32.history[-1].test_acc) < 0.03
    assert bf16.history[-1].train_loss == pytest.approx(fp32.history[-1].train_loss, rel=0.05)
    # Rounded products: the losses differ (a switch that did nothing would give equal ones).
    assert bf16.history[-1].train_loss != fp32.history[-1].train_loss


@needs_bf16
@pytest.mark.parametrize("by_class", [True, False])
@pytest.mark.parametrize(
    "net_settings",
    [{}, {"layers": (64, 32), "activation": "tanh"}, {"layers": (64, 32), "dropout": 0.5}],
    ids=["seed", "two-tanh", "dropout"],
)
@pytest.mark.parametrize("sgd", [{}, {"momentum": 0.9, "weight_decay": 1e-3}], ids=["plain", "mom"])
def test_the_bf16_fused_step_is_torch_autocasts_step(tiny_data, by_class, net_settings, sgd):
    """Same batch, same start: the fused bf16 update is the seed's step under torch's CPU
    autocast (bf16) to 1e-3, in either W2 layout, plain SGD (folded update) or the optimizer's;
    and both are bf16's, not fp32's: off fp32's update by more than fp32's own rounding."""
    config = TrainConfig(init="kaiming", **net_settings)
    nets = [ScratchMLP.from_config(config, w2_by_class=by_class) for _ in range(3)]
    steps = [FusedStep(nets[0]), Bf16FusedStep(nets[1]), Bf16AutogradStep(nets[2])]
    X, y = tiny_data.train_batch(torch.arange(128))
    start = [p.detach().clone() for p in nets[0].params]
    moved = []
    for net, step in zip(nets, steps):
        optimizer = torch.optim.SGD(net.params, lr=0.5, **sgd)
        net.seed_dropout(0)
        step.forward(X, y)
        step.update(optimizer)
        moved.append([p.detach() - s for p, s in zip(net.params, start)])
    for fp32, fused16, autocast16 in zip(*moved):
        assert (fused16 - autocast16).norm() <= 1e-3 * autocast16.norm()
        assert 1e-4 * fp32.norm() < (fused16 - fp32).norm() < 0.1 * fp32.norm()


@needs_bf16
def test_a_bf16_run_leaves_the_process_settings_and_the_default_run_as_they_were(tiny_data):
    before = precision.settings()
    first = train(tiny_data)
    train(tiny_data, precision="bf16")
    assert precision.settings() == before
    again = train(tiny_data)
    assert metrics(again.history) == metrics(first.history)  # bit for bit
    assert same_params(params(again), params(first))


def test_a_scope_sets_its_switch_for_the_step_only_and_puts_back_what_it_found():
    class Backend:
        fp32_precision = "ieee"  # whatever was there: a scope restores it, not a default

    backend = Backend()
    scope = precision.Scope(backend, "tf32")
    for _ in range(2):  # reusable: the trainer enters it every batch
        with scope:
            assert backend.fp32_precision == "tf32"
            with scope:
                assert backend.fp32_precision == "tf32"
            assert backend.fp32_precision == "tf32"
        assert backend.fp32_precision == "ieee"
    with pytest.raises(RuntimeError), scope:
        raise RuntimeError("a failed step")
    assert backend.fp32_precision == "ieee"


def test_fp32_steps_in_no_scope_at_all():
    assert isinstance(precision.scope("fp32", CPU), type(precision.scope("bf16", CPU)))
    assert not isinstance(precision.scope("fp32", CPU), precision.Scope)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CPU-only machine's refusal")
def test_tf32_is_refused_on_a_cpu_in_one_line(tiny_data, capsys):
    with pytest.raises(ConfigError) as error:
        Trainer(TrainConfig(device="cpu", precision="tf32"), tiny_data)
    assert str(error.value) == (
        "precision: tf32 is for CUDA GPUs (tensor cores); this run's device is cpu: "
        "use fp32, or bf16"
    )
    code, out, err = run_in_process(["--device", "cpu", "--precision", "tf32"], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "mlp-tui: --precision: tf32 is for CUDA GPUs (tensor cores); this run's device is cpu: "
        "use fp32, or bf16"
    ]


def test_a_cpu_without_bf16_is_refused_saying_what_was_detected(monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda cpuinfo=None: ())
    monkeypatch.setattr(precision.Path, "exists", lambda self: True)
    with pytest.raises(ConfigError) as error:
        precision.check("bf16", CPU)
    assert str(error.value) == (
        "precision: bf16 needs a CPU with bf16 instructions; the CPU flags name no bf16 "
        "instructions (avx512_bf16, amx_bf16, bf16)"
    )


def test_the_cpu_flags_are_read_from_cpuinfo():
    x86 = "processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 sse\nprocessor\t: 1\n"
    assert precision.cpu_bf16_flags(x86) == ("avx512_bf16",)
    assert precision.cpu_bf16_flags("Features\t: fp asimd bf16 i8mm\n") == ("bf16",)
    assert precision.cpu_bf16_flags("flags\t: fpu avx512f avx2\n") == ()


def test_bf16_is_refused_on_a_gpu_pointing_at_tf32():
    with pytest.raises(
        ConfigError, match="^precision: bf16 is this app's CPU mode; on cuda use tf32"
    ):
        precision.check("bf16", torch.device("cuda"))


def test_a_bad_precision_is_one_line_and_exit_2(capsys):
    code, out, err = run_in_process(["--precision", "fp16"], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "mlp-tui: argument --precision: 'fp16' is not one of fp32, bf16, tf32"
    ]


@needs_bf16
def test_a_headless_bf16_run_says_so_before_it_trains(tiny_dir, capsys):
    args = ["--data-dir", str(tiny_dir), "--hidden", "8", "--epochs", "1", "--no-store"]
    code, out, _ = run_in_process([*args, "--precision", "bf16"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "precision bf16: matrix products in bfloat16, weights and updates in fp32"
    code, out, _ = run_in_process(args, capsys)
    assert code == 0 and "precision" not in out  # the seed's run prints what it printed


def test_precision_cannot_change_during_a_run(tiny_data):
    trainer = Trainer(TrainConfig(hidden=8, device="cpu"), tiny_data)
    with pytest.raises(ConfigError, match="^precision cannot change during a run"):
        trainer.update(precision="bf16")


@needs_bf16
def test_a_checkpoint_carries_the_precision_and_resumes_in_it_or_in_another(tiny_data, tmp_path):
    path = tmp_path / "bf16.safetensors"
    trainer = Trainer(TrainConfig(hidden=8, epochs=1, device="cpu", precision="bf16"), tiny_data)
    trainer.run()
    trainer.save(path).result()
    assert checkpoint.load(path, tiny_data)["config"].precision == "bf16"
    resumed = Trainer.from_checkpoint(path, tiny_data, epochs=2)
    assert resumed.config.precision == "bf16" and isinstance(resumed._step_fn, Bf16FusedStep)
    as_fp32 = Trainer.from_checkpoint(path, tiny_data, epochs=2, precision="fp32")
    assert type(as_fp32._step_fn) is FusedStep  # the weights are fp32 in either mode
    assert same_params(params(as_fp32), params(trainer))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CPU-only machine's refusal")
def test_a_tf32_checkpoint_resumes_on_a_cpu_only_in_another_precision(tiny_data, tmp_path):
    path = tmp_path / "tf32.safetensors"
    trainer = Trainer(TrainConfig(hidden=8, device="cpu"), tiny_data)
    state = trainer.state_dict()
    state["config"] = state["config"].replace(precision="tf32")  # as a GPU run would save it
    checkpoint.save(state, path)
    with pytest.raises(ConfigError, match="^precision: tf32 is for CUDA GPUs"):
        Trainer.from_checkpoint(path, tiny_data)
    assert Trainer.from_checkpoint(path, tiny_data, precision="fp32").config.precision == "fp32"


def test_a_fast_run_is_named_for_it_in_the_store():
    assert default_name(TrainConfig(precision="bf16")) == "precision bf16"
    assert default_name(TrainConfig()) == "seed defaults"


def test_a_population_refuses_a_fast_precision_in_one_line(tiny_data):
    with pytest.raises(ConfigError) as error:
        Population([TrainConfig(hidden=8), TrainConfig(hidden=8, precision="bf16")], tiny_data)
    assert str(error.value) == (
        "member 2: population training runs in fp32 only, not bf16; train it as a solo run"
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_tf32_on_cuda_trains_close_to_fp32_and_restores_the_switch(tiny_data):
    before = precision.settings()
    fp32 = Trainer(TrainConfig(hidden=32, epochs=3, device="cuda"), tiny_data)
    fp32.run()
    tf32 = Trainer(TrainConfig(hidden=32, epochs=3, device="cuda", precision="tf32"), tiny_data)
    tf32.run()
    assert precision.settings() == before
    assert abs(tf32.history[-1].test_acc - fp32.history[-1].test_acc) < 0.03


@needs_bf16
@pytest.mark.slow  # four epochs of the real data: ~2 s on a quiet host
def test_bf16_on_the_real_data_learns_what_fp32_learns(real_data):
    runs = {}
    for mode in ("fp32", "bf16"):
        runs[mode] = Trainer(TrainConfig(epochs=2, device="cpu", precision=mode), real_data)
        runs[mode].run()
    fp32, bf16 = (runs[m].history[-1] for m in ("fp32", "bf16"))
    # The seed's epoch 2, to 3 test images: 0.7950 on an AMD EPYC, 0.7949 on an Intel Xeon
    # (their BLAS kernels sum in different orders).
    assert fp32.test_acc == pytest.approx(0.7950, abs=3e-4)
    assert abs(bf16.test_acc - fp32.test_acc) < 0.01
    assert bf16.train_loss == pytest.approx(fp32.train_loss, rel=0.01)
    assert bf16.train_loss != fp32.train_loss
