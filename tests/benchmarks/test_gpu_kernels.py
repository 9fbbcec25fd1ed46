"""benchmarks/gpu_kernels.py, the GPU session's one call, taken through every step on the CPU
(PyTorch's step alone there): each section fills its part of the JSON, without an error, so
that the few minutes of a lent GPU are not lost to a typo."""

from __future__ import annotations

import json

from mlp_tui.core import triton_step

from benchmarks import gpu_kernels


def test_every_section_reports_on_the_cpu(tiny_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(triton_step, "BLOCKS", dict(triton_step.BLOCKS))
    args = ["--device", "cpu", "--data-dir", str(tiny_dir), "--out", str(tmp_path), "--turns", "1"]
    assert gpu_kernels.main(args) == 0
    results = json.loads((tmp_path / "gpu_kernels.json").read_text())
    assert "errors" not in results, results.get("errors")
    assert set(results["section_s"]) == {"agree", "divergence", "speed", "sweep", "profile"}
    assert results["agree"]["params_apart"] == 0.0  # PyTorch's step both times on the CPU
    assert results["agree"]["kernels"]["kernels_error"] == "no kernels for cpu"
    assert results["divergence"]["same"] and results["divergence"]["kernels"]["diverged"]
    assert [r["final"][0] for r in results["speed"]] == [10, 10, 10]
    assert len(results["sweep"]) == len(gpu_kernels.FORWARD) + len(gpu_kernels.UPDATE) + 3
    assert results["best"]["final"][0] == 10
    assert (tmp_path / "gpu_kernels_profile.txt").read_text().strip()
    assert "SUMMARY" in capsys.readouterr().out
