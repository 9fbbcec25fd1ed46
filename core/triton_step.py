"""The seed's full batches in four fused kernels on a GPU (``triton_kernels.py``), for the
graph path of ``device_step.py``.

PyTorch's step (``FusedStep``) costs about 45 kernels a batch on a GPU, and on an H100 their gaps
were most of an epoch: the products were 11 of 29.8 ms. These four kernels do the same batch
(the gather from the float training table, both products, relu, log-softmax, the losses, the
divergence verdict, the figures, the gradients and the plain-SGD updates with the backup the
rollback restores), captured in the same CUDA graph, reading the batch's indices from the
epoch's order at the graph's batch counter and advancing it.

They cover the seed's model only: one hidden layer, relu, no dropout, plain SGD, fp32. Before
the first use on a device and shape, ``KernelStep.verify`` runs one batch through the kernels
and through ``FusedStep`` from the same parameters; any error, or a difference beyond float
rounding, turns them off for the run with the reason (``DeviceSteps.kernels_error``), and the
PyTorch step runs as before.

Without a GPU the kernels run in Triton's interpreter, on CPU tensors (``ON_CPU_INTERPRETED``):
that is how the tests hold them to ``FusedStep``.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from .data import NUM_CLASSES, NUM_INPUTS

PADDED_CLASSES = 16  # the 10 classes padded to the products' smallest width

# Block sizes: forward (rows, hidden, inputs), hidden_grad (rows, hidden), update (inputs,
# hidden, rows). A benchmark may change them before a step is made.
BLOCKS: dict[str, tuple[int, ...]] = {
    "forward": (16, 64, 64),
    "hidden_grad": (32, 64),
    "update": (32, 64, 64),
}
NUM_WARPS = 4
# The loss kernel holds the whole batch in one program: as built for sm_90 it keeps 256 rows in
# 225 registers, spills 20 bytes at 512 and 2.5 KB at 1024 (82 KB and a 4-minute build at 4096).
MAX_BATCH = 512

# (device, batch, hidden, blocks, warps) -> "" when the kernels agreed there, else why not
_verified: dict[tuple, str] = {}


# The tests set it: the kernels then also run on CPU tensors, in Triton's interpreter (which
# needs TRITON_INTERPRET=1 before triton is first imported: tests/conftest.py sets it).
ON_CPU_INTERPRETED = False


def interpreted() -> bool:
    """Triton runs kernels in its interpreter."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def _kernels() -> Any:
    from . import triton_kernels

    return triton_kernels


def unavailable(net: Any, device: torch.device) -> str | None:
    """Why the kernels cannot train ``net`` on ``device``, or None when they can."""
    on_cpu = device.type == "cpu" and ON_CPU_INTERPRETED and interpreted()
    if device.type != "cuda" and not on_cpu:
        return f"no kernels for {device.type}"
    if device.type == "cuda" and interpreted():  # they would run on the host, slowly
        return "Triton's interpreter is on (TRITON_INTERPRET=1): the kernels run compiled only"
    if device.type == "cuda" and device.index not in (None, torch.cuda.current_device()):
        # Triton launches on the current device, whatever the tensors' device is.
        return f"kernels run on the current CUDA device (cuda:{torch.cuda.current_device()})"
    if len(net.layers) != 1 or net.activation != "relu" or net.dropout_rng is not None:
        return "kernels cover the seed's model only: one hidden layer, relu, no dropout"
    try:
        _kernels()
    except Exception as exc:  # absent, or broken beside this torch
        reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        return f"triton does not import ({reason})"
    return None


