"""Shared fixtures: small learnable data the tests make themselves, and the real Fashion-MNIST."""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

# Under pytest-xdist (the fast tier runs ``-n 2``) each worker's torch gets its share of the
# cores: two workers each with a team of two threads on a 2-core machine spun against each
# other, and the fast tier took 244 s instead of 102 s. Set before torch is imported.
if workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(workers))))
# The GPU path's Triton kernels are tested on CPU tensors in Triton's interpreter, which is
# chosen when triton is first imported (tests/core/test_triton_step.py; core/triton_step.py
# runs them on the CPU only when a test asks). The CUDA test of them runs its own process.
os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from mlp_tui.core import data, native  # noqa: E402

REAL_DIR = data.DEBIAN_DIR


def make_images(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class c lights rows 2c..2c+3 on a noisy background: learnable in a few epochs."""
    images, labels = _made_images(count, seed)
    return images.clone(), labels.clone()


@functools.lru_cache(maxsize=8)
def _made_images(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Made once a session per (count, seed): the masked adds take 0.1-0.5 s, and most tests
    write the same tiny data set into their own folder."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % data.NUM_CLASSES
    labels = labels[torch.randperm(count, generator=g)]
    images = torch.randint(0, 90, (count, 28, 28), generator=g)
    for c in range(data.NUM_CLASSES):
        rows = slice(2 * c + 4, 2 * c + 8)
        images[labels == c, rows, 4:24] += 150
    return images.clamp(0, 255).to(torch.uint8), labels.to(torch.uint8)


def write_idx(path: Path, array: torch.Tensor) -> None:
    """Write a uint8 tensor as an IDX file, gzipped when the name ends in .gz."""
    path.write_bytes(idx_bytes(array, gz=path.suffix == ".gz"))


def idx_bytes(array: torch.Tensor, gz: bool) -> bytes:
    magic = {3: 0x00000803, 1: 0x00000801}[array.dim()]  # unsigned bytes: images / labels
    header = magic.to_bytes(4, "big") + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    body = header + array.to(torch.uint8).contiguous().numpy().tobytes()
    return gzip.compress(body, mtime=0) if gz else body


def write_dataset(folder: Path, train: int = 600, test: int = 200, gz: bool = True) -> Path:
    """The four IDX files of a learnable data set, into ``folder`` (a test may damage them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in dataset_files(train, test, gz).items():
        (folder / name).write_bytes(body)
    return folder


@functools.lru_cache(maxsize=8)
def dataset_files(train: int, test: int, gz: bool) -> dict[str, bytes]:
    """The files' names and bytes, made once a session for each size."""
    suffix = ".gz" if gz else ""
    files = {}
    for split, count, seed in (("train", train, 1), ("t10k", test, 2)):
        images, labels = _made_images(count, seed)
        files[f"{split}-images-idx3-ubyte{suffix}"] = idx_bytes(images, gz)
        files[f"{split}-labels-idx1-ubyte{suffix}"] = idx_bytes(labels, gz)
    return files


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "tiny")


@pytest.fixture
def tiny_data(tiny_dir: Path) -> data.FashionMNIST:
    return data.load(tiny_dir)


@pytest.fixture(scope="session")
def _native_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build of the compiled CPU step for the session's processes (native.py)."""
    return tmp_path_factory.mktemp("native")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _native_cache: Path) -> None:
    """No test reads the developer's cache, env or data dir by accident."""
    monkeypatch.delenv("MLP_TUI_DATA", raising=False)
    monkeypatch.delenv(native.ENV_SWITCH, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv(native.CACHE_ENV, str(_native_cache))


@pytest.fixture
def pytorch_cpu_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trainers built in the test run the fused engine's PyTorch step, not the compiled one:
    for tests that hold another path (the device path's bookkeeping, the roofline's list of
    products) to it operation by operation."""
    monkeypatch.setattr(native, "load", lambda: None)


@pytest.fixture(scope="session")
def real_data() -> data.FashionMNIST:
    """The real Fashion-MNIST from Debian's package; CI installs it, so there it must exist."""
    if not (REAL_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide the real data in {REAL_DIR}")
        pytest.skip(f"real Fashion-MNIST not installed in {REAL_DIR}")
    return data.load(REAL_DIR)


@pytest.fixture(scope="session")
def fresh_interpreter(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What a fresh interpreter loaded at each import-hygiene step (tests/fresh_interpreter.py),
    taken once for the session."""
    from tests.fresh_interpreter import take_the_steps

    folder = tmp_path_factory.mktemp("hygiene")
    return take_the_steps(folder, write_dataset(folder / "tiny"))
