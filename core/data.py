"""Fashion-MNIST: find it, read and validate the IDX files, hold it as tensors on one device.

The seed loads the data through torchvision's ``FashionMNIST`` + ``ToTensor`` + ``DataLoader``.
Here the four IDX files are read once into tensors (``ToTensor`` is ``uint8 / 255``), and batches
are slices of a seeded permutation: no DataLoader, no per-image work.
"""

from __future__ import annotations

import hashlib
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from .data_files import (  # noqa: F401  (where the files lie: torch-free, for the launch)
    DEBIAN_DIR,
    FILES,
    DataError,
    _find_in,
    cache_dir,
    how_to_provide,
    locate,
    read_bytes,
)

# d2l.get_fashion_mnist_labels
CLASS_NAMES = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIDE = 28
NUM_INPUTS = IMAGE_SIDE * IMAGE_SIDE
VAL_SEED = 0  # draws the validation split: one fixed choice for every run
_MAGIC = {3: 0x00000803, 1: 0x00000801}  # unsigned bytes, 3-d images / 1-d labels


def read_idx(path: Path, dims: int) -> torch.Tensor:
    """Read one IDX file of unsigned bytes with ``dims`` dimensions, validating it on the way."""
    try:
        raw = read_bytes(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic != _MAGIC[dims]:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08x}, expected 0x{_MAGIC[dims]:08x}"
            f" ({'images' if dims == 3 else 'labels'})"
        )
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    expected = 1
    for size in shape:
        expected *= size
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: header says {'x'.join(map(str, shape))} = {expected} bytes of data,"
            f" the file holds {len(raw) - header}"
        )
    if dims == 3 and shape[1:] != [IMAGE_SIDE, IMAGE_SIDE]:
        raise DataError(f"{path}: images are {shape[1]}x{shape[2]}, expected 28x28")
    if shape[0] == 0:
        raise DataError(f"{path}: holds no items")
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8, offset=header).reshape(shape)