def compile_ahead(capability: int = 90) -> dict[str, int]:
    """Each kernel compiled to a cubin for an NVIDIA GPU of ``capability`` (90: H100, H200) with
    the block sizes of ``BLOCKS``, no GPU needed: the shared memory each takes, in bytes. Raises
    what Triton raises for a kernel that does not build. Not under the interpreter."""
    import inspect

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    lib = _kernels()
    # Parameter names say the types: pointers end in _ptr (the order, the batch counter, the
    # indices and the labels are int64, the verdict uint8, the limit float64), lr is a float
    # and every other value an int32.
    wide = {"order_ptr", "row_ptr", "idx_ptr", "labels_ptr"}
    pointer = {"ok_ptr": "*u8", "limit_ptr": "*fp64"} | dict.fromkeys(wide, "*i64")
    forward, grad, update = BLOCKS["forward"], BLOCKS["hidden_grad"], BLOCKS["update"]
    constants = {
        "forward": dict(BM=forward[0], BH=forward[1], BK=forward[2]),
        "loss": dict(BB=256),
        "hidden_grad": dict(BM=grad[0], BH=grad[1]),
        "update": dict(BD=update[0], BH=update[1], BB=update[2]),
    }
    shared = {}
    for name, consts in constants.items():
        fn = getattr(lib, name)
        consts = dict(C=NUM_CLASSES, CP=PADDED_CLASSES, **consts)
        signature = {}
        for arg in inspect.signature(fn.fn).parameters:
            if arg in consts:
                signature[arg] = "constexpr"
            elif arg.endswith("_ptr"):
                signature[arg] = pointer.get(arg, "*fp32")
            else:
                signature[arg] = "fp32" if arg == "lr" else "i32"
        source = ASTSource(fn=fn, signature=signature, constexprs=consts)
        built = triton.compile(
            source, target=GPUTarget("cuda", capability, 32), options={"num_warps": NUM_WARPS}
        )
        shared[name] = built.metadata.shared
    return shared


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


