"""Finding and validating Fashion-MNIST: every bad file is named, nothing falls back silently."""

from __future__ import annotations

import gzip
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from mlp_tui.core import data, data_files
from mlp_tui.core.cli import main
from mlp_tui.core.data import to_unit

from tests.conftest import make_images, write_dataset, write_idx
from tests.core._helpers import TRACEBACK, run_cli, run_main

# d2l.get_fashion_mnist_labels
D2L_LABELS = [
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
]  # fmt: skip


def test_class_names_are_d2ls():
    assert list(data.CLASS_NAMES) == D2L_LABELS


# ------------------------------------------------------------------------------ where it looks
@pytest.fixture
def four_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A copy of the data in each place ``locate`` searches, told apart by their train sizes."""
    places = {
        "data_dir": tmp_path / "explicit",
        "env": tmp_path / "env",
        "cache": data.cache_dir(),  # under the test's XDG_CACHE_HOME
        "debian": tmp_path / "debian",
    }
    for size, folder in zip((100, 110, 120, 130), places.values()):
        write_dataset(folder, train=size, test=20)
    monkeypatch.setattr(data_files, "DEBIAN_DIR", places["debian"])
    monkeypatch.setenv("MLP_TUI_DATA", str(places["env"]))
    return places


def found_in(data_dir: Path | None = None) -> Path:
    return data.locate(data_dir)["train_images"].parent


def test_search_order_is_data_dir_env_cache_debian(four_places, monkeypatch):
    assert found_in(four_places["data_dir"]) == four_places["data_dir"]
    assert found_in() == four_places["env"]
    monkeypatch.delenv("MLP_TUI_DATA")
    assert found_in() == four_places["cache"]
    shutil.rmtree(four_places["cache"])
    assert found_in() == four_places["debian"]
    assert len(data.load().train_y) == 130
    shutil.rmtree(four_places["debian"])
    assert data.locate() is None


def test_cache_dir_follows_xdg_cache_home(tmp_path):
    assert data.cache_dir() == tmp_path / "cache" / "mlp-tui" / "fashion-mnist"


@pytest.mark.parametrize("label", ["--data-dir", "MLP_TUI_DATA"])
def test_a_named_folder_without_the_data_is_an_error_not_a_fallback(four_places, label, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data.DataError) as err:
        if label == "--data-dir":
            data.locate(empty)
        else:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("MLP_TUI_DATA", str(empty))
                data.locate()
    assert str(err.value).startswith(f"{label}: {empty} does not hold the Fashion-MNIST files")
    assert "train-images-idx3-ubyte" in str(err.value)


def test_gzipped_and_raw_files_give_the_same_tensors(tmp_path):
    zipped = data.load(write_dataset(tmp_path / "gz", gz=True))
    raw = data.load(write_dataset(tmp_path / "raw", gz=False))
    for name in ("train_pixels", "train_y", "test_flat", "test_y", "test_pixels"):
        assert torch.equal(getattr(zipped, name), getattr(raw, name))
    assert zipped.fingerprint == raw.fingerprint
    images, labels = make_images(600, 1)
    assert torch.equal(zipped.train_y, labels.long())
    assert torch.equal(to_unit(zipped.train_pixels), images.reshape(600, 784).float() / 255)
    assert zipped.train_pixels.dtype == torch.uint8 and zipped.test_pixels.dtype == torch.uint8


def test_a_batch_is_totensor_of_its_rows_bit_for_bit(tiny_data):
    """The trainer gathers uint8 rows and converts them per batch; the values must be exactly
    those of converting the whole set first, as ToTensor does item by item."""
    assert tiny_data.train_pixels.dtype == torch.uint8
    assert tiny_data.train_pixels.shape == (len(tiny_data.train_y), 784)
    idx = torch.randperm(len(tiny_data.train_y), generator=torch.Generator().manual_seed(3))[:77]
    X, y = tiny_data.train_batch(idx)
    assert X.dtype == torch.float32 and X.shape == (77, 784)
    assert torch.equal(X, to_unit(tiny_data.train_pixels)[idx])
    assert torch.equal(X, tiny_data.train_pixels[idx].float() / 255)
    assert torch.equal(y, tiny_data.train_y[idx])
    every_value = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(data.to_unit(every_value), every_value.float() / 255)


def test_an_epoch_gathered_ahead_gives_the_batches_of_train_batch(tiny_data, monkeypatch):
    """The trainer's batches come from rows gathered a chunk at a time; whatever the chunk
    and batch sizes, each batch must be train_batch of the same rows, bit for bit."""
    monkeypatch.setattr(data.ShuffledEpoch, "CHUNK_ROWS", 100)
    epoch = data.ShuffledEpoch(tiny_data)
    assert epoch._pixels.numel() == 0  # nothing is held before a batch asks
    for seed, size in ((1, 64), (2, 256), (3, 100), (4, 7)):
        perm = torch.randperm(len(tiny_data.train_y), generator=torch.Generator().manual_seed(seed))
        epoch.start(perm)
        assert epoch.perm is perm
        for start in range(0, len(perm), size):
            X, y = epoch.batch(start, start + size)
            want_X, want_y = tiny_data.train_batch(perm[start : start + size])
            assert torch.equal(X, want_X) and torch.equal(y, want_y)
    X, y = epoch.batch(0, 10)  # rows before the chunk in hand (a replayed batch): gathered again
    assert torch.equal(X, tiny_data.train_batch(perm[0:10])[0])


def test_torchvisions_folder_layout_is_found(tmp_path):
    write_dataset(tmp_path / "root" / "FashionMNIST" / "raw", gz=False)
    assert found_in(tmp_path / "root") == tmp_path / "root" / "FashionMNIST" / "raw"
    assert len(data.load(tmp_path / "root").train_y) == 600


# ------------------------------------------------------------------------------ bad files
def rewrite(name: str, body: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    """A corruption: replace the (decompressed) content of one file; returns the file's path."""

    def corrupt(folder: Path) -> Path:
        path = folder / f"{name}.gz"
        path.write_bytes(gzip.compress(body(gzip.decompress(path.read_bytes())), mtime=0))
        return path

    return corrupt


