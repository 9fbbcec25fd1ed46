"""GPU check: correctness of the sync-free/graph path against the CPU and the eager GPU path,
divergence on the GPU, and seconds per epoch of each path. One call, one table. It reaches into
the trainer (``steps``, ``net.params``, ``batch_losses``) to compare the paths.

    python benchmarks/gpu_check.py cuda [DATA_DIR]   # results and profile.txt go to $OUT

Its graph path is PyTorch's step in the CUDA graph (``kernels=False``); the fused Triton kernels
have their own check, ``benchmarks/gpu_kernels.py``.
"""

import json
import os
import statistics
import sys
import time
import traceback

import torch
from mlp_tui.core import data as data_mod
from mlp_tui.core.config import TrainConfig
from mlp_tui.core.events import RunState
from mlp_tui.core.roofline import Roofline
from mlp_tui.core.trainer import Trainer

DEV = sys.argv[1] if len(sys.argv) > 1 else "cuda"
OUT = os.environ.get("OUT", "/tmp")
os.makedirs(OUT, exist_ok=True)
results = {"device": DEV, "torch": torch.__version__}
if DEV == "cuda":
    results["gpu"] = torch.cuda.get_device_name(0)
print(results, flush=True)

t = time.perf_counter()
data = data_mod.load(sys.argv[2] if len(sys.argv) > 2 else None)
results["load_s"] = time.perf_counter() - t


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


def run(name, config, **kw):
    t0 = time.perf_counter()
    trainer = Trainer(config, data, **kw)
    state = trainer.run()
    sync()
    wall = time.perf_counter() - t0
    secs = [r.seconds for r in trainer.history]
    kept = secs[1:] if len(secs) > 2 else secs
    row = {
        "name": name,
        "state": state.name,
        "median_s": statistics.median(kept) if kept else None,
        "min_s": min(kept) if kept else None,
        "first_s": secs[0] if secs else None,
        "wall_s": wall,
        "final": [
            (r.epoch, round(r.train_loss, 6), round(r.train_acc, 6), round(r.test_acc, 4))
            for r in trainer.history[-1:]
        ],
        "graph_error": getattr(trainer.steps, "graph_error", ""),
        "graphs_on": getattr(trainer.steps, "graphs", None),
    }
    print(json.dumps(row), flush=True)
    results.setdefault("runs", []).append(row)
    return trainer


def guard(label, fn):
    try:
        fn()
    except Exception:
        results.setdefault("errors", []).append(label + ": " + traceback.format_exc()[-1500:])
        print("ERROR", label, traceback.format_exc(), flush=True)


def diff(a, b):
    return max(
        float((x.detach().cpu().double() - y.detach().cpu().double()).abs().max())
        for x, y in zip(a.net.params, b.net.params)
    )


one = TrainConfig(epochs=1)


def correctness():
    cpu = run("cpu eager 1ep", one.replace(device="cpu"), sync_free=False)
    eager = run("gpu eager-sync 1ep", one.replace(device=DEV), sync_free=False)
    nograph = run(
        "gpu sync-free nographs 1ep", one.replace(device=DEV), sync_free=True, graphs=False
    )
    graph = run("gpu sync-free graphs 1ep", one.replace(device=DEV), sync_free=True, kernels=False)
    results["check"] = {
        "graph_vs_nograph_maxdiff": diff(graph, nograph),
        "graph_vs_nograph_losses_equal": graph.batch_losses == nograph.batch_losses,
        "nograph_vs_eager_maxdiff": diff(nograph, eager),
        "nograph_vs_eager_losses_equal": nograph.batch_losses == eager.batch_losses,
        "gpu_vs_cpu_maxdiff": diff(graph, cpu),
        "gpu_vs_cpu_loss": [graph.history[0].train_loss, cpu.history[0].train_loss],
        "gpu_vs_cpu_testacc": [graph.history[0].test_acc, cpu.history[0].test_acc],
    }
    print(json.dumps(results["check"]), flush=True)


def divergence():
    out = {}
    for label, kw in (
        ("eager", {"sync_free": False}),
        ("graphs", {"sync_free": True, "kernels": False}),
    ):
        import threading

        seen = threading.Event()
        tr = Trainer(
            TrainConfig(epochs=2, lr=1000.0, device=DEV),
            data,
            lambda e, seen=seen: (
                seen.set() if getattr(e, "state", None) is RunState.DIVERGED else None
            ),
            **kw,
        )
        th = threading.Thread(target=tr.run, daemon=True)
        th.start()
        ok = seen.wait(60)
        state, reason = tr.state, tr.reason
        tr.stop()
        th.join(30)
        out[label] = (
            ok,
            state.name,
            reason,
            tr.step_count,
            all(bool(torch.isfinite(p).all()) for p in tr.net.params),
        )
    out["same_reason"] = out["eager"][2] == out["graphs"][2]
    results["divergence"] = out
    print(json.dumps(out), flush=True)