class KernelStep:
    """The four kernels and their buffers for full batches of ``batch`` rows of ``net``."""

    def __init__(self, net: Any, table: torch.Tensor, labels: torch.Tensor, batch: int) -> None:
        W1, b1, W2, b2 = net.params
        hidden = W1.shape[1]
        if W1.stride() != (hidden, 1):
            raise ValueError("kernels take W1 row by row")
        if table.dtype != torch.float32 or table.stride(1) != 1:
            raise ValueError("kernels take the training images as float rows")
        self.net, self.table, self.labels = net, table, labels
        self.batch, self.hidden = batch, hidden
        device = table.device
        self.idx = torch.zeros(batch, dtype=torch.long, device=device)
        self.z = torch.empty(batch, hidden, device=device)
        self.dz = torch.empty(batch, hidden, device=device)
        self.g = torch.empty(batch, PADDED_CLASSES, device=device)
        self.blocks, self.warps = dict(BLOCKS), NUM_WARPS  # as they are now, for good
        self.parts = -(-hidden // self.blocks["forward"][1])
        self.part = torch.empty(self.parts, batch, PADDED_CLASSES, device=device)
        self.lib = _kernels()

    def _in(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """The views of ``flat`` (a copy of the model's buffer) that match its parameters."""
        base = self.net.flat
        views = []
        for p in self.net.params:
            at = (p.data_ptr() - base.data_ptr()) // p.element_size()
            views.append(flat.as_strided(p.shape, p.stride(), at))
        return views

    def launch(
        self,
        order: torch.Tensor,
        row: torch.Tensor,
        stats: torch.Tensor,
        ok: torch.Tensor,
        limit: torch.Tensor,
        backup: torch.Tensor,
        lr: float,
    ) -> None:
        """One batch: its indices are row ``row`` of ``order`` (batches x rows); its figures go to
        the same row of ``stats``; ``row`` moves on by one."""
        lib, B, HID = self.lib, self.batch, self.hidden
        W1, b1, W2, b2 = self.net.params
        bW1, bb1, bW2, bb2 = self._in(backup)
        flag = ok.view(torch.uint8)
        C, CP, warps, blocks = NUM_CLASSES, PADDED_CLASSES, self.warps, self.blocks
        table, stride = self.table, self.table.stride(0)
        sh, sc = W2.stride()  # the seed's layout (hidden x 10) or by class (the CPU's)
        bm, bh, bk = blocks["forward"]
        lib.forward[(-(-B // bm), self.parts)](
            table, stride, order, row, self.idx, W1, b1, W2, sh, sc, self.z, self.part,
            B, NUM_INPUTS, HID, C=C, CP=CP, BM=bm, BH=bh, BK=bk, num_warps=warps,
        )  # fmt: skip
        lib.loss[(1,)](
            self.part, self.parts, b2, bb2, self.labels, self.idx, self.g, stats, row,
            flag, limit, lr, B, C=C, CP=CP, BB=_next_power_of_two(max(B, 16)), num_warps=warps,
        )  # fmt: skip
        gm, gh = blocks["hidden_grad"]
        lib.hidden_grad[(-(-B // gm), -(-HID // gh))](
            self.g, W2, sh, sc, self.z, self.dz, B, HID, C=C, CP=CP, BM=gm, BH=gh,
            num_warps=warps,
        )  # fmt: skip
        ud, uh, ub = blocks["update"]
        programs = -(-NUM_INPUTS // ud) * -(-HID // uh) + -(-HID // uh)
        lib.update[(programs,)](
            table, stride, self.idx, self.z, self.dz, self.g,
            W1, bW1, b1, bb1, W2, bW2, sh, sc, flag, lr,
            B, NUM_INPUTS, HID, C=C, CP=CP, BD=ud, BH=uh, BB=ub, num_warps=warps,
        )  # fmt: skip

    def verify(self, lr: float) -> str:
        """One batch through the kernels and through ``FusedStep`` from the same parameters,
        on copies; "" when they agree to float rounding, else what differed. Once per device,
        shape and block sizes in a process."""
        blocks = tuple(sorted(self.blocks.items()))
        key = (str(self.table.device), self.batch, self.hidden, blocks, self.warps)
        if key not in _verified:
            try:
                _verified[key] = self._compare(lr)
            except Exception as exc:  # a kernel that does not build or launch here
                _verified[key] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return _verified[key]

    def _compare(self, lr: float) -> str:
        from .model import FusedStep

        net, device = self.net, self.table.device
        saved = net.flat.clone()
        # Batch 1 of a two-batch order (its rows reversed), as a replay mid-epoch reads it.
        ahead = torch.arange(self.batch, device=device)
        order = torch.stack([ahead, ahead.flip(0)])
        row = torch.ones(1, dtype=torch.long, device=device)
        stats = torch.zeros(2, 3, device=device)
        ok = torch.ones((), dtype=torch.bool, device=device)
        limit = torch.tensor(float("inf"), dtype=torch.float64, device=device)
        backup = torch.zeros_like(net.flat)
        try:
            self.launch(order, row, stats, ok, limit, backup, lr)
            kernels = net.flat.clone()
            net.flat.copy_(saved)
            refused = torch.zeros((), dtype=torch.bool, device=device)  # an earlier verdict
            self.launch(order, torch.ones_like(row), torch.zeros_like(stats), refused,
                        limit, torch.zeros_like(backup), lr)  # fmt: skip
            stayed = torch.equal(net.flat, saved) and not bool(refused)
            net.flat.copy_(saved)
            step = FusedStep(net)
            X = self.table[order[1]]
            y = self.labels[order[1]]
            losses, predicted = step.forward(X, y)
            optimizer = torch.optim.SGD(net.params, lr=lr)
            step.update(optimizer)
            fused = net.flat.clone()
        finally:
            net.flat.copy_(saved)
        total, correct, accepted = stats[1].tolist()
        want_total, want_correct = float(losses.sum()), int((predicted == y).sum())
        problems = []
        if int(row) != 2 or accepted != 1.0 or bool(stats[0].any()):
            problems.append(f"the batch counter read {int(row)}, the verdict {accepted}")
        if not stayed:
            problems.append("a refused batch moved the parameters")
        if abs(total - want_total) > 1e-4 * abs(want_total) + 1e-4:
            problems.append(f"loss sum {total:.6f} against {want_total:.6f}")
        if abs(correct - want_correct) > 1:
            problems.append(f"{correct:.0f} right against {want_correct}")
        moved = float((fused - saved).abs().max())
        apart = float((kernels - fused).abs().max())
        if not apart <= 1e-3 * moved + 1e-7:
            problems.append(f"parameters {apart:.2e} apart after an update of {moved:.2e}")
        if not all(torch.equal(a, b) for a, b in zip(self._in(backup), self._in(saved))):
            problems.append("the backup is not the parameters before the update")
        return "; ".join(problems)