def replace_file(name: str, raw: bytes) -> Callable[[Path], Path]:
    def corrupt(folder: Path) -> Path:
        path = folder / f"{name}.gz"
        path.write_bytes(raw)
        return path

    return corrupt


def truncate_gz(folder: Path) -> Path:
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:500])
    return path


def remove(folder: Path) -> Path:
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.unlink()
    return Path("t10k-labels-idx1-ubyte")


def write_tensor(name: str, tensor: torch.Tensor) -> Callable[[Path], Path]:
    def corrupt(folder: Path) -> Path:
        path = folder / f"{name}.gz"
        write_idx(path, tensor)
        return path

    return corrupt


def raw_random_bytes(folder: Path) -> Path:
    for gz in folder.glob("*.gz"):  # the same data, uncompressed, then one file of noise
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(random.Random(1).randbytes(3000))
    return path


def labels_as_images(folder: Path) -> Path:
    path = folder / "train-images-idx3-ubyte.gz"
    shutil.copy(folder / "train-labels-idx1-ubyte.gz", path)
    return path


labels_with_a_10 = torch.arange(600) % 10
labels_with_a_10[17] = 10

BAD_FILES = {
    # case: (corruption, what the message says besides the file)
    "missing file": (remove, "missing: t10k-labels-idx1-ubyte"),
    "truncated gz": (truncate_gz, "cannot be read"),
    "random bytes in a .gz": (
        replace_file("train-labels-idx1-ubyte", random.Random(0).randbytes(5000)),
        "cannot be read",
    ),
    "random bytes, not gzipped": (raw_random_bytes, "wrong magic number"),
    "wrong magic (labels named as images)": (labels_as_images, "wrong magic number"),
    "header promises more than the file holds": (
        rewrite("t10k-images-idx3-ubyte", lambda b: b[:-100]),
        "the file holds",
    ),
    "labels out of range": (write_tensor("train-labels-idx1-ubyte", labels_with_a_10), "label 10"),
    "fewer labels than images": (
        write_tensor("train-labels-idx1-ubyte", torch.zeros(599, dtype=torch.uint8)),
        "599 labels for 600 images",
    ),
    "wrong image size": (
        write_tensor("train-images-idx3-ubyte", torch.zeros(600, 27, 28, dtype=torch.uint8)),
        "images are 27x28, expected 28x28",
    ),
    "no items": (
        write_tensor("t10k-labels-idx1-ubyte", torch.zeros(0, dtype=torch.uint8)),
        "holds no items",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_is_named_with_what_is_wrong(tiny_dir, case):
    corrupt, problem = BAD_FILES[case]
    culprit = corrupt(tiny_dir)
    with pytest.raises(data.DataError) as err:
        data.load(tiny_dir)
    message = str(err.value)
    assert str(culprit) in message and problem in message
    assert "\n" not in message


@pytest.mark.parametrize("case", BAD_FILES)
def test_the_cli_reports_a_bad_data_dir_in_one_line(tiny_dir, case, capsys):
    corrupt, problem = BAD_FILES[case]
    culprit = corrupt(tiny_dir)
    code = main(["--headless", "--data-dir", str(tiny_dir), "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(culprit) in err and problem in err


def test_the_real_script_reports_a_truncated_file_without_a_traceback(tiny_dir):
    culprit = truncate_gz(tiny_dir)
    result = run_cli("--headless", "--data-dir", str(tiny_dir), "--device", "cpu")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"mlp-tui: {culprit}: cannot be read")
    assert result.stderr.count("\n") == 1 and TRACEBACK not in result.stderr


# ------------------------------------------------------------------------------ no data at all
WAYS = ("--data-dir", "MLP_TUI_DATA", "apt-get install dataset-fashion-mnist", "torchvision")


def test_no_data_anywhere_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data_files, "DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.setitem(sys.modules, "torchvision", None)  # unusable, as on a broken install
    with pytest.raises(data.DataError) as err:
        data.load()
    message = str(err.value)
    assert all(way in message for way in WAYS)
    assert str(data.cache_dir()) in message
    assert not data.cache_dir().exists()  # nothing was downloaded or half-created


def test_the_cli_without_any_data_exits_2_with_the_ways_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data_files, "DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.setitem(sys.modules, "torchvision", None)  # unusable, whatever this machine has
    result = run_main("--headless", "--device", "cpu")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("mlp-tui: Fashion-MNIST was not found.")
    assert all(way in result.stderr for way in WAYS)
    assert TRACEBACK not in result.stderr
