"""Your own data: a folder of images, an array file, or a CSV of points.

:func:`load_source` reads ``"KIND:PATH"``, what ``minigan train --dataset`` takes:

- ``folder:PATH`` - PNG/JPEG/BMP files, found recursively (hidden files and folders are
  left out). When every image sits in a subfolder, the subfolders' names are the classes
  (``cats/``, ``dogs/`` -> labels 0 and 1, sorted by name). ``image_size=S`` resizes each
  image to S x S (keeping its aspect ratio, centre-cropping, antialiased);
  ``channels=1|3`` converts grey <-> colour. The decoded set is cached (``images.npy`` and
  ``labels.npy`` beside a ``manifest.json`` of file names, sizes, mtimes and options, in
  ``~/.cache/minigan/folders/``) and decoded again only when the folder or the options change.
- ``npy:PATH`` - one array of images, ``(N, H, W)``, ``(N, C, H, W)`` or ``(N, H, W, C)``,
  uint8 or float; its value range ([0, 1], [-1, 1] or [0, 255]) is detected and stated.
- ``npz:PATH`` - the same array under the key ``x``, and optional integer labels ``y``.
- ``csv:PATH`` - 1-D or 2-D points, one per line (for the toy models).

Everything becomes a :class:`~minigan.data.loader.Dataset` (float32 ``(N, C, H, W)`` images
scaled to ``value_range``, int64 labels; for ``csv:`` the "images" are the ``(N, D)`` points),
which the usual :class:`~minigan.data.loader.DataLoader` batches, shuffles and resumes.

Every problem with the data is a :class:`DataError` whose message is one line naming the file
(and the line of a CSV): an empty folder, a symlink loop, unreadable files, images of mixed
sizes or mixed grey and colour, NaN or Inf in an array, an array of the wrong rank. Files
that are not images (or are truncated) are skipped with a warning naming the first few, or
refused with ``strict=True`` (``--strict-data``).

Read next: ``minigan/data/shapes.py`` (a colour data set written as such a folder).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minigan.backend import host_np as np
from minigan.data.loader import Dataset

__all__ = [
    "IMAGE_EXTENSIONS",
    "SOURCE_KINDS",
    "DataError",
    "convert_images",
    "fingerprint",
    "folder_cache",
    "load_source",
    "parse_source",
    "read_points",
]

logger = logging.getLogger("minigan.data")

SOURCE_KINDS = ("folder", "npy", "npz", "csv")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
_SHOWN = 3  # how many file names a message lists
_CACHE_VERSION = 1


class DataError(ValueError):
    """A data set that cannot be used as it is; the message is one line saying why and what to do."""


def parse_source(text: str) -> tuple[str, str] | None:
    """``"folder:imgs"`` -> ``("folder", "imgs")``; None when ``text`` is not ``KIND:PATH``."""
    kind, sep, path = text.partition(":")
    if not sep or kind not in SOURCE_KINDS:
        return None
    if not path:
        raise DataError(f"{kind}: needs a path, as in {kind}:PATH")
    return kind, path


def load_source(
    source: str,
    *,
    image_size: int | None = None,
    channels: int | None = None,
    strict: bool = False,
    value_range: tuple[float, float] = (-1.0, 1.0),
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Read ``"folder:PATH"``, ``"npy:PATH"``, ``"npz:PATH"`` or ``"csv:PATH"``.

    Args:
        source: the kind and the path.
        image_size: resize images to ``image_size`` x ``image_size`` (None: keep their size,
            which must then be the same for all).
        channels: 1 or 3 to convert the images (None: keep them, all grey or all colour).
        strict: refuse a folder holding files that are not readable images (default: skip them,
            with a warning naming the first few).
        value_range: the range the pixels are scaled to ((-1, 1) for tanh generators).
        limit: keep only the first ``limit`` examples.
        cache_dir: where folder caches go (default ``~/.cache/minigan/folders``).

    Returns:
        A :class:`Dataset`; ``.source`` says what was read and how (value range, skipped files).

    Raises:
        DataError: with a one-line message, for every problem with the data.
    """
    parsed = parse_source(source)
    if parsed is None:
        raise DataError(f"{source!r} is not one of {', '.join(k + ':PATH' for k in SOURCE_KINDS)}")
    kind, path = parsed
    if image_size is not None and image_size < 1:
        raise DataError(f"image size must be positive, got {image_size}")
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels}")
    if kind == "csv":
        for name, value in (("image size", image_size), ("channels", channels)):
            if value is not None:
                raise DataError(f"csv:{path} holds points, not images: the {name} option does not apply")
        points = read_points(path)
        labels = np.zeros(len(points), dtype=np.int64)
        ds = Dataset(
            points, labels, f"csv:{path}", "train", f"{len(points)} {points.shape[1]}-D points from {path}", ()
        )
    elif kind == "folder":
        ds = _load_folder(Path(path), image_size, channels, strict, value_range, cache_dir)
    else:
        ds = _load_array(kind, Path(path), image_size, channels, value_range)
    if limit is not None and limit < len(ds):
        ds.images, ds.labels = ds.images[:limit].copy(), ds.labels[:limit].copy()
    return ds


