"""Export files read back as a user's tools would read them: CSV parsed, PNG decoded."""

from __future__ import annotations

import csv
import importlib.abc
import struct
import sys
import types
import zlib
from pathlib import Path

import pytest
import torch
from mlp_tui.core import analysis, export
from mlp_tui.core.checkpoint import CheckpointError
from mlp_tui.core.cli import main
from mlp_tui.core.data import CLASS_NAMES
from mlp_tui.core.events import Predictions


@pytest.fixture
def plain(monkeypatch):
    """Exports as where torchvision is missing, whatever this machine has."""
    monkeypatch.setitem(sys.modules, "torchvision", None)


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, colour type, inflated scanlines), checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body), tag
        chunks.append((tag, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert depth == 8
    raw = zlib.decompress(b"".join(body for tag, body in chunks if tag == b"IDAT"))
    channels = {0: 1, 2: 3}[colour]
    assert len(raw) == height * (1 + width * channels)
    return width, height, colour, raw


def unfiltered_rgb(width: int, height: int, raw: bytes) -> torch.Tensor:
    rows = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(height, 1 + width * 3)
    assert (rows[:, 0] == 0).all()  # the plain writer uses no filters
    return rows[:, 1:].reshape(height, width, 3)


def test_csv_files_hold_the_runs_numbers(trained, tmp_path, plain):
    trainer, history = trained
    written = export.export_trainer(trainer, tmp_path / "out", history)
    assert [p.name for p in written] == list(export.FILES)

    metrics = read_csv(tmp_path / "out" / "metrics.csv")
    assert metrics[0] == [
        "epoch", "train_loss", "train_acc", "test_acc", "lr", "seconds", "examples_per_s",
    ]  # fmt: skip
    assert len(metrics) == 1 + len(trainer.history)
    for row, report in zip(metrics[1:], trainer.history):
        assert int(row[0]) == report.epoch
        assert float(row[1]) == report.train_loss and float(row[3]) == report.test_acc

    confusion = read_csv(tmp_path / "out" / "confusion.csv")
    assert confusion[0] == ["true\\predicted", *CLASS_NAMES]
    matrix = analysis.confusion_matrix(trainer.predict())
    assert [row[0] for row in confusion[1:]] == list(CLASS_NAMES)
    assert [[int(v) for v in row[1:]] for row in confusion[1:]] == matrix.tolist()
    correct = sum(int(confusion[1 + c][1 + c]) for c in range(10))
    assert correct / len(trainer.data.test_y) == trainer.history[-1].test_acc

    per_class = read_csv(tmp_path / "out" / "per_class.csv")
    assert per_class[0] == ["class", "images", "correct", "accuracy", "epoch_1", "epoch_2"]
    for c, row in enumerate(per_class[1:]):
        assert row[0] == CLASS_NAMES[c]
        assert (int(row[1]), int(row[2])) == (int(matrix[c].sum()), int(matrix[c, c]))
        assert float(row[3]) == pytest.approx(int(row[2]) / int(row[1]))
        assert [float(v) for v in row[4:]] == history.series(c)


def test_misclassified_png_shows_the_most_confident_mistakes_with_captions(
    trained, tmp_path, plain
):
    trainer, _ = trained
    export.export_trainer(trainer, tmp_path)
    width, height, colour, raw = decode_png((tmp_path / "misclassified.png").read_bytes())
    assert colour == 2
    wrong = trainer.predict().misclassified()
    shown = min(len(wrong), export.MISCLASSIFIED_LIMIT)
    rows = -(-shown // export.GRID_COLUMNS)
    header = 2 * (5 * export.FONT_ZOOM + 4) + 8
    tile_w, tile_h = 28 * export.IMAGE_ZOOM, 28 * export.IMAGE_ZOOM + 3 * 5 * export.FONT_ZOOM + 16
    assert height == header + rows * (tile_h + export.PADDING) + export.PADDING
    assert width >= export.GRID_COLUMNS * (tile_w + export.PADDING) + export.PADDING
    pixels = unfiltered_rgb(width, height, raw)
    top = header + export.PADDING
    first = pixels[top : top + tile_w, export.PADDING : export.PADDING + tile_w, 0]
    expected = trainer.data.test_pixels[int(wrong[0])].repeat_interleave(3, 0)
    assert torch.equal(first, expected.repeat_interleave(3, 1))
    caption = pixels[top + tile_w : top + tile_h, export.PADDING : export.PADDING + tile_w]
    green = (caption[..., 1].int() - caption[..., 0].int() > 80).sum()
    red = (caption[..., 0].int() - caption[..., 1].int() > 80).sum()
    assert green > 20 and red > 20  # a true label in green and a predicted one in red
    third = caption[16 + 10 * export.FONT_ZOOM :]  # the probability's own line, for every name
    assert (third[..., 0].int() - third[..., 1].int() > 80).sum() > 10


def test_a_long_class_name_keeps_its_probability(plain):
    """'ankle boot 87%' is wider than a tile: the probability goes on a line of its own."""
    pixels = torch.zeros(1, 28, 28, dtype=torch.uint8)
    probs = torch.full((1, 10), 0.01)
    probs[0, 9] = 0.91  # predicted ankle boot, truly a t-shirt
    predictions = Predictions(0, probs, torch.tensor([0]))
    (tile,) = export.misclassified_tiles(pixels, predictions)
    line = 5 * export.FONT_ZOOM
    probability = tile[:, 28 * export.IMAGE_ZOOM + 12 + 2 * line :]
    painted = probability[0, :line, 1 : 1 + export.text_width("91%")] > 0.5  # drawn at x=1
    assert torch.equal(painted, export.text_mask("91%"))
    assert export.percent(0.996) == ">99%" and export.percent(0.994) == "99%"


def test_confusion_png_is_a_coloured_grid(trained, tmp_path, plain):
    trainer, _ = trained
    export.export_trainer(trainer, tmp_path)
    width, height, colour, raw = decode_png((tmp_path / "confusion.png").read_bytes())
    assert colour == 2 and width > 10 * 44 and height > 10 * 44
    pixels = unfiltered_rgb(width, height, raw).int()
    assert ((pixels[..., 1] - pixels[..., 0]) > 60).any()  # green diagonal
    assert ((pixels[..., 0] - pixels[..., 1]) > 60).any()  # red mistakes


def test_png_writer_round_trips_gray_and_rgb():
    gray = torch.arange(12, dtype=torch.uint8).reshape(3, 4)
    width, height, colour, raw = decode_png(export.encode_png(gray))
    assert (width, height, colour) == (4, 3, 0)
    assert raw == b"".join(b"\x00" + bytes(row) for row in gray.tolist())
    rgb = torch.zeros(2, 5, 3, dtype=torch.uint8)
    rgb[1, 4] = torch.tensor([255, 128, 1])
    width, height, colour, raw = decode_png(export.encode_png(rgb))
    assert (width, height, colour) == (5, 2, 2)
    assert unfiltered_rgb(5, 2, raw)[1, 4].tolist() == [255, 128, 1]


def test_plain_grid_lays_tiles_out_as_torchvision_does():
    tiles = [torch.full((3, 4, 5), float(k) / 10) for k in range(10)]
    grid = export.plain_make_grid(tiles, nrow=8, padding=2, pad_value=1.0)
    assert grid.shape == (3, 2 * (4 + 2) + 2, 8 * (5 + 2) + 2)
    assert grid[0, 2, 2] == 0.0 and grid[0, 2 + 6, 2 + 7] == 0.9  # tile 9: row 1, column 1
    assert grid[0, 0, 0] == 1.0 and grid[0, 2 + 6, 2 + 2 * 7] == 1.0  # padding, empty slot
    assert export.plain_make_grid(tiles[:1], nrow=8, padding=2, pad_value=1.0) is tiles[0]


def fake_torchvision(monkeypatch, calls: list) -> None:
    """torchvision.utils as documented, its PNG written by Pillow."""
    image_module = pytest.importorskip("PIL.Image")
    utils = types.ModuleType("torchvision.utils")

    def make_grid(tensor, nrow=8, padding=2, pad_value=0.0, **kwargs):
        calls.append(("make_grid", len(tensor), nrow, padding, pad_value))
        return export.plain_make_grid(list(tensor), nrow, padding, pad_value)

    def save_image(tensor, fp, format=None, **kwargs):
        calls.append(("save_image", tuple(tensor.shape), format))
        arr = tensor.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8)
        image_module.fromarray(arr.numpy()).save(fp, format=format)

    utils.make_grid, utils.save_image = make_grid, save_image
    package = types.ModuleType("torchvision")
    package.utils = utils
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.utils", utils)


def test_torchvision_draws_the_same_pictures_when_it_imports(trained, tmp_path, monkeypatch):
    image_module = pytest.importorskip("PIL.Image")
    trainer, _ = trained
    calls: list = []
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "torchvision", None)
        export.export_trainer(trainer, tmp_path / "plain")
    fake_torchvision(monkeypatch, calls)
    export.export_trainer(trainer, tmp_path / "tv")

    wrong = min(len(trainer.predict().misclassified()), export.MISCLASSIFIED_LIMIT)
    assert calls[0] == ("make_grid", wrong, export.GRID_COLUMNS, export.PADDING, 1.0)
    assert [c[0] for c in calls[1:]] == ["save_image"] * 3  # misclassified, confusion, curves
    for name in ("misclassified.png", "confusion.png", "curves.png"):
        width, height, _, _ = decode_png((tmp_path / "tv" / name).read_bytes())
        with (
            image_module.open(tmp_path / "tv" / name) as tv,
            image_module.open(tmp_path / "plain" / name) as plain_png,
        ):
            assert tv.size == plain_png.size == (width, height)
            assert tv.convert("RGB").tobytes() == plain_png.convert("RGB").tobytes()


class BrokenTorchvision(importlib.abc.MetaPathFinder):
    """torchvision built for another torch: importing it raises RuntimeError, as here."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torchvision":
            raise RuntimeError("operator torchvision::nms does not exist")
        return None


def test_a_broken_torchvision_falls_back_to_the_plain_writer(monkeypatch):
    for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [BrokenTorchvision(), *sys.meta_path])
    assert export.image_tools() == (export.plain_make_grid, export.plain_png)


def test_no_mistakes_gives_a_captioned_empty_picture(plain):
    probs = torch.eye(10)
    predictions = Predictions(epoch=1, probs=probs, labels=torch.arange(10))
    image = export.misclassified_image(torch.zeros(10, 28, 28, dtype=torch.uint8), predictions)
    width, height, _, raw = decode_png(export.plain_png(image))
    assert height < 40 and width > 100
    assert (unfiltered_rgb(width, height, raw) < 128).any()  # the caption's dark text


def test_font_draws_known_glyphs_and_marks_unknown_ones():
    mask = export.text_mask("A", zoom=1)
    assert mask.int().tolist() == [[0, 1, 0], [1, 0, 1], [1, 1, 1], [1, 0, 1], [1, 0, 1]]
    assert export.text_mask("ab", zoom=2).shape == (10, export.text_width("ab"))
    assert torch.equal(export.text_mask("€", 1), export.text_mask("?", 1))


def test_an_unwritable_folder_fails_clearly_and_loses_nothing(trained, tmp_path, plain):
    trainer, _ = trained
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with pytest.raises(export.ExportError, match="is a file"):
        export.export_trainer(trainer, blocker)
    with pytest.raises(export.ExportError, match=r"cannot save .*nothing written"):
        export.export_trainer(trainer, blocker / "exports")
    assert blocker.read_text() == "a file, not a folder"


def test_a_failure_midway_keeps_earlier_files_intact(trained, tmp_path, monkeypatch, plain):
    trainer, _ = trained
    out = tmp_path / "out"
    out.mkdir()
    (out / "misclassified.png").write_bytes(b"yesterday's picture")
    real = export.write_atomic

    def disk_full_at_pictures(path, payload):
        if path.suffix == ".png":
            raise CheckpointError(f"cannot save {path}: No space left on device")
        return real(path, payload)

    monkeypatch.setattr(export, "write_atomic", disk_full_at_pictures)
    written = rf"No space left.*3 of {len(export.FILES)} files written"
    with pytest.raises(export.ExportError, match=written):
        export.export_trainer(trainer, out)
    assert (out / "misclassified.png").read_bytes() == b"yesterday's picture"
    assert sorted(p.name for p in out.iterdir()) == [
        "confusion.csv", "metrics.csv", "misclassified.png", "per_class.csv",
    ]  # fmt: skip


# ------------------------------------------------------------------------ mlp-tui --export
def headless(tiny_dir: Path, *extra: str) -> int:
    return main(
        ["--headless", "--data-dir", str(tiny_dir), "--device", "cpu", "--batch-size", "64",
         "--lr", "0.4", "--hidden", "32", *extra]
    )  # fmt: skip


def test_headless_export_after_training_and_from_a_checkpoint_without_training(
    tiny_dir, tmp_path, capsys, plain
):
    ckpt, first, second = tmp_path / "run.safetensors", tmp_path / "a", tmp_path / "b"
    assert headless(tiny_dir, "--epochs", "2", "--save", str(ckpt), "--export", str(first)) == 0
    out = capsys.readouterr().out
    assert f"to {first}" in out and "epoch   2/2" in out
    assert sorted(p.name for p in first.iterdir()) == sorted(export.FILES)
    assert read_csv(first / "per_class.csv")[0][4:] == ["epoch_1", "epoch_2"]

    assert headless(tiny_dir, "--epochs", "2", "--resume", str(ckpt), "--export", str(second)) == 0
    out = capsys.readouterr().out
    assert "epoch " not in out  # nothing trained
    assert f"to {second}" in out
    for name in ("metrics.csv", "confusion.csv"):
        assert (second / name).read_bytes() == (first / name).read_bytes()
    assert read_csv(second / "per_class.csv")[0][4:] == ["epoch_2"]


def test_headless_export_to_a_file_is_refused_before_training(tiny_dir, tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        headless(tiny_dir, "--epochs", "1", "--export", str(target))
    assert exit_info.value.code == 2
    assert "--export" in capsys.readouterr().err and target.read_text() == "x"


def test_headless_export_still_happens_after_divergence(tiny_dir, tmp_path, capsys, plain):
    out = tmp_path / "out"
    code = headless(tiny_dir, "--epochs", "2", "--lr", "1000", "--export", str(out))
    assert code == 3
    assert sorted(p.name for p in out.iterdir()) == sorted(export.FILES)


def test_headless_export_into_a_file_is_refused_before_training(tiny_dir, tmp_path, capsys):
    (tmp_path / "blocker").write_text("x")
    ckpt = tmp_path / "run.safetensors"
    args = ("--epochs", "1", "--save", str(ckpt), "--export", str(tmp_path / "blocker" / "out"))
    with pytest.raises(SystemExit) as exit_:
        headless(tiny_dir, *args)
    assert exit_.value.code == 2 and "--export: cannot make the folder" in capsys.readouterr().err
    assert not ckpt.exists()  # nothing trained


def test_headless_export_failure_is_reported_and_the_checkpoint_still_saved(
    tiny_dir, tmp_path, capsys, plain, monkeypatch
):
    def disk_full(*args, **kwargs):
        raise export.ExportError("No space left on device; 0 of 5 files written")

    monkeypatch.setattr(export, "export_trainer", disk_full)
    ckpt = tmp_path / "run.safetensors"
    args = ("--epochs", "1", "--save", str(ckpt), "--export", str(tmp_path / "out"))
    assert headless(tiny_dir, *args) == 1
    assert "export failed: No space left" in capsys.readouterr().err
    assert ckpt.is_file()


def test_curves_png_draws_the_batch_losses_and_the_epoch_curves(trained, tmp_path, plain):
    trainer, _ = trained
    export.export_trainer(trainer, tmp_path)
    width, height, colour, raw = decode_png((tmp_path / "curves.png").read_bytes())
    pixels = unfiltered_rgb(width, height, raw).int()
    left, right = pixels[:, : width // 2], pixels[:, width // 2 :]
    blue = lambda p: ((p[..., 2] - p[..., 0]) > 80).sum()  # noqa: E731
    green = lambda p: ((p[..., 1] - p[..., 0]) > 60).sum()  # noqa: E731
    assert blue(left) > 200  # the batch-loss mean, a line across the panel
    assert blue(right) > 100 and green(right) > 100  # train loss, test accuracy
