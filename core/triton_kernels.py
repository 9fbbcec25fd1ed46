"""The seed's training step as four Triton kernels (``triton_step.py`` launches them).

Imported only where ``triton`` imports (it ships with the CUDA build of torch). A batch of B
rows, a hidden layer of HID units, C classes padded to CP for the products:

1. ``forward``: the batch's rows of the float training table (gathered by the epoch's order, at
   the row of the graph's batch counter), ``Z = X W1 + b1`` by blocks of rows and hidden units,
   ``relu``, and each hidden block's share of the logits, ``relu(Z) W2[block]``.
2. ``loss`` (one program): the logits (the shares summed in order, plus ``b2``), log-softmax,
   the losses, the predictions, the divergence verdict, the batch's figures, the gradient at the
   logits ``G = (softmax - onehot) / B``, and ``b2``'s update.
3. ``hidden_grad``: the gradient at ``Z``: ``G W2^T`` through relu's derivative as the seed's
   ``torch.max(Z, 0)`` has it (1 where Z > 0, 1/2 where Z == 0, else 0).
4. ``update``: ``W1 -= lr X^T dZ`` by tiles; the last programs ``W2 -= lr relu(Z)^T G`` and
   ``b1 -= lr sum(dZ)``. Every update is made only when the batch is accepted, and then the
   parameters before it are written to the backup (what the rollback restores).

The products use ``input_precision="ieee"``: fp32 arithmetic, as the seed's (no TF32).
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def forward(
    table_ptr,
    table_stride,
    order_ptr,
    row_ptr,
    idx_ptr,
    w1_ptr,
    b1_ptr,
    w2_ptr,
    w2_sh,
    w2_sc,
    z_ptr,
    part_ptr,
    B,
    D,
    HID,
    C: tl.constexpr,
    CP: tl.constexpr,
    BM: tl.constexpr,
    BH: tl.constexpr,
    BK: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_h = tl.program_id(1)
    rm = pid_m * BM + tl.arange(0, BM)
    rh = pid_h * BH + tl.arange(0, BH)
    m_ok = rm < B
    h_ok = rh < HID
    row = tl.load(row_ptr)
    idx = tl.load(order_ptr + row * B + rm, mask=m_ok, other=0)
    if pid_h == 0:
        tl.store(idx_ptr + rm, idx, mask=m_ok)
    acc = tl.zeros((BM, BH), dtype=tl.float32)
    for k in range(0, D, BK):
        rk = k + tl.arange(0, BK)
        k_ok = rk < D
        x = tl.load(
            table_ptr + idx[:, None] * table_stride + rk[None, :],
            mask=m_ok[:, None] & k_ok[None, :],
            other=0.0,
        )
        w = tl.load(
            w1_ptr + rk[:, None] * HID + rh[None, :],
            mask=k_ok[:, None] & h_ok[None, :],
            other=0.0,
        )
        acc += tl.dot(x, w, input_precision="ieee")
    z = acc + tl.load(b1_ptr + rh, mask=h_ok, other=0.0)[None, :]
    tl.store(z_ptr + rm[:, None] * HID + rh[None, :], z, mask=m_ok[:, None] & h_ok[None, :])
    h = tl.where(z < 0.0, 0.0, z)  # relu; a NaN stays NaN, as torch's
    rc = tl.arange(0, CP)
    w2 = tl.load(
        w2_ptr + rh[:, None] * w2_sh + rc[None, :] * w2_sc,
        mask=h_ok[:, None] & (rc[None, :] < C),
        other=0.0,
    )
    part = tl.dot(h, w2, input_precision="ieee")
    tl.store(part_ptr + (pid_h * B + rm[:, None]) * CP + rc[None, :], part, mask=m_ok[:, None])


@triton.jit
def loss(
    part_ptr,
    parts,
    b2_ptr,
    b2_backup_ptr,
    labels_ptr,
    idx_ptr,
    g_ptr,
    stats_ptr,
    row_ptr,
    ok_ptr,
    limit_ptr,
    lr,
    B,
    C: tl.constexpr,
    CP: tl.constexpr,
    BB: tl.constexpr,
):
    rb = tl.arange(0, BB)
    rc = tl.arange(0, CP)
    b_ok = rb < B
    c_ok = rc < C
    z = tl.zeros((BB, CP), dtype=tl.float32)
    for p in range(0, parts):
        z += tl.load(
            part_ptr + (p * B + rb[:, None]) * CP + rc[None, :], mask=b_ok[:, None], other=0.0
        )
    b2 = tl.load(b2_ptr + rc, mask=c_ok, other=0.0)
    z = tl.where(c_ok[None, :], z + b2[None, :], float("-inf"))
    # log_softmax as torch computes it: (z - max) - log(sum(exp(z - max)))
    shifted = z - tl.max(z, axis=1)[:, None]
    log_probs = shifted - tl.log(tl.sum(tl.exp(shifted), axis=1))[:, None]
    idx = tl.load(idx_ptr + rb, mask=b_ok, other=0)
    y = tl.load(labels_ptr + idx, mask=b_ok, other=0)
    onehot = rc[None, :] == y[:, None]
    losses = -tl.sum(tl.where(onehot, log_probs, 0.0), axis=1)
    total = tl.sum(tl.where(b_ok, losses, 0.0), axis=0)
    predicted = tl.argmax(z, axis=1)  # the first of equal maxima, as torch's max
    correct = tl.sum(tl.where(b_ok & (predicted == y), 1.0, 0.0), axis=0)
    # The verdict as the eager path's: sticky, a finite loss, the mean (float64) under the limit
    mean = total.to(tl.float64) / B
    ok = (tl.load(ok_ptr) != 0) & (tl.abs(total) < float("inf")) & (mean <= tl.load(limit_ptr))
    tl.store(ok_ptr, ok.to(tl.uint8))
    row = tl.load(row_ptr)
    tl.store(stats_ptr + row * 3, total)
    tl.store(stats_ptr + row * 3 + 1, correct)
    tl.store(stats_ptr + row * 3 + 2, ok.to(tl.float32))
    tl.store(row_ptr, row + 1)
    g = tl.exp(log_probs) - tl.where(onehot, 1.0, 0.0)
    g = tl.where(b_ok[:, None] & c_ok[None, :], tl.math.div_rn(g, B * 1.0), 0.0)
    tl.store(g_ptr + rb[:, None] * CP + rc[None, :], g, mask=b_ok[:, None])
    keep = tl.where(ok, c_ok, False)  # (a mask `& ok` trips Triton's interpreter)
    tl.store(b2_backup_ptr + rc, b2, mask=keep)
    tl.store(b2_ptr + rc, b2 - lr * tl.sum(g, axis=0), mask=keep)


@triton.jit
def hidden_grad(
    g_ptr,
    w2_ptr,
    w2_sh,
    w2_sc,
    z_ptr,
    dz_ptr,
    B,
    HID,
    C: tl.constexpr,
    CP: tl.constexpr,
    BM: tl.constexpr,
    BH: tl.constexpr,
):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rh = tl.program_id(1) * BH + tl.arange(0, BH)
    rc = tl.arange(0, CP)
    m_ok = rm < B
    h_ok = rh < HID
    g = tl.load(g_ptr + rm[:, None] * CP + rc[None, :], mask=m_ok[:, None], other=0.0)
    w2t = tl.load(
        w2_ptr + rh[None, :] * w2_sh + rc[:, None] * w2_sc,
        mask=(rc[:, None] < C) & h_ok[None, :],
        other=0.0,
    )
    da = tl.dot(g, w2t, input_precision="ieee")
    at = rm[:, None] * HID + rh[None, :]
    inside = m_ok[:, None] & h_ok[None, :]
    z = tl.load(z_ptr + at, mask=inside, other=0.0)
    dz = tl.where(z > 0.0, da, tl.where(z == 0.0, da * 0.5, 0.0))
    tl.store(dz_ptr + at, dz, mask=inside)


@triton.jit
def _update_w1_tile(
    table_ptr, table_stride, idx_ptr, dz_ptr, w1_ptr, w1_backup_ptr, ok, lr, B, D, HID,
    tile, n_h, BD: tl.constexpr, BH: tl.constexpr, BB: tl.constexpr,
):  # fmt: skip
    """A (BD, BH) tile of W1: ``W1 -= lr X^T dZ``."""
    rd = (tile // n_h) * BD + tl.arange(0, BD)
    rh = (tile % n_h) * BH + tl.arange(0, BH)
    d_ok = rd < D
    h_ok = rh < HID
    acc = tl.zeros((BD, BH), dtype=tl.float32)
    for start in range(0, B, BB):
        rb = start + tl.arange(0, BB)
        b_ok = rb < B
        idx = tl.load(idx_ptr + rb, mask=b_ok, other=0)
        xt = tl.load(
            table_ptr + idx[None, :] * table_stride + rd[:, None],
            mask=d_ok[:, None] & b_ok[None, :],
            other=0.0,
        )
        dz = tl.load(
            dz_ptr + rb[:, None] * HID + rh[None, :],
            mask=b_ok[:, None] & h_ok[None, :],
            other=0.0,
        )
        acc += tl.dot(xt, dz, input_precision="ieee")
    at = rd[:, None] * HID + rh[None, :]
    keep = tl.where(ok, d_ok[:, None] & h_ok[None, :], False)
    w = tl.load(w1_ptr + at, mask=keep, other=0.0)
    tl.store(w1_backup_ptr + at, w, mask=keep)
    tl.store(w1_ptr + at, w - lr * acc, mask=keep)


@triton.jit
def _update_hidden_block(
    z_ptr, dz_ptr, g_ptr, b1_ptr, b1_backup_ptr, w2_ptr, w2_backup_ptr, w2_sh, w2_sc, ok, lr,
    B, HID, block, C: tl.constexpr, CP: tl.constexpr, BH: tl.constexpr, BB: tl.constexpr,
):  # fmt: skip
    """A block of hidden units: their rows of W2 (``-= lr relu(Z)^T G``) and entries of b1
    (``-= lr sum(dZ)``)."""
    rh = block * BH + tl.arange(0, BH)
    rc = tl.arange(0, CP)
    h_ok = rh < HID
    acc = tl.zeros((BH, CP), dtype=tl.float32)
    sums = tl.zeros((BH,), dtype=tl.float32)
    for start in range(0, B, BB):
        rb = start + tl.arange(0, BB)
        b_ok = rb < B
        inside = h_ok[:, None] & b_ok[None, :]
        zt = tl.load(z_ptr + rb[None, :] * HID + rh[:, None], mask=inside, other=0.0)
        g = tl.load(g_ptr + rb[:, None] * CP + rc[None, :], mask=b_ok[:, None], other=0.0)
        acc += tl.dot(tl.where(zt < 0.0, 0.0, zt), g, input_precision="ieee")
        dzt = tl.load(dz_ptr + rb[None, :] * HID + rh[:, None], mask=inside, other=0.0)
        sums += tl.sum(dzt, axis=1)
    at = rh[:, None] * w2_sh + rc[None, :] * w2_sc
    keep = tl.where(ok, h_ok[:, None] & (rc[None, :] < C), False)
    w = tl.load(w2_ptr + at, mask=keep, other=0.0)
    tl.store(w2_backup_ptr + at, w, mask=keep)
    tl.store(w2_ptr + at, w - lr * acc, mask=keep)
    keep_b = tl.where(ok, h_ok, False)
    b = tl.load(b1_ptr + rh, mask=keep_b, other=0.0)
    tl.store(b1_backup_ptr + rh, b, mask=keep_b)
    tl.store(b1_ptr + rh, b - lr * sums, mask=keep_b)


@triton.jit
def update(
    table_ptr,
    table_stride,
    idx_ptr,
    z_ptr,
    dz_ptr,
    g_ptr,
    w1_ptr,
    w1_backup_ptr,
    b1_ptr,
    b1_backup_ptr,
    w2_ptr,
    w2_backup_ptr,
    w2_sh,
    w2_sc,
    ok_ptr,
    lr,
    B,
    D,
    HID,
    C: tl.constexpr,
    CP: tl.constexpr,
    BD: tl.constexpr,
    BH: tl.constexpr,
    BB: tl.constexpr,
):
    # Each branch in a function of its own: Triton merges the names both branches assign.
    pid = tl.program_id(0)
    ok = tl.load(ok_ptr) != 0
    n_h = tl.cdiv(HID, BH)
    tiles = tl.cdiv(D, BD) * n_h
    if pid < tiles:
        _update_w1_tile(
            table_ptr, table_stride, idx_ptr, dz_ptr, w1_ptr, w1_backup_ptr, ok, lr, B, D, HID,
            pid, n_h, BD, BH, BB,
        )  # fmt: skip
    else:
        _update_hidden_block(
            z_ptr, dz_ptr, g_ptr, b1_ptr, b1_backup_ptr, w2_ptr, w2_backup_ptr, w2_sh, w2_sc,
            ok, lr, B, HID, pid - tiles, C, CP, BH, BB,
        )  # fmt: skip