def read_split(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if len(labels) != len(images):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images")
    top = int(labels.max())
    if top >= NUM_CLASSES:
        raise DataError(f"{labels_path}: label {top} is out of range 0-9")
    return images, labels.long()


def download(progress: bool = True) -> dict[str, Path]:
    """Fetch the data with torchvision into the cache dir, or raise DataError saying how else."""
    try:
        from torchvision.datasets import FashionMNIST
    except Exception as exc:  # torchvision absent, or built for another torch
        raise DataError(f"{how_to_provide()}\n(torchvision is not usable here: {exc})") from None
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    print(f"Downloading Fashion-MNIST into {root} ...", file=sys.stderr)
    try:
        for train in (True, False):
            FashionMNIST(str(root), train=train, download=True)
    except Exception as exc:  # offline, proxy, disk full...
        raise DataError(f"{how_to_provide()}\n(the download failed: {exc})") from None
    found = _find_in(root)
    if found is None:
        raise DataError(f"{how_to_provide()}\n(the download left no files in {root})")
    return found


def to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """``ToTensor``'s arithmetic, uint8 -> float32 / 255, in one pass on the pixels' device."""
    return torch.div(pixels, 255)  # a new float32 tensor, whatever ``pixels`` is


@dataclass(frozen=True)
class FashionMNIST:
    """The whole dataset in memory, on ``device``: the images as flat uint8 rows (converted
    batch by batch: see ``train_batch``, ``ShuffledEpoch`` and the trainer's ``evaluate``),
    int64 labels. ``test_pixels`` keeps the uint8 test images on the CPU for drawing.
    """

    train_pixels: torch.Tensor
    train_y: torch.Tensor
    test_flat: torch.Tensor
    test_y: torch.Tensor
    test_pixels: torch.Tensor
    source: str
    # With a validation split (``holdout``): the held-out training images, as the test set's
    # uint8 rows, and the whole dataset they came from.
    val_flat: torch.Tensor | None = None
    val_y: torch.Tensor | None = None
    whole: FashionMNIST | None = None

    def train_batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``idx`` as ``ToTensor`` makes them, and their labels. Gathering the uint8 rows
        and converting them reads a quarter of the memory that gathering stored floats does
        (the gather is a random read from a 47 MB table: memory-bound)."""
        return to_unit(self.train_pixels.index_select(0, idx)), self.train_y.index_select(0, idx)

    @property
    def fingerprint(self) -> str:
        """Identifies the dataset in a checkpoint: sizes plus a hash of the test labels (of the
        whole dataset, whatever is held out of it)."""
        if self.whole is not None:
            return self.whole.fingerprint
        digest = hashlib.sha256(self.test_y.cpu().numpy().tobytes()).hexdigest()[:16]
        return f"{len(self.train_y)}/{len(self.test_y)}/{digest}"

    @property
    def held_out(self) -> int:
        return 0 if self.val_y is None else len(self.val_y)

    def holdout(self, count: int) -> FashionMNIST:
        """The whole dataset with ``count`` training images set aside as a validation set.

        The same images for every run (``randperm`` seeded ``VAL_SEED``, not the run's seed):
        runs and sweep members are compared on one validation set. The rest keep their order.
        Asked of a split dataset, it splits the whole one again."""
        whole = self.whole or self
        if count == self.held_out:
            return self
        if count == 0:
            return whole
        total = len(whole.train_y)
        if not 0 < count < total:
            raise ValueError(f"{count:,} of {total:,} training images leave none to train on")
        order = torch.randperm(total, generator=torch.Generator().manual_seed(VAL_SEED))
        val = order[:count].sort().values.to(whole.train_y.device)
        kept = order[count:].sort().values.to(whole.train_y.device)
        return FashionMNIST(
            whole.train_pixels.index_select(0, kept),
            whole.train_y.index_select(0, kept),
            whole.test_flat,
            whole.test_y,
            whole.test_pixels,
            whole.source,
            val_flat=whole.train_pixels.index_select(0, val),
            val_y=whole.train_y.index_select(0, val),
            whole=whole,
        )

    def describe_split(self) -> str:
        """The validation split in words, for a run's report."""
        if self.whole is None:
            return "no validation split"
        total = len(self.whole.train_y)
        return (
            f"validation: {self.held_out:,} of the {total:,} training images held out, the same "
            f"for every run (randperm seeded {VAL_SEED}); {len(self.train_y):,} to train on"
        )

    @classmethod
    def from_uint8(
        cls,
        train_images: torch.Tensor,
        train_labels: torch.Tensor,
        test_images: torch.Tensor,
        test_labels: torch.Tensor,
        device: torch.device | str = "cpu",
        source: str = "memory",
    ) -> FashionMNIST:
        def flat(images: torch.Tensor) -> torch.Tensor:
            return images.to(device).reshape(len(images), NUM_INPUTS)

        return cls(
            train_pixels=flat(train_images).to(torch.uint8).contiguous(),
            train_y=train_labels.long().to(device),
            test_flat=flat(test_images).to(torch.uint8).contiguous(),
            test_y=test_labels.long().to(device),
            test_pixels=test_images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).to(torch.uint8).cpu(),
            source=source,
        )

    def to(self, device: torch.device | str) -> FashionMNIST:
        if self.whole is not None:
            return self.whole.to(device).holdout(self.held_out)
        return FashionMNIST(
            self.train_pixels.to(device),
            self.train_y.to(device),
            self.test_flat.to(device),
            self.test_y.to(device),
            self.test_pixels,
            self.source,
        )


class ShuffledEpoch:
    """The training set in an epoch's shuffled order ``perm``, batch by batch.

    The rows are gathered ahead, ``CHUNK_ROWS`` at a time, into buffers kept from epoch to
    epoch, so a batch is a contiguous slice. Measured on a 2-core CPU (the rows are a random
    read from a 47 MB table): gathered batch by batch between the matrix products they took
    12-15 ms an epoch, in one go about 6 (with a fresh buffer each epoch, page faults added
    18 ms); whole epochs, alternating with the old way in one process, 1.7% faster. Chunks of
    512 to 16384 rows and whole epochs timed the same; a chunk keeps 3.2 MB instead of 47.
    The batches are the tensors ``train_batch`` makes for the same rows."""

    CHUNK_ROWS = 4096

    def __init__(self, data: FashionMNIST) -> None:
        self.data = data
        self.perm = data.train_y.new_empty(0)
        # Made by the first gather: a trainer whose GPU step gathers on the device never asks.
        self._pixels = data.train_pixels.new_empty((0, data.train_pixels.shape[1]))
        self._labels = data.train_y.new_empty(0)
        self._lo = self._hi = 0  # the rows of ``perm`` in the buffers

    def start(self, perm: torch.Tensor) -> None:
        """A new order; nothing is gathered until a batch asks."""
        self.perm, self._lo, self._hi = perm, 0, 0

    def batch(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``perm[start:stop]``: images as ``ToTensor`` makes them, and their labels."""
        pixels, labels = self.pixels(start, stop)
        return to_unit(pixels), labels

    def pixels(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The same rows as uint8 pixels (contiguous), for a step that converts them itself."""
        stop = min(stop, len(self.perm))
        if not (self._lo <= start and stop <= self._hi):
            self._gather(start, max(start + self.CHUNK_ROWS, stop))
        lo, hi = start - self._lo, stop - self._lo
        return self._pixels[lo:hi], self._labels[lo:hi]

    def _gather(self, start: int, stop: int) -> None:
        idx = self.perm[start:stop]
        if len(idx) > len(self._pixels):  # the first gather, or a batch larger than a chunk
            table = self.data.train_pixels
            rows = max(len(idx), min(self.CHUNK_ROWS, len(table)))
            self._pixels = table.new_empty((rows, table.shape[1]))
            self._labels = self.data.train_y.new_empty(rows)
        torch.index_select(self.data.train_pixels, 0, idx, out=self._pixels[: len(idx)])
        torch.index_select(self.data.train_y, 0, idx, out=self._labels[: len(idx)])
        self._lo, self._hi = start, start + len(idx)


def load(
    data_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
    allow_download: bool = True,
) -> FashionMNIST:
    """Find, read and validate Fashion-MNIST, downloading it only when no copy is found."""
    files = locate(data_dir)
    if files is None:
        if not allow_download:
            raise DataError(how_to_provide())
        files = download()
    train_x, train_y = read_split(files["train_images"], files["train_labels"])
    test_x, test_y = read_split(files["test_images"], files["test_labels"])
    source = str(files["train_images"].parent)
    return FashionMNIST.from_uint8(train_x, train_y, test_x, test_y, device, source)
