"""Training on your own data (issue 24): folders of images, npy/npz arrays, CSV points.

Three parts: the sources themselves (:mod:`minigan.data.sources`, :mod:`minigan.data.shapes`),
every bad input through the command line (one stderr line, a non-zero status, no traceback),
and short training runs on each kind of source (colour grids, checkpoints, cgan's classes,
``sample`` and an exact ``--resume``). Images are tiny (16-20 pixels) and runs a few steps,
so the file stays fast on two cores.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minigan import checkpoint, cli
from minigan.data import sources
from minigan.data.shapes import colour_shapes, write_shape_folder
from minigan.data.sources import DataError, load_source, read_points


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Folder caches go to a directory of this test's own, never to ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


def save_png(path: Path, pixels, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode=mode).save(path)
    return path


def grey(value: int, size=(16, 16)):
    return np.full(size, value, dtype=np.uint8)


def colour(rgb, size=(16, 16)):
    return np.broadcast_to(np.asarray(rgb, dtype=np.uint8), (*size, 3)).copy()


def one_line_error(capsys, argv: list[str], *messages: str) -> str:
    """Run the CLI, expect a non-zero status and one stderr line holding every message."""
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status != 0, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("minigan"), err
    for message in messages:
        assert message in err, err
    return err


def train(*argv: str) -> int:
    return cli.main(["train", "--quiet", "--checkpoint-every", "0", *argv])


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory) -> Path:
    """40 generated 20x20 RGB PNGs in two class subfolders (the acceptance folder, smaller)."""
    return write_shape_folder(tmp_path_factory.mktemp("data") / "shapes", n=40, size=20, classes=2)


# ----------------------------------------------------------------------------
# folder: reading, labels, resizing, channels, cache
# ----------------------------------------------------------------------------
def test_folder_classes_come_from_subfolders_recursively(tmp_path):
    root = tmp_path / "pics"
    save_png(root / "cats" / "a.png", grey(0))
    save_png(root / "cats" / "deeper" / "b.png", grey(255))  # recursive: still a cat
    save_png(root / "dogs" / "c.bmp", grey(255)).rename(root / "dogs" / "c.bmp")
    Image.fromarray(grey(0)).save(root / "dogs" / "d.jpg", quality=100)
    (root / ".hidden").mkdir()
    save_png(root / ".hidden" / "x.png", grey(7, (5, 5)))  # hidden: not read at all (else: mixed sizes)
    ds = load_source(f"folder:{root}", value_range=(0.0, 1.0))
    assert ds.images.shape == (4, 1, 16, 16) and ds.images.dtype == np.float32
    assert ds.class_names == ("cats", "dogs")
    assert ds.labels.tolist() == [0, 0, 1, 1]  # files in sorted order: cats/a, cats/deeper/b, dogs/c, dogs/d
    assert ds.images[0].max() == 0.0 and ds.images[1].min() == 1.0
    assert "4 images 1x16x16" in ds.source and "2 classes (cats, dogs)" in ds.source


def test_folder_without_subfolders_has_no_classes(tmp_path):
    save_png(tmp_path / "a.png", grey(10))
    save_png(tmp_path / "b.png", grey(20))
    ds = load_source(f"folder:{tmp_path}")
    assert ds.class_names == () and ds.labels.tolist() == [0, 0]
    assert "no class subfolders" in ds.source


def test_image_size_keeps_the_aspect_and_crops_the_centre(tmp_path):
    # 40 wide, 20 high: left 10 columns red, middle 20 green, right 10 blue. Scaled to 32x16
    # and centre-cropped to 16x16, only the green middle (and its antialiased edges) is left.
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, :10, 0] = pixels[:, 10:30, 1] = pixels[:, 30:, 2] = 255
    save_png(tmp_path / "wide.png", pixels)
    ds = load_source(f"folder:{tmp_path}", image_size=16, value_range=(0.0, 1.0))
    assert ds.images.shape == (1, 3, 16, 16)
    centre = ds.images[0, :, :, 4:12]
    assert centre[1].min() > 0.95 and centre[0].max() < 0.05 and centre[2].max() < 0.05
    # A stretch instead of a crop would have kept red on the left edge.
    assert ds.images[0, 0, :, 0].max() < 0.5


def test_channels_convert_grey_and_colour(tmp_path):
    save_png(tmp_path / "g" / "a.png", grey(128))
    save_png(tmp_path / "c" / "b.png", colour((255, 0, 0)))
    rgb = load_source(f"folder:{tmp_path}", channels=3, value_range=(0.0, 1.0))
    assert rgb.images.shape == (2, 3, 16, 16)
    assert np.allclose(rgb.images[0, :, 0, 0], [1.0, 0.0, 0.0])  # "c" sorts before "g"
    assert np.allclose(rgb.images[1, :, 0, 0], 128 / 255)  # grey -> three equal channels
    g = load_source(f"folder:{tmp_path}", channels=1, value_range=(0.0, 1.0))
    assert g.images.shape == (2, 1, 16, 16)
    assert abs(g.images[0, 0, 0, 0] - 76 / 255) < 1e-6  # Pillow's luma of pure red: 0.299 * 255
    assert np.allclose(g.images[1], 128 / 255)


def test_folder_cache_is_reused_until_the_folder_changes(tmp_path, caplog):
    root = tmp_path / "pics"
    save_png(root / "a.png", grey(1))
    save_png(root / "b.png", grey(2))
    cache = tmp_path / "cache"
    first = load_source(f"folder:{root}", cache_dir=cache)
    assert "decoded" in first.source
    manifests = list(cache.glob("*/manifest.json"))
    assert len(manifests) == 1 and (manifests[0].parent / "images.npy").exists()
    manifest = json.loads(manifests[0].read_text())
    assert [f[0] for f in manifest["files"]] == ["a.png", "b.png"] and manifest["options"]["image_size"] is None
    second = load_source(f"folder:{root}", cache_dir=cache)
    assert "from the cache" in second.source
    assert np.array_equal(first.images, second.images)
    save_png(root / "c.png", grey(3))  # a new file: decoded again
    third = load_source(f"folder:{root}", cache_dir=cache)
    assert "decoded" in third.source and len(third) == 3
    save_png(root / "a.png", grey(200))  # an edited file (new size or mtime): decoded again
    os.utime(root / "a.png", ns=(1, 1))
    fourth = load_source(f"folder:{root}", cache_dir=cache)
    assert "decoded" in fourth.source and fourth.images[0].max() > 0.5
    other = load_source(f"folder:{root}", cache_dir=cache, image_size=8)  # other options: their own cache
    assert "decoded" in other.source and other.images.shape[2:] == (8, 8)
    assert "from the cache" in load_source(f"folder:{root}", cache_dir=cache).source


def test_folder_cache_names_where_the_decoded_images_are(tmp_path):
    root = tmp_path / "pics"
    save_png(root / "a" / "x.png", colour((10, 20, 30)))
    save_png(root / "b" / "y.png", colour((200, 100, 0)))
    cache_dir = tmp_path / "cache"
    where = sources.folder_cache(root, image_size=8, channels=3, cache_dir=cache_dir)
    assert not where.exists()
    ds = load_source(f"folder:{root}", image_size=8, channels=3, cache_dir=cache_dir, value_range=(0.0, 1.0))
    assert sorted(p.name for p in where.iterdir()) == ["images.npy", "labels.npy", "manifest.json"]
    manifest = json.loads((where / "manifest.json").read_text())
    assert [f[0] for f in manifest["files"]] == ["a/x.png", "b/y.png"] and manifest["class_names"] == ["a", "b"]
    assert manifest["options"]["image_size"] == 8 and manifest["options"]["channels"] == 3
    pixels = np.load(where / "images.npy")
    assert pixels.dtype == np.uint8 and pixels.shape == (2, 3, 8, 8)
    np.testing.assert_allclose(ds.images, pixels / 255.0, atol=1e-6)
    # "folder:PATH" names the same cache; other options another one.
    assert sources.folder_cache(f"folder:{root}", 8, 3, cache_dir) == where
    assert sources.folder_cache(root, 8, 1, cache_dir) != where


def test_skipped_files_are_named_on_every_load(tmp_path, caplog):
    root = tmp_path / "pics"
    for i in range(3):
        save_png(root / f"ok{i}.png", grey(i))
    (root / "notes.txt").write_text("not a picture")
    (root / "fake.png").write_bytes(b"this is not a PNG")
    good = (root / "ok0.png").read_bytes()
    (root / "cut.png").write_bytes(good[: len(good) // 2])  # truncated
    for attempt in ("decoded", "from the cache"):
        caplog.clear()
        ds = load_source(f"folder:{root}", cache_dir=tmp_path / "cache")
        assert len(ds) == 3 and attempt in ds.source and "3 files skipped" in ds.source
        (message,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert "skipped 3 of 6 files" in message
        assert "cut.png (truncated or damaged)" in message and "fake.png (not an image)" in message
        assert "notes.txt (not a PNG/JPEG/BMP file)" in message
    with pytest.raises(DataError, match=r"3 of 6 files are not readable images: cut.png \(truncated or damaged\)"):
        load_source(f"folder:{root}", strict=True, cache_dir=tmp_path / "cache")


# ----------------------------------------------------------------------------
# npy: / npz: / csv:
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "layout, make",
    [
        ("(N, H, W) uint8", lambda a: a[:, 0]),
        ("(N, C, H, W) uint8", lambda a: a),
        ("(N, H, W, C) uint8", lambda a: a.transpose(0, 2, 3, 1)),
    ],
)
def test_npy_layouts(tmp_path, layout, make):
    base = np.arange(5 * 3 * 4 * 4, dtype=np.uint8).reshape(5, 3, 4, 4)
    if layout.startswith("(N, H, W) "):
        base = base[:, :1]
    np.save(tmp_path / "x.npy", make(base))
    ds = load_source(f"npy:{tmp_path / 'x.npy'}", value_range=(0.0, 1.0))
    assert ds.images.shape == base.shape
    assert np.allclose(ds.images, base / 255.0)
    assert "uint8, read as [0, 255]" in ds.source


@pytest.mark.parametrize(
    "values, stated",
    [
        ([0.0, 0.25, 1.0], "read as [0, 1]"),
        ([-1.0, 0.0, 0.5], "read as [-1, 1]"),
        ([0.0, 17.0, 255.0], "read as [0, 255]"),
    ],
)
def test_npy_value_range_is_detected_and_stated(tmp_path, values, stated):
    x = np.resize(np.asarray(values, dtype=np.float32), (3, 1, 4, 4))
    x[:, 0, 0, 0] = values  # each range's extremes are present
    np.save(tmp_path / "x.npy", x)
    ds = load_source(f"npy:{tmp_path / 'x.npy'}", value_range=(-1.0, 1.0))
    assert stated in ds.source and "scaled to [-1, 1]" in ds.source
    assert ds.images.min() >= -1.0 and ds.images.max() <= 1.0
    low, high = {"[0, 1]": (0, 1), "[-1, 1]": (-1, 1), "[0, 255]": (0, 255)}[stated.split("as ")[1]]
    assert np.allclose(ds.images, (x - low) / (high - low) * 2 - 1, atol=1e-6)


def test_npy_image_size_and_channels(tmp_path):
    np.save(tmp_path / "x.npy", np.full((2, 1, 8, 8), 0.5, dtype=np.float32))
    ds = load_source(f"npy:{tmp_path / 'x.npy'}", image_size=16, channels=3, value_range=(0.0, 1.0))
    assert ds.images.shape == (2, 3, 16, 16) and np.allclose(ds.images, 0.5, atol=1e-5)


def test_npz_labels_are_renumbered(tmp_path):
    x = np.zeros((4, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([7, 3, 7, 3]))
    ds = load_source(f"npz:{tmp_path / 'd.npz'}")
    assert ds.labels.tolist() == [1, 0, 1, 0] and ds.class_names == ("3", "7")
    np.savez(tmp_path / "nolabels.npz", x=x)
    assert load_source(f"npz:{tmp_path / 'nolabels.npz'}").class_names == ()


def test_csv_points(tmp_path):
    (tmp_path / "p.csv").write_text("# a comment\n1.5, 2\n\n-3;4e-1\n5\t6\n")
    points = read_points(tmp_path / "p.csv")
    assert points.shape == (3, 2) and points.dtype == np.float32
    assert np.allclose(points, [[1.5, 2], [-3, 0.4], [5, 6]])
    (tmp_path / "q.csv").write_text("1\n2\n3\n")
    assert read_points(tmp_path / "q.csv").shape == (3, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        ("x,y\n1,2\n", "line 1: 'x,y' looks like a header"),
        ("1,2\n3,4\n5,oops\n", "line 3: '5,oops' is not a list of numbers"),
        ("1,2\n3\n", "line 2: 1 value where the lines before have 2"),
        ("1,2,3\n", "line 1: 3 values; points must be 1-D or 2-D"),
        ("1,2\nnan,4\n", "line 2: 'nan,4' holds NaN or Inf"),
        ("# nothing\n\n", "no points in the file"),
    ],
)
def test_csv_errors_name_the_line(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(DataError, match=None) as e:
        read_points(tmp_path / "bad.csv")
    assert message in str(e.value) and "\n" not in str(e.value)


# ----------------------------------------------------------------------------
# The colour data set of the course
# ----------------------------------------------------------------------------
def test_colour_shapes_are_colour_balanced_and_seeded(tmp_path):
    images, labels = colour_shapes(12, 32, classes=3, seed=5)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [4, 4, 4]
    assert np.abs(images[..., 0].astype(int) - images[..., 1]).mean() > 10  # colour, not grey
    again, _ = colour_shapes(12, 32, classes=3, seed=5)
    assert np.array_equal(images, again)
    assert not np.array_equal(images, colour_shapes(12, 32, classes=3, seed=6)[0])
    root = write_shape_folder(tmp_path / "s", n=6, size=32, classes=2, seed=5)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))[:2] == [
        "circle/00000.png",
        "circle/00002.png",
    ]
    with Image.open(root / "square" / "00001.png") as im:
        assert im.mode == "RGB" and im.size == (32, 32)
    ds = load_source(f"folder:{root}", value_range=(0.0, 1.0))
    assert ds.class_names == ("circle", "square") and ds.images.shape == (6, 3, 32, 32)


def test_colour_shapes_from_a_palette():
    """With ``palette=`` every image holds two different colours of the palette (plus noise)."""
    palette = [(255, 0, 0), (0, 0, 255), (0, 200, 0)]
    images, _ = colour_shapes(30, 16, seed=1, noise=0.0, palette=palette)
    pairs = set()
    for picture in images:
        values, counts = np.unique(picture.reshape(-1, 3), axis=0, return_counts=True)
        colours = [tuple(int(v) for v in c) for c in values]
        assert len(colours) == 2 and set(colours) <= set(palette), colours
        background = colours[int(np.argmax(counts))]  # a shape covers less than half the picture
        pairs.add((background, colours[int(np.argmin(counts))]))
    assert len(pairs) > 3  # several (background, shape) pairs, drawn from the palette
    noisy, _ = colour_shapes(30, 16, seed=1, palette=palette)
    assert np.abs(noisy.astype(int) - images).max() > 0  # the default noise still applies
    assert np.array_equal(colour_shapes(5, 16, seed=2)[0], colour_shapes(5, 16, seed=2, palette=None)[0])
    with pytest.raises(ValueError, match="at least two RGB colours"):
        colour_shapes(2, 16, palette=[(1, 2, 3)])


# ----------------------------------------------------------------------------
# Every bad input: one line, a non-zero status, no traceback
# ----------------------------------------------------------------------------
def test_bad_dataset_argument(capsys, tmp_path):
    one_line_error(
        capsys,
        ["train", "--dataset", "pics/", "--out", str(tmp_path / "o")],
        "invalid choice: 'pics/' (choose from auto, mnist",
    )
    one_line_error(capsys, ["train", "--dataset", "folder:", "--out", str(tmp_path / "o")], "folder: needs a path")


def test_empty_folder(capsys, tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    one_line_error(
        capsys,
        ["train", "--dataset", f"folder:{tmp_path / 'empty'}", "--out", str(tmp_path / "o")],
        "the folder is empty (no PNG/JPEG/BMP files in 2 folders)",
    )
    assert not (tmp_path / "o").exists()
    (tmp_path / "bare").mkdir()
    one_line_error(
        capsys,
        ["train", "--dataset", f"folder:{tmp_path / 'bare'}", "--out", str(tmp_path / "o")],
        "(no PNG/JPEG/BMP files in 1 folder)",
    )
    one_line_error(
        capsys, ["train", "--dataset", f"folder:{tmp_path / 'missing'}", "--out", str(tmp_path / "o")], "no such folder"
    )


@pytest.fixture
def folder_with_junk(tmp_path) -> Path:
    root = tmp_path / "pics"
    for i in range(8):
        save_png(root / f"ok{i}.png", grey(30 * i))
    (root / "readme.txt").write_text("hello")
    good = (root / "ok1.png").read_bytes()
    (root / "half.png").write_bytes(good[: len(good) // 2])
    return root


def test_files_that_are_not_images_are_skipped_or_refused(capsys, caplog, tmp_path, folder_with_junk):
    base = ["train", "--dataset", f"folder:{folder_with_junk}", "--model", "mlp-gan", "--batch-size", "4"]
    one_line_error(
        capsys,
        [*base, "--strict-data", "--out", str(tmp_path / "strict")],
        "2 of 10 files are not readable images: half.png (truncated or damaged), readme.txt (not a PNG/JPEG/BMP file)",
        "--strict-data",
    )
    assert train(*base[1:], "--steps", "1", "--out", str(tmp_path / "lenient")) == 0
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "skipped 2 of 10 files" in warning and "half.png (truncated or damaged)" in warning
    assert json.loads((tmp_path / "lenient" / "config.json").read_text())["dataset_used"]["n_images"] == 8


def test_mixed_sizes_need_image_size(capsys, tmp_path):
    save_png(tmp_path / "p" / "a.png", grey(1, (16, 16)))
    save_png(tmp_path / "p" / "b.png", grey(1, (16, 16)))
    save_png(tmp_path / "p" / "c.png", grey(1, (20, 24)))
    one_line_error(
        capsys,
        ["train", "--dataset", f"folder:{tmp_path / 'p'}", "--out", str(tmp_path / "o")],
        "images of 2 sizes (16x16: 2 (e.g. a.png); 24x20: 1 (e.g. c.png)); pass --image-size S",
    )
    ds = load_source(f"folder:{tmp_path / 'p'}", image_size=16)
    assert ds.images.shape == (3, 1, 16, 16)


def test_grey_and_colour_mixed_need_channels(capsys, tmp_path):
    save_png(tmp_path / "p" / "a.png", grey(1))
    save_png(tmp_path / "p" / "b.png", colour((1, 2, 3)))
    one_line_error(
        capsys,
        ["train", "--dataset", f"folder:{tmp_path / 'p'}", "--out", str(tmp_path / "o")],
        "grey and colour images mixed (1 grey, e.g. a.png; 1 colour, e.g. b.png); choose with --channels 1",
    )


def test_cgan_needs_two_classes(capsys, tmp_path):
    for i in range(4):
        save_png(tmp_path / "one" / "cats" / f"{i}.png", grey(i))
        save_png(tmp_path / "flat" / f"{i}.png", grey(i))
    argv = ["train", "--model", "cgan", "--batch-size", "2", "--out", str(tmp_path / "o")]
    one_line_error(
        capsys, [*argv, "--dataset", f"folder:{tmp_path / 'one'}"], "cgan is class-conditional", "the data has 1 class"
    )
    one_line_error(capsys, [*argv, "--dataset", f"folder:{tmp_path / 'flat'}"], "the data has no class labels")
    assert not (tmp_path / "o").exists()
    assert "4 images 1x16x16 (C x H x W), 1 class (cats)" in load_source(f"folder:{tmp_path / 'one'}").source


@pytest.mark.parametrize(
    "array, message",
    [
        (np.array([[[0.0, np.nan]], [[np.inf, 1.0]], [[0.5, 0.5]]], dtype=np.float32), "2 of 3 images hold NaN or Inf"),
        (np.zeros((10, 2), dtype=np.float32), "the array has rank 2, shape (10, 2)"),
        (np.zeros((4, 5, 6, 7), dtype=np.uint8), "has no axis of 1 or 3 channels"),
        (np.full((2, 4, 4), 300.0), "values span [300, 300], none of [0, 1], [-1, 1] or [0, 255]"),
    ],
)
def test_bad_arrays(capsys, tmp_path, array, message):
    np.save(tmp_path / "x.npy", array)
    one_line_error(capsys, ["train", "--dataset", f"npy:{tmp_path / 'x.npy'}", "--out", str(tmp_path / "o")], message)


def test_bad_npz_and_npy_files(capsys, tmp_path):
    out = ["--out", str(tmp_path / "o")]
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 4, 4)))
    one_line_error(capsys, ["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", *out], "no array named 'x'")
    np.savez(tmp_path / "e.npz", x=np.zeros((2, 4, 4)), y=np.zeros(3))
    one_line_error(capsys, ["train", "--dataset", f"npz:{tmp_path / 'e.npz'}", *out], "'y' has shape (3,)")
    (tmp_path / "junk.npy").write_text("not numpy")
    one_line_error(capsys, ["train", "--dataset", f"npy:{tmp_path / 'junk.npy'}", *out], "not a NumPy file")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    one_line_error(capsys, ["train", "--dataset", f"npy:{tmp_path / 'obj.npy'}", *out], "holds Python objects")


@pytest.mark.parametrize(
    "text, message",
    [("x,y\n1,2\n3,4\n", "line 1: 'x,y' looks like a header"), ("1,2\n3,4\n5,six\n", "line 3: '5,six'")],
)
def test_bad_csv_through_the_cli(capsys, tmp_path, text, message):
    (tmp_path / "p.csv").write_text(text)
    one_line_error(
        capsys, ["train", "--model", "ring-2d", "--dataset", f"csv:{tmp_path / 'p.csv'}", "--out", str(tmp_path / "o")],
        message,
    )  # fmt: skip


def test_unreadable_files_simulated(capsys, tmp_path, monkeypatch):
    """Permission errors, simulated (root reads everything whatever chmod says)."""
    for i in range(5):
        save_png(tmp_path / "p" / f"{i}.png", grey(i))
    real = sources._read_bytes

    def read(path):
        if path.name in ("1.png", "3.png"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(sources, "_read_bytes", read)
    one_line_error(
        capsys,
        ["train", "--dataset", f"folder:{tmp_path / 'p'}", "--out", str(tmp_path / "o")],
        "2 files cannot be read (permission denied): 1.png, 3.png; make them readable (chmod a+r)",
    )
    np.save(tmp_path / "x.npy", np.zeros((2, 4, 4)))
    monkeypatch.setattr(sources, "_read_bytes", lambda path: (_ for _ in ()).throw(PermissionError(13, "denied")))
    one_line_error(
        capsys, ["train", "--dataset", f"npy:{tmp_path / 'x.npy'}", "--out", str(tmp_path / "o")], "permission denied"
    )


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_files_for_real(capsys, tmp_path):
    save_png(tmp_path / "p" / "a.png", grey(1))
    locked = save_png(tmp_path / "p" / "b.png", grey(2))
    locked.chmod(0)
    try:
        one_line_error(
            capsys,
            ["train", "--dataset", f"folder:{tmp_path / 'p'}", "--out", str(tmp_path / "o")],
            "1 file cannot be read (permission denied): b.png",
        )
    finally:
        locked.chmod(0o644)


def test_symlink_loops(capsys, tmp_path):
    root = tmp_path / "p"
    save_png(root / "sub" / "a.png", grey(1))
    (root / "sub" / "back").symlink_to(root, target_is_directory=True)  # p/sub/back -> p
    one_line_error(
        capsys, ["train", "--dataset", f"folder:{root}", "--out", str(tmp_path / "o")], "symlink loop", "sub/back"
    )
    other = tmp_path / "q"
    save_png(other / "a.png", grey(1))
    (other / "self.png").symlink_to(other / "self.png")  # a link to itself
    one_line_error(
        capsys, ["train", "--dataset", f"folder:{other}", "--out", str(tmp_path / "o")], "symlink loop at self.png"
    )


def test_model_and_data_mismatch_is_found_before_training(capsys, tmp_path, shapes_dir):
    out = tmp_path / "o"
    one_line_error(
        capsys,
        ["train", "--model", "conv-gan", "--dataset", f"folder:{shapes_dir}", "--out", str(out)],
        "the data's images are (3, 20, 20) but conv-generator takes sizes 16, 28, 32, 64, 128 only",
    )
    np.save(tmp_path / "wide.npy", np.zeros((4, 8, 12), dtype=np.uint8))
    one_line_error(
        capsys,
        ["train", "--model", "dcgan", "--dataset", f"npy:{tmp_path / 'wide.npy'}", "--out", str(out)],
        "(1, 8, 12) but dcgan-generator takes square (C, S, S) images",
    )
    (tmp_path / "p.csv").write_text("1,2\n")
    one_line_error(
        capsys, ["train", "--dataset", f"csv:{tmp_path / 'p.csv'}", "--out", str(out)], "holds points; train it with"
    )
    one_line_error(
        capsys,
        ["train", "--model", "ring-2d", "--dataset", f"folder:{shapes_dir}", "--out", str(out)],
        "--dataset applies to the image models, not ring-2d",
    )
    assert not out.exists()


# ----------------------------------------------------------------------------
# Training on each source
# ----------------------------------------------------------------------------
def rgb_png(path: Path) -> bool:
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB"), dtype=int)
        return im.mode == "RGB" and bool(np.abs(pixels[..., 0] - pixels[..., 1]).max() > 0)


def test_dcgan_and_cgan_on_a_colour_folder(capsys, tmp_path, shapes_dir):
    data = ["--dataset", f"folder:{shapes_dir}", "--image-size", "16", "--channels", "3", "--batch-size", "8"]
    out = tmp_path / "dcgan"
    assert train("--model", "dcgan", *data, "--steps", "2", "--out", str(out)) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["image_shape"] == [3, 16, 16] and config["generator"]["kwargs"]["channels"] == 3
    assert rgb_png(out / "samples_0002.png") and (out / "checkpoint.npz").exists()
    with Image.open(out / "progress.gif") as gif:
        frame = np.asarray(gif.convert("RGB"), dtype=int)
        assert np.abs(frame[..., 0] - frame[..., 2]).max() > 0  # the GIF is in colour too
    assert (
        cli.main(["sample", "--checkpoint", str(out / "checkpoint.npz"), "-n", "4", "--out", str(tmp_path / "s.png")])
        == 0
    )
    assert rgb_png(tmp_path / "s.png")

    cg = tmp_path / "cgan"
    assert train("--model", "cgan", *data, "--steps", "2", "--out", str(cg)) == 0
    saved = checkpoint.read(cg / "checkpoint.npz")
    assert saved.extra["config"]["num_classes"] == 2 and saved.extra["config"]["n_fixed"] == 20
    assert saved.extra["dataset"]["class_names"] == ["circle", "square"]
    assert saved.extra["config"]["generator"]["kwargs"]["out_features"] == 3 * 16 * 16
    assert rgb_png(cg / "samples_0002.png")
    capsys.readouterr()
    argv = ["sample", "--checkpoint", str(cg / "checkpoint.npz"), "-n", "4", "--out", str(tmp_path / "c.png")]
    assert cli.main([*argv, "--label", "1"]) == 0
    one_line_error(capsys, [*argv, "--label", "2"], "--label must be in 0..1")
    one_line_error(
        capsys,
        [
            "evaluate",
            "--checkpoint",
            str(cg / "checkpoint.npz"),
            "--dataset",
            "mnist",
            "--out",
            str(tmp_path / "e.json"),
        ],
        "judges (1, 28, 28) digits; this generator makes (3, 16, 16)",
    )
    from minigan import metrics

    with pytest.raises(ValueError, match=r"this generator makes \(3, 16, 16\)"):
        metrics.evaluate_checkpoint(cg / "checkpoint.npz", 10, dataset="glyphs")


def test_resume_on_a_folder_is_exact(capsys, tmp_path, shapes_dir):
    data = ["--model", "dcgan", "--dataset", f"folder:{shapes_dir}", "--image-size", "16", "--batch-size", "8"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert train(*data, "--channels", "3", "--steps", "4", "--out", str(straight)) == 0
    assert train(*data, "--channels", "3", "--steps", "2", "--out", str(resumed)) == 0
    assert train("--out", str(resumed), "--resume", "--steps", "4") == 0
    a = checkpoint.read(straight / "checkpoint.npz").arrays
    b = checkpoint.read(resumed / "checkpoint.npz").arrays
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a if k.startswith("model/G"))
    capsys.readouterr()
    one_line_error(
        capsys, ["train", "--out", str(resumed), "--resume", "--steps", "6", "--channels", "1"], "--channels"
    )


def test_resume_refuses_changed_data(capsys, tmp_path):
    root = tmp_path / "p"
    for i in range(4):
        save_png(root / f"{i}.png", grey(40 * i))
    out = tmp_path / "o"
    assert train("--dataset", f"folder:{root}", "--batch-size", "2", "--steps", "1", "--out", str(out)) == 0
    save_png(root / "4.png", grey(250))
    capsys.readouterr()
    one_line_error(
        capsys,
        ["train", "--out", str(out), "--resume", "--steps", "2"],
        "changed since the checkpoint (4 examples then, 5",
    )


def test_npy_trains_the_conv_gan(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, (12, 16, 16, 1), dtype=np.uint8))  # (N, H, W, C)
    out = tmp_path / "o"
    assert train("--model", "conv-gan", "--dataset", f"npy:{tmp_path / 'x.npy'}", "--batch-size", "4",
                 "--steps", "2", "--out", str(out)) == 0  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["image_shape"] == [1, 16, 16] and config["generator"]["kwargs"]["image_size"] == 16
    assert "uint8, read as [0, 255]" in config["dataset_used"]["source"]


def test_npz_trains_the_cgan(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.uniform(0, 1, (12, 8, 8)).astype(np.float32), y=np.arange(12) % 3)
    out = tmp_path / "o"
    assert train("--model", "cgan", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--batch-size", "4",
                 "--steps", "2", "--out", str(out)) == 0  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["num_classes"] == 3 and config["image_shape"] == [1, 8, 8]
    assert config["discriminator"]["kwargs"] == {"init": "dcgan_normal", "in_features": 64, "num_classes": 3}


@pytest.mark.parametrize("dim", [2, 1])
def test_csv_trains_the_toy_model(tmp_path, dim):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(64, dim))
    np.savetxt(tmp_path / "p.csv", points, delimiter=",")
    out = tmp_path / "o"
    assert train("--model", "ring-2d", "--dataset", f"csv:{tmp_path / 'p.csv'}", "--batch-size", "16",
                 "--steps", "3", "--out", str(out)) == 0  # fmt: skip
    assert (out / "scatter.png").exists() and (out / "scatter_0003.png").exists()
    saved = checkpoint.read(out / "checkpoint.npz")
    assert saved.extra["config"]["point_dim"] == (None if dim == 2 else 1)
    assert (
        cli.main(["sample", "--checkpoint", str(out / "checkpoint.npz"), "-n", "50", "--out", str(tmp_path / "s.png")])
        == 0
    )


def test_summary_shows_the_sized_models(capsys):
    assert cli.main(["summary", "dcgan", "--image-size", "64", "--channels", "3"]) == 0
    text = capsys.readouterr().out
    assert "(None, 3, 64, 64)" in text and "(None, 128, 8, 8)" in text
    assert cli.main(["summary", "conv-generator", "--image-size", "16"]) == 0
    assert "(None, 1, 16, 16)" in capsys.readouterr().out
    one_line_error(capsys, ["summary", "conv-gan", "--image-size", "40"], "takes sizes 16, 28, 32, 64, 128 only")
    one_line_error(capsys, ["summary", "mlp-discriminator", "--image-size", "32"], "apply to the conv and DCGAN")


def test_image_size_and_channels_apply_to_the_built_in_data_and_limit_to_sources(tmp_path, shapes_dir):
    out = tmp_path / "glyphs"
    assert train("--model", "conv-gan", "--dataset", "glyphs", "--limit", "8", "--image-size", "16",
                 "--channels", "3", "--batch-size", "4", "--steps", "1", "--out", str(out)) == 0  # fmt: skip
    assert json.loads((out / "config.json").read_text())["image_shape"] == [3, 16, 16]
    with Image.open(out / "samples_0001.png") as im:
        assert im.mode == "RGB"
    out = tmp_path / "limited"
    assert train("--dataset", f"folder:{shapes_dir}", "--limit", "10", "--batch-size", "4", "--steps", "1",
                 "--out", str(out)) == 0  # fmt: skip
    used = json.loads((out / "config.json").read_text())["dataset_used"]
    assert used["n_images"] == 10 and used["name"] == f"folder:{shapes_dir}"
