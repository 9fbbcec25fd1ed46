"""On a GPU: the fused Triton kernels (``core/triton_step.py``) against PyTorch's step in the same
CUDA-graph path, in one call. What agrees (one epoch from the same weights), the divergence
verdict, seconds per epoch of each in turns, the kernels' block sizes tried one after another,
the TF32 mode beside fp32, and the profiler's kernels of one epoch. Writes ``gpu_kernels.json``
and ``gpu_kernels_profile.txt`` to ``--out``.

    python -m benchmarks.gpu_kernels [--data-dir DIR] [--out DIR] [--turns N] [--no-sweep]

``--device cpu`` runs the same steps with PyTorch's step alone (the kernels are for CUDA): the
test of this script.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path

import torch
from mlp_tui.core import data as data_mod
from mlp_tui.core import triton_step
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import RunState
from mlp_tui.core.trainer import Trainer

FORWARD = [(16, 64, 64), (32, 64, 32), (16, 32, 64), (32, 32, 64), (64, 64, 32), (16, 128, 32)]
UPDATE = [(32, 64, 64), (64, 64, 32), (32, 32, 64), (16, 64, 64), (64, 32, 32), (32, 128, 32)]
WARPS = [4, 2, 8]
DEVICE = "cuda"


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def median_epoch(trainer: Trainer) -> float:
    seconds = [r.seconds for r in trainer.history]
    return statistics.median(seconds[1:] if len(seconds) > 2 else seconds)


def train(dataset, config: TrainConfig, **options) -> Trainer:
    trainer = Trainer(config, dataset, sync_free=True, **options)
    trainer.run()
    sync()
    return trainer


def row(name: str, trainer: Trainer) -> dict:
    last = trainer.history[-1]
    return {
        "name": name,
        "state": trainer.state.name,
        "median_ms": median_epoch(trainer) * 1e3,
        "epochs_ms": [round(r.seconds * 1e3, 2) for r in trainer.history],
        "final": [last.epoch, round(last.train_loss, 6), round(last.train_acc, 6), last.test_acc],
        "kernels_on": trainer.steps.kernels_on,
        "kernels_error": trainer.steps.kernels_error,
        "graph_error": trainer.steps.graph_error,
    }


def apart(a: Trainer, b: Trainer) -> float:
    return max(float((x - y).detach().abs().max()) for x, y in zip(a.net.params, b.net.params))


def agreement(dataset, results: dict) -> None:
    one = TrainConfig(epochs=1, device=DEVICE)
    ours, theirs = train(dataset, one), train(dataset, one, kernels=False)
    results["agree"] = {
        "kernels": row("kernels 1 epoch", ours),
        "pytorch": row("pytorch graph 1 epoch", theirs),
        "params_apart": apart(ours, theirs),
        "batch_losses_apart": max(
            abs(x - y) for x, y in zip(ours.batch_losses, theirs.batch_losses)
        ),
    }


def divergence(dataset, results: dict) -> None:
    out = {}
    for kernels in (True, False):
        seen = threading.Event()

        def listen(event, seen=seen) -> None:
            if getattr(event, "state", None) is RunState.DIVERGED:
                seen.set()

        trainer = Trainer(
            TrainConfig(epochs=2, lr=1000.0, device=DEVICE),
            dataset,
            listen,
            sync_free=True,
            kernels=kernels,
        )
        thread = threading.Thread(target=trainer.run, daemon=True)
        thread.start()
        found = seen.wait(120)
        out["kernels" if kernels else "pytorch"] = {
            "diverged": found,
            "reason": trainer.reason,
            "step": trainer.step_count,
            "kernels_on": trainer.steps.kernels_on,
            "finite": all(bool(torch.isfinite(p.detach()).all()) for p in trainer.net.params),
        }
        trainer.stop()
        thread.join(60)
    out["same"] = out["kernels"]["reason"] == out["pytorch"]["reason"] and (
        out["kernels"]["step"] == out["pytorch"]["step"]
    )
    results["divergence"] = out


def speed(dataset, results: dict, turns: int) -> None:
    ten = TrainConfig(epochs=10, device=DEVICE)
    runs = results.setdefault("speed", [])
    for turn in range(turns):
        for name, options in (
            ("kernels", {}),
            ("pytorch graph", {"kernels": False}),
            ("kernels, no health", {"health": False}),
        ):
            runs.append(row(f"{name} 10 epochs (turn {turn + 1})", train(dataset, ten, **options)))
            print(json.dumps(runs[-1]), flush=True)
    if DEVICE == "cuda":
        tf32 = train(dataset, ten.replace(precision="tf32"))
        runs.append(row("tf32 (PyTorch's step, TF32 products) 10 epochs", tf32))
        print(json.dumps(runs[-1]), flush=True)


def sweep(dataset, results: dict) -> None:
    """One block size at a time, the others at their best so far (3 epochs each, no health)."""
    three = TrainConfig(epochs=3, device=DEVICE)
    tried = results.setdefault("sweep", [])
    best = dict(triton_step.BLOCKS)
    for part, options in (("forward", FORWARD), ("update", UPDATE)):
        timed = []
        for blocks in options:
            triton_step.BLOCKS.update(best, **{part: blocks})
            trainer = train(dataset, three, health=False)
            entry = {"blocks": dict(triton_step.BLOCKS), "warps": triton_step.NUM_WARPS}
            entry.update(row(f"{part} {blocks}", trainer))
            tried.append(entry)
            print(json.dumps(entry), flush=True)
            if trainer.steps.kernels_on:
                timed.append((entry["median_ms"], blocks))
        if timed:
            best[part] = min(timed)[1]
    timed = []
    for warps in WARPS:
        triton_step.BLOCKS.update(best)
        triton_step.NUM_WARPS = warps
        trainer = train(dataset, three, health=False)
        entry = {"blocks": dict(best), "warps": warps}
        entry.update(row(f"warps {warps}", trainer))
        tried.append(entry)
        print(json.dumps(entry), flush=True)
        if trainer.steps.kernels_on:
            timed.append((entry["median_ms"], warps))
    triton_step.NUM_WARPS = min(timed)[1] if timed else 4
    triton_step.BLOCKS.update(best)
    results["best"] = {"blocks": best, "warps": triton_step.NUM_WARPS}
    ten = train(dataset, TrainConfig(epochs=10, device=DEVICE))
    results["best"].update(row("best blocks, 10 epochs", ten))


def profile(dataset, out: Path, results: dict) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiled

    trainer = Trainer(TrainConfig(epochs=1, device=DEVICE), dataset, sync_free=True)
    trainer.run()  # compiled, verified and captured
    trainer.config = trainer.config.replace(epochs=2)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEVICE == "cuda" else [])
    with profiled(activities=activities) as p:
        trainer.run()
        sync()
    averages = p.key_averages()
    by = "self_device_time_total" if DEVICE == "cuda" else "self_cpu_time_total"
    table = averages.table(sort_by=by, row_limit=30)
    (out / "gpu_kernels_profile.txt").write_text(table)
    print(table, flush=True)
    kernels = [e for e in averages if e.device_type == torch.autograd.DeviceType.CUDA]
    results["profile"] = {
        "kernels_on": trainer.steps.kernels_on,
        "epoch_ms": trainer.history[-1].seconds * 1e3,
        "cuda_ms": sum(e.self_device_time_total for e in kernels) / 1e3,
        "launches": sum(e.count for e in kernels),
        "batches": trainer.batches_per_epoch,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="where files go")
    parser.add_argument("--turns", type=int, default=3, help="speed turns (default 3)")
    parser.add_argument("--no-sweep", action="store_true", help="keep the default blocks")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("gpu_kernels: no CUDA device", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "none (cpu)"
    results: dict = {"torch": torch.__version__, "gpu": gpu}
    try:
        import triton

        results["triton"] = triton.__version__
    except Exception as exc:  # reported: the kernels will say why they are off
        results["triton"] = f"does not import: {exc}"
    started = time.perf_counter()
    dataset = data_mod.load(args.data_dir, allow_download=False)
    results["load_s"] = time.perf_counter() - started
    print(json.dumps(results), flush=True)
    steps = [
        ("agree", lambda: agreement(dataset, results)),
        ("divergence", lambda: divergence(dataset, results)),
        ("speed", lambda: speed(dataset, results, args.turns)),
    ]
    if not args.no_sweep:
        steps.append(("sweep", lambda: sweep(dataset, results)))
    steps.append(("profile", lambda: profile(dataset, out, results)))
    for name, step in steps:
        began = time.perf_counter()
        try:
            step()
        except Exception:
            results.setdefault("errors", {})[name] = traceback.format_exc()[-2000:]
            print(f"ERROR in {name}:\n{traceback.format_exc()}", flush=True)
        results.setdefault("section_s", {})[name] = round(time.perf_counter() - began, 1)
        (out / "gpu_kernels.json").write_text(json.dumps(results, indent=1))
    print("SUMMARY", json.dumps({k: results.get(k) for k in ("gpu", "torch", "triton")}))
    for entry in results.get("speed", []) + [results.get("best", {})]:
        if entry:
            print(
                f"{entry['name']:52} {entry['median_ms']:8.2f} ms/epoch  final {entry['final']}"
                f"  kernels {entry['kernels_on']} {entry['kernels_error'][:80]}"
            )
    print("agree", json.dumps(results.get("agree", {}).get("params_apart")))
    print("divergence", json.dumps(results.get("divergence")))
    print("profile", json.dumps(results.get("profile")))
    print("errors", list(results.get("errors", {})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