def convert_images(images: Any, image_size: int | None = None, channels: int | None = None) -> Any:
    """float (N, C, H, W) images -> ``channels`` channels and ``image_size`` x ``image_size`` pixels.

    What ``--image-size`` and ``--channels`` do to a built-in data set (MNIST at 32x32 for the
    conv models, say); a folder's images are converted while they are decoded instead.
    """
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels}")
    images = _convert_channels(images, channels)
    if image_size is not None and tuple(images.shape[2:]) != (image_size, image_size):
        images = _resize_array(images, image_size)
    return images


def fingerprint(ds: Dataset) -> str:
    """A short hash of a data set's values and labels: equal exactly when the data is."""
    h = hashlib.sha256()
    for array in (ds.images, ds.labels):
        h.update(str((array.dtype.str, array.shape)).encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------
# csv: points
# ----------------------------------------------------------------------------
def read_points(path: str | os.PathLike) -> Any:
    """The points of a CSV file as float32 ``(N, D)``, D = 1 or 2.

    One point per line, values separated by commas, semicolons, tabs or spaces; blank lines and
    lines starting with ``#`` are skipped. A header, a short or long row, a word, NaN or Inf is
    refused with the line number.
    """
    text = _read_text(Path(path), "csv")
    rows: list[list[float]] = []
    width = None
    where = f"csv:{path}"
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = [f for f in stripped.replace(";", ",").replace("\t", ",").replace(" ", ",").split(",") if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if not rows and not any(_is_number(f) for f in fields):
                raise DataError(
                    f"{where}, line {number}: {stripped[:40]!r} looks like a header; remove it "
                    "(the file must hold only numbers, one point per line)"
                ) from None
            raise DataError(f"{where}, line {number}: {stripped[:40]!r} is not a list of numbers") from None
        if not all(np.isfinite(values)):
            raise DataError(f"{where}, line {number}: {stripped[:40]!r} holds NaN or Inf")
        if width is None:
            if len(values) not in (1, 2):
                raise DataError(f"{where}, line {number}: {_count(len(values), 'value')}; points must be 1-D or 2-D")
            width = len(values)
        elif len(values) != width:
            found = _count(len(values), "value")
            raise DataError(f"{where}, line {number}: {found} where the lines before have {width}")
        rows.append(values)
    if not rows:
        raise DataError(f"{where}: no points in the file")
    return np.asarray(rows, dtype=np.float32)  # (N, D)


def _count(n: int, noun: str) -> str:
    """``"1 file"``, ``"3 files"``: the messages read as sentences."""
    plural = noun + ("es" if noun.endswith("s") else "s")  # class -> classes
    return f"{n} {noun if n == 1 else plural}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_text(path: Path, kind: str) -> str:
    try:
        return _read_file(path, f"{kind}:{path}").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{kind}:{path} is not a text file") from None


# ----------------------------------------------------------------------------
# Reading files (one place, so that tests can make it fail like a real disk)
# ----------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    """The file's bytes; OSError (PermissionError, ...) as the disk reports it."""
    with open(path, "rb") as f:
        return f.read()


def _read_file(path: Path, where: str) -> bytes:
    """:func:`_read_bytes` with every OSError turned into a one-line DataError about ``where``."""
    try:
        return _read_bytes(path)
    except FileNotFoundError:
        raise DataError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{where} is a folder, not a file (a folder of images is folder:{path})") from None
    except PermissionError:
        raise DataError(f"{where}: permission denied (make it readable: chmod a+r)") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise DataError(f"{where}: symlink loop (the link leads back to itself)") from None
        raise DataError(f"{where}: cannot read it ({e.strerror or type(e).__name__})") from None


# ----------------------------------------------------------------------------
# npy: / npz: arrays
# ----------------------------------------------------------------------------
def _load_array(
    kind: str, path: Path, image_size: int | None, channels: int | None, value_range: tuple[float, float]
) -> Dataset:
    where = f"{kind}:{path}"
    raw = _read_file(path, where)
    if not raw.startswith((b"\x93NUMPY", b"PK")):  # np.load would try to unpickle anything else
        raise DataError(f"{where}: not a NumPy file (save one with np.save or np.savez)")
    try:
        loaded = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as e:
        detail = "it holds Python objects, which minigan does not unpickle" if "pickle" in str(e) else str(e)
        raise DataError(f"{where}: cannot read it as a NumPy file ({detail.splitlines()[0]})") from None
    except (OSError, EOFError) as e:
        detail = str(e).splitlines()[0] if str(e) else "unreadable"
        raise DataError(f"{where}: not a NumPy {kind} file ({detail})") from None
    labels = None
    if kind == "npz":
        if not hasattr(loaded, "files"):
            raise DataError(f"{where}: this is a .npy file, not a .npz archive; use npy:{path}")
        keys = list(loaded.files)
        if "x" not in keys:
            raise DataError(
                f"{where}: no array named 'x' (it holds {', '.join(keys) or 'nothing'}); "
                "save it with np.savez(path, x=images, y=labels)"
            )
        x = loaded["x"]
        y = loaded["y"] if "y" in keys else None
        if y is not None:
            labels, class_names = _labels_from_array(y, len(x), where)
    else:
        if hasattr(loaded, "files"):
            raise DataError(f"{where}: this is a .npz archive, not a .npy file; use npz:{path}")
        x = loaded
    images, described = _images_from_array(x, where, value_range)
    images = convert_images(images, image_size, channels)
    if labels is None:
        labels, class_names = np.zeros(len(images), dtype=np.int64), ()
    n, c, h, w = images.shape
    source = f"{where}: {n} images {c}x{h}x{w} (C x H x W), {described}"
    return Dataset(images, labels, where, "train", source, tuple(class_names))


def _images_from_array(x: Any, where: str, value_range: tuple[float, float]) -> tuple[Any, str]:
    """An image array in any of the accepted layouts -> float32 (N, C, H, W) in ``value_range``."""
    x = np.asarray(x)
    if x.dtype.kind not in "uif" and x.dtype != np.bool_:
        raise DataError(f"{where}: the array's dtype is {x.dtype}; images must be numbers (uint8 or float)")
    if x.ndim == 3:
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W)
    elif x.ndim == 4:
        first, last = x.shape[1] in (1, 3), x.shape[3] in (1, 3)
        if last and not first:
            x = x.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        elif not first:
            raise DataError(
                f"{where}: shape {tuple(x.shape)} has no axis of 1 or 3 channels, neither (N, C, H, W) nor (N, H, W, C)"
            )
    else:
        raise DataError(
            f"{where}: the array has rank {x.ndim}, shape {tuple(x.shape)}; images must be (N, H, W), "
            "(N, C, H, W) or (N, H, W, C)" + (" (points go in a csv: file)" if x.ndim == 2 else "")
        )
    if x.shape[0] == 0:
        raise DataError(f"{where}: the array holds no images (shape {tuple(x.shape)})")
    if x.dtype.kind == "f":
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise DataError(
                f"{where}: {bad.size} of {len(x)} images hold NaN or Inf (first at index {int(bad[0])}); "
                "drop them or use numpy.nan_to_num first"
            )
    lo, hi = float(x.min()), float(x.max())
    if x.dtype == np.uint8:
        low, high, how = 0.0, 255.0, "uint8, read as [0, 255]"
    else:
        for low, high in ((0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)):
            if low <= lo and hi <= high:
                break
        else:
            raise DataError(
                f"{where}: values span [{lo:.4g}, {hi:.4g}], none of [0, 1], [-1, 1] or [0, 255]; rescale them first"
            )
        how = f"{x.dtype} values in [{lo:.4g}, {hi:.4g}], read as [{low:g}, {high:g}]"
    a, b = value_range
    images = ((x.astype(np.float64) - low) / (high - low) * (b - a) + a).astype(np.float32)
    return images, f"{how}, scaled to [{a:g}, {b:g}]"


def _labels_from_array(y: Any, n: int, where: str) -> tuple[Any, list[str]]:
    """Labels of any integer values -> 0..K-1, with the original values as the class names."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{where}: 'y' has shape {tuple(y.shape)}; it must be ({n},), one label per image of 'x'")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not (y == np.round(y)).all():
            raise DataError(f"{where}: 'y' holds values that are not whole numbers; labels must be integers")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise DataError(f"{where}: 'y' has dtype {y.dtype}; labels must be integers")
    values, labels = np.unique(y, return_inverse=True)
    return labels.astype(np.int64).reshape(-1), [str(int(v)) for v in values]


def _convert_channels(images: Any, channels: int | None) -> Any:
    """float (N, C, H, W): grey -> RGB by repeating, RGB -> grey by ITU-R 601 luma (Pillow's 'L')."""
    c = images.shape[1]
    if channels is None or channels == c:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=1)  # (N, 1, H, W) -> (N, 3, H, W)
    weights = np.asarray([0.299, 0.587, 0.114], dtype=np.float32).reshape(1, 3, 1, 1)
    return (images * weights).sum(axis=1, keepdims=True).astype(np.float32)  # (N, 3, H, W) -> (N, 1, H, W)


def _resize_array(images: Any, size: int) -> Any:
    """float (N, C, H, W) -> (N, C, size, size): each channel resized as :func:`_fit` does a picture."""
    from PIL import Image

    n, c = images.shape[:2]
    out = np.empty((n, c, size, size), dtype=np.float32)
    for i in range(n):
        for j in range(c):
            out[i, j] = np.asarray(_fit(Image.fromarray(images[i, j], mode="F"), size), dtype=np.float32)
    return out


def _fit(img: Any, size: int) -> Any:
    """Scale so the shorter side is ``size`` (aspect kept, Lanczos: antialiased), then crop the centre."""
    from PIL import Image, ImageOps

    if img.size == (size, size):
        return img
    return ImageOps.fit(img, (size, size), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


# ----------------------------------------------------------------------------
# folder: images
# ----------------------------------------------------------------------------
@dataclass
class _Scan:
    files: list[tuple[str, int, int]]  # (path relative to the folder, size, mtime_ns), sorted
    folders: int


def _scan(root: Path) -> _Scan:
    """Every non-hidden file under ``root`` (following links to folders), refusing symlink loops."""
    files: list[tuple[str, int, int]] = []
    folders = 0
    ancestors: list[str] = []

    def walk(folder: Path, rel: str) -> None:
        nonlocal folders
        real = os.path.realpath(folder)
        if real in ancestors:
            raise DataError(f"folder:{root}: symlink loop, {folder} leads back to {real}; remove the link")
        ancestors.append(real)
        folders += 1
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except PermissionError:
            raise DataError(f"folder:{root}: cannot list {folder}, permission denied (chmod a+rx)") from None
        except OSError as e:
            raise DataError(f"folder:{root}: cannot list {folder} ({e.strerror or type(e).__name__})") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue  # hidden: .DS_Store, .ipynb_checkpoints, editors' files
            path = Path(entry.path)
            name = f"{rel}{entry.name}"
            try:
                st = os.stat(path)  # follows links
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise DataError(f"folder:{root}: symlink loop at {name}; remove the link") from None
                if e.errno == errno.ENOENT:  # a link to nothing: a file that is not an image
                    files.append((name, -1, -1))
                    continue
                raise DataError(f"folder:{root}: cannot read {name} ({e.strerror or type(e).__name__})") from None
            if entry.is_dir(follow_symlinks=True):
                walk(path, f"{name}/")
            else:
                files.append((name, int(st.st_size), int(st.st_mtime_ns)))
        ancestors.pop()

    if not root.exists():
        raise DataError(f"folder:{root}: no such folder")
    if not root.is_dir():
        raise DataError(f"folder:{root} is a file, not a folder (an array is npy:PATH, points csv:PATH)")
    walk(root, "")
    files.sort()
    return _Scan(files, folders)


def folder_cache(
    path: str | os.PathLike,
    image_size: int | None = None,
    channels: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """The folder where :func:`load_source` caches ``folder:path`` decoded with these options.

    It holds ``images.npy`` (uint8 ``(N, C, H, W)``), ``labels.npy`` and ``manifest.json`` (the
    files' names, sizes and mtimes, the options, the class names and the skipped files), once the
    folder has been loaded; delete it to force a fresh decode. ``path`` may also be
    ``"folder:PATH"``.
    """
    text = os.fspath(path)
    if text.startswith("folder:"):
        text = text[len("folder:") :]
    options = {"image_size": image_size, "channels": channels, "version": _CACHE_VERSION}
    return _cache_paths(Path(text), options, cache_dir)


def _cache_paths(root: Path, options: dict[str, Any], cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is None:
        from minigan.data.mnist import default_cache_dir

        cache_dir = default_cache_dir() / "folders"
    key = json.dumps({"root": os.path.realpath(root), **options}, sort_keys=True)
    return Path(cache_dir) / hashlib.sha256(key.encode()).hexdigest()[:16]


def _load_folder(
    root: Path,
    image_size: int | None,
    channels: int | None,
    strict: bool,
    value_range: tuple[float, float],
    cache_dir: str | os.PathLike | None,
) -> Dataset:
    where = f"folder:{root}"
    scan = _scan(root)
    options = {"image_size": image_size, "channels": channels, "version": _CACHE_VERSION}
    cache = _cache_paths(root, options, cache_dir)
    manifest = {"root": os.path.realpath(root), "options": options, "files": [list(f) for f in scan.files]}
    cached = _read_cache(cache, manifest)
    if cached is None:
        pixels, labels, class_names, skipped = _decode_folder(root, scan, image_size, channels)
        _write_cache(cache, manifest, pixels, labels, class_names, skipped)
        how = "decoded"
    else:
        pixels, labels, class_names, skipped = cached
        how = "from the cache"
    if skipped and strict:
        raise DataError(
            f"{where}: {len(skipped)} of {len(scan.files)} files are not readable images: {_names(skipped)}; "
            "remove them, or leave out --strict-data to skip them"
        )
    if skipped:
        # Said on every run (a cache hit too), so the skipped files are never forgotten.
        logger.warning(
            "%s: skipped %d of %d files that are not readable images: %s (--strict-data refuses them instead)",
            where, len(skipped), len(scan.files), _names(skipped),
        )  # fmt: skip
    a, b = value_range
    images = (pixels.astype(np.float32) / 255.0 * (b - a) + a).astype(np.float32)  # uint8 -> value_range
    n, c, h, w = images.shape
    named = ", ".join(class_names[:5]) + (", ..." if len(class_names) > 5 else "")
    classes = f", {_count(len(class_names), 'class')} ({named})"
    source = (
        f"{where}: {n} images {c}x{h}x{w} (C x H x W){classes if class_names else ', no class subfolders'}, "
        f"{how}" + (f", {_count(len(skipped), 'file')} skipped" if skipped else "")
    )
    return Dataset(images, labels, where, "train", source, tuple(class_names))


def _names(items: Sequence[tuple[str, str]]) -> str:
    shown = ", ".join(f"{name} ({why})" for name, why in items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _decode_folder(
    root: Path, scan: _Scan, image_size: int | None, channels: int | None
) -> tuple[Any, Any, list[str], list[tuple[str, str]]]:
    """Decode every image: uint8 (N, C, H, W), int64 labels, class names, skipped (name, why)."""
    from PIL import Image, UnidentifiedImageError

    where = f"folder:{root}"
    decoded: list[tuple[str, Any, bool]] = []  # (name, uint8 (H, W) or (H, W, 3), is colour)
    skipped: list[tuple[str, str]] = []
    unreadable: list[str] = []
    for name, size, _ in scan.files:
        if not name.lower().endswith(IMAGE_EXTENSIONS):
            skipped.append((name, "not a PNG/JPEG/BMP file" if size >= 0 else "a link to nothing"))
            continue
        if size < 0:
            skipped.append((name, "a link to nothing"))
            continue
        try:
            raw = _read_bytes(root / name)
        except PermissionError:
            unreadable.append(name)
            continue
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise DataError(f"{where}: symlink loop at {name}; remove the link") from None
            raise DataError(f"{where}: cannot read {name} ({e.strerror or type(e).__name__})") from None
        try:
            with Image.open(io.BytesIO(raw)) as img:
                img.load()  # decodes now: a truncated file fails here, not later
                colour = img.mode not in _GREY_MODES
                mode = {1: "L", 3: "RGB"}[channels] if channels else ("RGB" if colour else "L")
                picture = img.convert(mode)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            # A file that starts like a PNG/JPEG/BMP but does not decode was cut short or damaged.
            looks_like_image = raw.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"BM"))
            why = "truncated or damaged" if looks_like_image or "truncated" in str(e) else "not an image"
            skipped.append((name, why))
            continue
        if image_size is not None:
            picture = _fit(picture, image_size)
        decoded.append((name, np.asarray(picture, dtype=np.uint8), colour))
    if unreadable:
        more = f" and {len(unreadable) - _SHOWN} more" if len(unreadable) > _SHOWN else ""
        raise DataError(
            f"{where}: {_count(len(unreadable), 'file')} cannot be read (permission denied): "
            f"{', '.join(unreadable[:_SHOWN])}{more}; make them readable (chmod a+r) or move them out"
        )
    if not decoded:
        if not scan.files:
            raise DataError(f"{where}: the folder is empty (no PNG/JPEG/BMP files in {_count(scan.folders, 'folder')})")
        raise DataError(f"{where}: none of its {len(scan.files)} files is a readable image: {_names(skipped)}")
    if channels is None:
        grey = [name for name, _, colour in decoded if not colour]
        colour = [name for name, _, c in decoded if c]
        if grey and colour:
            raise DataError(
                f"{where}: grey and colour images mixed ({len(grey)} grey, e.g. {grey[0]}; {len(colour)} colour, "
                f"e.g. {colour[0]}); choose with --channels 1 (grey) or --channels 3 (colour)"
            )
    sizes: dict[tuple[int, int], list[str]] = {}
    for name, array, _ in decoded:
        sizes.setdefault(array.shape[:2], []).append(name)
    if len(sizes) > 1:
        common = sorted(sizes.items(), key=lambda kv: -len(kv[1]))
        shown = "; ".join(f"{w}x{h}: {len(names)} (e.g. {names[0]})" for (h, w), names in common[:_SHOWN])
        raise DataError(f"{where}: images of {len(sizes)} sizes ({shown}); pass --image-size S to resize them all")
    stack = np.stack([array for _, array, _ in decoded])
    if stack.ndim == 3:
        pixels = stack[:, None]  # (N, H, W) -> (N, 1, H, W)
    else:
        pixels = stack.transpose(0, 3, 1, 2)  # (N, H, W, 3) -> (N, 3, H, W)
    labels, class_names = _folder_labels([name for name, _, _ in decoded])
    return np.ascontiguousarray(pixels), labels, class_names, skipped


def _folder_labels(names: list[str]) -> tuple[Any, list[str]]:
    """Class labels from the first folder of each path, when every image sits in one."""
    if not all("/" in name for name in names):
        return np.zeros(len(names), dtype=np.int64), []
    folders = [name.split("/", 1)[0] for name in names]
    class_names = sorted(set(folders))
    index = {c: i for i, c in enumerate(class_names)}
    return np.asarray([index[f] for f in folders], dtype=np.int64), class_names


def _read_cache(cache: Path, manifest: dict[str, Any]) -> tuple[Any, Any, list[str], list[tuple[str, str]]] | None:
    """The cached decode when its manifest matches the folder as it is now, else None."""
    try:
        saved = json.loads((cache / "manifest.json").read_text())
        if {k: saved.get(k) for k in manifest} != manifest:
            return None  # files added, removed, edited, or other options
        pixels = np.load(cache / "images.npy", allow_pickle=False)
        labels = np.load(cache / "labels.npy", allow_pickle=False)
        if pixels.dtype != np.uint8 or pixels.ndim != 4 or labels.shape != (len(pixels),):
            return None
        return pixels, labels, list(saved["class_names"]), [tuple(s) for s in saved["skipped"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no cache yet, or a damaged one: decode again


def _write_cache(
    cache: Path, manifest: dict[str, Any], pixels: Any, labels: Any, class_names: list[str], skipped: list
) -> None:
    """Write the arrays, then the manifest (atomically, last: a half-written cache never matches)."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "manifest.json").unlink(missing_ok=True)
        for name, array in (("images.npy", pixels), ("labels.npy", labels)):
            tmp = cache / f".{name}.tmp"
            with open(tmp, "wb") as f:
                np.save(f, array, allow_pickle=False)
            os.replace(tmp, cache / name)
        tmp = cache / ".manifest.json.tmp"
        tmp.write_text(json.dumps({**manifest, "class_names": class_names, "skipped": [list(s) for s in skipped]}))
        os.replace(tmp, cache / "manifest.json")
    except OSError as e:  # a read-only cache: the data is still fine, only slower next time
        logger.warning("could not cache the decoded images in %s (%s)", cache, e.strerror or type(e).__name__)