def momentum():
    cfg = TrainConfig(epochs=2, momentum=0.9, weight_decay=1e-4, device=DEV)
    a = run("gpu eager-sync momentum 2ep", cfg, sync_free=False)
    b = run("gpu sync-free momentum 2ep", cfg, sync_free=True)
    results["momentum_maxdiff"] = diff(a, b)
    print("momentum maxdiff", results["momentum_maxdiff"], flush=True)


def speed():
    ten = TrainConfig(epochs=10, device=DEV)
    run("gpu sync-free graphs 10ep", ten, sync_free=True, kernels=False)
    run("gpu sync-free nographs 10ep", ten, sync_free=True, graphs=False)
    run("gpu eager-sync 10ep", ten, sync_free=False)
    run("gpu sync-free graphs 10ep (again)", ten, sync_free=True, kernels=False)
    run(
        "gpu autograd sync-free 5ep",
        TrainConfig(epochs=5, device=DEV, engine="autograd"),
        sync_free=True,
    )


def profile():
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as prof

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEV == "cuda" else [])
    tr = Trainer(TrainConfig(epochs=1, device=DEV), data, sync_free=True)
    tr.run()  # warm: graphs captured
    tr.config = tr.config.replace(epochs=2)
    with prof(activities=acts) as p:
        tr.run()
        sync()
    table = p.key_averages().table(sort_by="cpu_time_total", row_limit=18)
    print(table, flush=True)
    with open(os.path.join(OUT, "profile.txt"), "w") as f:
        f.write(table)
        f.write("\n\n")
        f.write(
            p.key_averages().table(
                sort_by="self_cuda_time_total" if DEV == "cuda" else "self_cpu_time_total",
                row_limit=25,
            )
        )


def lrchange():
    import threading

    out = {}
    for label, kw in (
        ("graphs", {"sync_free": True, "kernels": False}),
        ("nographs", {"sync_free": True, "graphs": False}),
        ("eager", {"sync_free": False}),
    ):
        paused = threading.Semaphore(0)

        def listen(e, paused=paused):
            if type(e).__name__ == "StateChanged" and e.state is RunState.PAUSED:
                paused.release()

        tr = Trainer(TrainConfig(epochs=3, device=DEV), data, listen, **kw)
        th = threading.Thread(target=tr.run, kwargs={"paused": True}, daemon=True)
        th.start()
        assert paused.acquire(timeout=30)
        tr.step(tr.batches_per_epoch // 2)
        assert paused.acquire(timeout=30)
        tr.update(lr=0.2)
        tr.step(tr.batches_per_epoch)  # crosses into epoch 2
        assert paused.acquire(timeout=30)
        tr.update(lr=0.05, batch_size=512)
        tr.resume()
        th.join(60)
        out[label] = tr
    results["lrchange"] = {
        "graphs_vs_nographs": diff(out["graphs"], out["nographs"]),
        "graphs_vs_eager": diff(out["graphs"], out["eager"]),
        "losses_equal": out["graphs"].batch_losses == out["nographs"].batch_losses,
        "lr_changes": [out[k].lr_changes for k in out],
        "final": [(k, out[k].history[-1].train_loss, out[k].history[-1].test_acc) for k in out],
    }
    print(json.dumps(results["lrchange"]), flush=True)


def roof():
    floor = Roofline(
        TrainConfig(device=DEV), len(data.train_y), len(data.test_y), torch.device(DEV)
    )
    results["roofline"] = {"per_shape_seconds": floor.per_shape_seconds, "note": floor.note()}
    print(json.dumps(results["roofline"]), flush=True)


for label, fn in (
    ("correctness", correctness),
    ("divergence", divergence),
    ("momentum", momentum),
    ("lrchange", lrchange),
    ("speed", speed),
    ("roofline", roof),
    ("profile", profile),
):
    guard(label, fn)

with open(os.path.join(OUT, "gpu_results.json"), "w") as f:
    json.dump(results, f, indent=1)
print("SUMMARY")
for row in results.get("runs", []):
    ms = row["median_s"] * 1e3 if row["median_s"] else float("nan")
    print(
        f"{row['name']:40s} {row['state']:9s} median {ms:8.2f} ms/epoch  first "
        f"{row['first_s'] * 1e3:8.1f} ms  final {row['final']} graphs={row['graphs_on']} "
        f"{row['graph_error'][:120]}"
    )
print("check", json.dumps(results.get("check")))
print("divergence", json.dumps(results.get("divergence")))
print("errors", len(results.get("errors", [])))
