"""Opt-in fast modes: the training products in bfloat16 (CPUs) or TF32 (CUDA), never the default.

``fp32`` is the seed's arithmetic and stays bit for bit what it was (no code of its path changes:
its step runs in a ``nullcontext``). ``bf16`` and ``tf32`` keep the weights, biases, softmax,
loss and update in float32 and round only the matrix products' operands: bf16 to 8 bits of
mantissa, TF32 to 10.

bf16 is done with explicit casts in the step (``bf16_step.py``), per step object, so nothing
process-wide changes. torch's switch for fp32 products (``torch.backends.mkldnn.matmul.
fp32_precision = "bf16"``) was tried first and measured: on this EPYC (avx512_bf16, no AMX)
oneDNN then runs its fp32 kernel (``brg_matmul:avx512_core``, fp32 operands, results within
1e-6 of MKL's): a mode named bf16 that computes in fp32. TF32 has only the switch
(``torch.backends.cuda.matmul.fp32_precision``), which is process-wide: ``Scope`` turns it on for
one training step and puts back exactly what it found, so the test-set evaluation, the health
figures, a UI thread between batches and the next run in the process see fp32.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from .config import PRECISIONS, ConfigError
from .model import AutogradStep, FusedStep, ScratchMLP

__all__ = ["PRECISIONS", "Scope", "check", "cpu_bf16_support", "make_step", "scope", "settings"]
CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # /proc/cpuinfo: x86's two, ARM's one


def cpu_bf16_flags(cpuinfo: str | None = None) -> tuple[str, ...]:
    """The CPU's bfloat16 instruction flags named in ``/proc/cpuinfo`` (empty when none, or
    where there is no such file: then torch's own check decides alone)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return ()
    words: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            words.update(value.split())
    return tuple(flag for flag in CPU_FLAGS if flag in words)


def cpu_bf16_support() -> tuple[bool, str]:
    """Whether this CPU runs bf16 products natively, and what was detected, in words."""
    onednn = torch.backends.mkldnn.is_available()
    torch_says = bool(onednn and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    flags = cpu_bf16_flags()
    if not onednn:
        return False, "this torch build has no oneDNN (mkldnn)"
    if not torch_says:
        return False, "oneDNN reports no bf16 support on this CPU"
    if Path("/proc/cpuinfo").exists() and not flags:
        # oneDNN would emulate bf16 with avx512 alone: slower than fp32, so no fast mode.
        return False, "the CPU flags name no bf16 instructions (avx512_bf16, amx_bf16, bf16)"
    return True, f"bf16 instructions: {', '.join(flags) or 'per oneDNN'}"


def check(precision: str, device: torch.device) -> None:
    """Raise ConfigError, one line saying what was detected, when ``device`` cannot run
    ``precision``'s fast products."""
    if precision == "fp32":
        return
    if precision == "tf32":
        if device.type != "cuda":
            raise ConfigError(
                f"precision: tf32 is for CUDA GPUs (tensor cores); this run's device is "
                f"{device.type}: use fp32{', or bf16' if device.type == 'cpu' else ''}"
            )
        major, minor = torch.cuda.get_device_capability(device)
        if major < 8:
            name = torch.cuda.get_device_name(device)
            raise ConfigError(
                f"precision: tf32 needs an Ampere or later GPU; {name} is compute capability "
                f"{major}.{minor}: use fp32"
            )
        return
    if precision == "bf16":
        if device.type != "cpu":
            raise ConfigError(
                f"precision: bf16 is this app's CPU mode; on {device.type} use "
                f"{'tf32' if device.type == 'cuda' else 'fp32'}"
            )
        ok, detected = cpu_bf16_support()
        if not ok:
            raise ConfigError(f"precision: bf16 needs a CPU with bf16 instructions; {detected}")
        return
    raise ConfigError(f"precision: {precision!r} is not one of {', '.join(PRECISIONS)}")


class Scope:
    """A reusable context: while inside, fp32 matrix products take the fast mode; on the way
    out the switch is set back to what it was on the way in (whatever that was)."""

    def __init__(self, backend, value: str) -> None:
        self.backend, self.value = backend, value
        self._saved: list[str] = []

    def __enter__(self) -> Scope:
        self._saved.append(self.backend.fp32_precision)
        self.backend.fp32_precision = self.value
        return self

    def __exit__(self, *exc: object) -> None:
        self.backend.fp32_precision = self._saved.pop()


def scope(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context one training step runs in: TF32's switch for tf32, nothing at all otherwise
    (bf16's casts are in its step). Checks ``device`` first (``check``)."""
    check(precision, device)
    if precision == "tf32":
        return Scope(torch.backends.cuda.matmul, "tf32")
    return contextlib.nullcontext()


def make_step(engine: str, precision: str, net: ScratchMLP) -> AutogradStep | FusedStep:
    """The training step for ``engine`` in ``precision``: the seed's own classes for fp32 and
    tf32 (TF32 is a switch around them), ``bf16_step``'s for bf16."""
    if precision == "bf16":
        from .bf16_step import Bf16AutogradStep, Bf16FusedStep

        return (Bf16FusedStep if engine == "fused" else Bf16AutogradStep)(net)
    return (FusedStep if engine == "fused" else AutogradStep)(net)


def settings() -> dict[str, str]:
    """The process's matmul precision switches, as a test compares them before and after."""
    return {
        "mkldnn": torch.backends.mkldnn.matmul.fp32_precision,  # type: ignore[attr-defined]
        "cuda": torch.backends.cuda.matmul.fp32_precision,
    }


def describe(precision: str) -> str:
    """One line for a run's start: what a fast mode changes, so it is not taken for fp32's."""
    if precision == "bf16":
        return "precision bf16: matrix products in bfloat16, weights and updates in fp32"
    if precision == "tf32":
        return "precision tf32: matrix products in TF32, weights and updates in fp32"
    return "precision fp32: the seed's arithmetic"
