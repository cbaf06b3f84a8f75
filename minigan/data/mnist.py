"""MNIST and Fashion-MNIST: find, download, verify and read the official IDX files.

Both data sets ship as four gzip-compressed IDX files (images and labels for
the train and test splits). IDX is a tiny binary format:

    bytes 0-1   0x00 0x00
    byte  2     element type (0x08 = unsigned byte; the only one used here)
    byte  3     number of dimensions d (3 for images, 1 for labels)
    4*d bytes   the size of each dimension, big-endian uint32
    the rest    the elements, row-major (C order)

so a magic number of 0x00000803 means "uint8, 3 dimensions".

Where the files are looked for, in order:

1. the ``data_dir`` argument (``--data-dir`` on the command line);
2. the directory in the ``MINIGAN_DATA`` environment variable;
3. the per-user cache (pooch's ``os_cache``: ``$XDG_CACHE_HOME/minigan`` or
   ``~/.cache/minigan`` on Linux).

In each directory the files may sit directly, or in a ``mnist`` /
``fashion-mnist`` subdirectory (or torchvision's ``MNIST/raw``), gzipped
(``.gz``) or not. Files that are missing everywhere are downloaded into the
cache from several public mirrors in turn (the transfer is pooch's), verified,
and only then moved into place with an atomic rename, so a partial or corrupt
download is never used.

Verification: for MNIST the SHA-256 of each *decompressed* file is known (it is
the same whichever mirror recompressed the file), so the content is checked
exactly. For Fashion-MNIST no SHA-256 is embedded: the loader checks the gzip
CRC, the IDX header and the exact expected sizes instead.

Read next: ``minigan/data/glyphs.py`` (digits that need no download).
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import logging
import os
import socket
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minigan.backend import host_np as np

__all__ = [
    "DATASETS",
    "ChecksumError",
    "DatasetSpec",
    "DatasetUnavailable",
    "IDXError",
    "MNISTFiles",
    "MNISTNotFound",
    "default_cache_dir",
    "fetch_mnist",
    "load_fashion_mnist",
    "load_mnist",
    "parse_idx",
    "read_idx",
]

logger = logging.getLogger("minigan.data")
#: The "downloading URL" / "failed" lines: a logger of their own, so that ``minigan train --quiet``
#: can silence them and keep the data set's other warnings.
download_logger = logging.getLogger("minigan.data.download")


# ----------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------
class IDXError(ValueError):
    """A file is not a valid IDX file of the expected kind (bad magic, sizes, truncated gzip...)."""


class ChecksumError(IDXError):
    """A file's SHA-256 differs from the known checksum of the official file."""


class DatasetUnavailable(RuntimeError):
    """The data set is not on this machine and could not be downloaded.

    The message lists every directory and URL that was tried and how to put the
    files in place by hand.
    """


class MNISTNotFound(DatasetUnavailable):
    """MNIST or Fashion-MNIST could not be found or downloaded.

    Attributes:
        searched: the directories that were looked in.
        attempts: one line per failed download (empty when downloading was off).
    """

    def __init__(
        self, message: str, searched: Sequence[Path] = (), attempts: Sequence[str] = (), *, offline: bool = False
    ) -> None:
        super().__init__(message)
        self.searched = list(searched)
        self.attempts = list(attempts)
        self.offline = offline  # the first download showed there is no network: the other mirrors were skipped

    def summary(self) -> str:
        """One line: why the data set is missing (folders under the home folder written ``~/...``)."""
        where = ", ".join(_home_relative(d) for d in self.searched) or "nowhere"
        if not self.attempts:
            return f"not found in {where} (download disabled)"
        if self.offline:
            return f"not found in {where}, and no network to download it"
        return f"not found in {where}, and {len(self.attempts)} download attempt(s) failed"


def _home_relative(folder: Path) -> str:
    """``~/.cache/minigan`` for a folder under the home folder: the same text on every machine (a
    notebook's committed output must not name the machine's user), and still a path to paste."""
    try:
        return str(Path("~") / Path(folder).expanduser().relative_to(Path.home()))
    except ValueError:
        return str(folder)


# ----------------------------------------------------------------------------
# What the data sets are
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    """One IDX data set: its file names, official sizes, checksums and mirrors.

    Attributes:
        name: ``"mnist"`` or ``"fashion-mnist"``; also the cache subdirectory.
        title: human-readable name for messages.
        mirrors: base URLs; a file's URL is ``mirror + filename + ".gz"``.
        counts: number of examples per split.
        sha256: SHA-256 of each *decompressed* file, by file name (no ``.gz``);
            files missing here are checked by structure and size only.
        class_names: the meaning of labels 0-9.
        torchvision_dir: the folder torchvision uses, so its downloads are found too.
    """

    name: str
    title: str
    mirrors: tuple[str, ...]
    counts: Mapping[str, int]
    sha256: Mapping[str, str] = field(default_factory=dict)
    class_names: tuple[str, ...] = tuple(str(d) for d in range(10))
    torchvision_dir: str = ""

    def files(self, split: str) -> tuple[str, str]:
        """The (images, labels) file names of ``split`` ("train" or "test"), without ``.gz``."""
        prefix = {"train": "train", "test": "t10k"}[split]
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror
            "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's mirror
            "http://yann.lecun.com/exdb/mnist/",  # the original site (often refuses downloads now)
        ),
        counts={"train": 60000, "test": 10000},
        # SHA-256 of the decompressed official files.
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        torchvision_dir="MNIST",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's own bucket
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # Keras' mirror
        ),
        counts={"train": 60000, "test": 10000},
        sha256={},  # not embedded: verified by gzip CRC, header and exact sizes
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        torchvision_dir="FashionMNIST",
    ),
}

IMAGE_SHAPE = (28, 28)


def _spec(dataset: str) -> DatasetSpec:
    key = dataset.lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown IDX data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[key]


def _split(split: str) -> str:
    aliases = {"train": "train", "training": "train", "test": "test", "t10k": "test"}
    if split not in aliases:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return aliases[split]


# ----------------------------------------------------------------------------
# Reading IDX
# ----------------------------------------------------------------------------
def _decompress(raw: bytes, source: str) -> bytes:
    """Undo gzip if ``raw`` starts with the gzip magic bytes; check its CRC and length."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        # gzip.decompress checks the CRC-32 and the length stored at the end of the
        # stream, so a truncated or damaged download cannot pass silently.
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise IDXError(f"{source}: corrupt or truncated gzip data ({e})") from e


def parse_idx(data: bytes, source: str = "<bytes>") -> Any:
    """Parse the bytes of an (uncompressed) unsigned-byte IDX file into a uint8 array.

    Raises:
        IDXError: wrong magic number, unsupported element type, or a data length
            that does not match the dimensions in the header.
    """
    if len(data) < 4:
        raise IDXError(f"{source}: only {len(data)} bytes, too short for an IDX header")
    zero, dtype_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or ndim == 0:
        raise IDXError(f"{source}: bad magic number 0x{data[:4].hex()} (expected 0x000008NN); not an IDX file")
    if dtype_code != 0x08:
        raise IDXError(f"{source}: element type 0x{dtype_code:02x} is not supported (only 0x08, unsigned byte)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{source}: truncated header ({len(data)} bytes, need {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise IDXError(
            f"{source}: header says shape {shape} ({expected} bytes in all) but the file has {len(data)} bytes"
            + (" (truncated)" if len(data) < expected else " (trailing data)")
        )
    # A copy, so the returned array is writable and does not pin the bytes object.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_idx(path: str | os.PathLike, sha256: str | None = None) -> Any:
    """Read an IDX file (gzip-compressed or raw) into a uint8 array.

    Args:
        path: the file.
        sha256: if given, the SHA-256 the *decompressed* content must have.

    Raises:
        IDXError / ChecksumError: the file is corrupt or not the expected one.
    """
    path = Path(path)
    data = _decompress(path.read_bytes(), str(path))
    if sha256 is not None:
        _check_sha256(data, sha256, str(path))
    return parse_idx(data, str(path))


def _check_sha256(data: bytes, expected: str, source: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.lower():
        raise ChecksumError(
            f"{source}: SHA-256 of the decompressed data is {actual}, expected {expected}; "
            "the file is corrupt or not the official one"
        )


def _validate(array: Any, kind: str, count: int | None, source: str) -> None:
    """Check that an images/labels array has the shape MNIST-format files must have."""
    if kind == "images":
        if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
            raise IDXError(f"{source}: expected images of shape (N, 28, 28), got {array.shape}")
    else:
        if array.ndim != 1:
            raise IDXError(f"{source}: expected labels of shape (N,), got {array.shape}")
        if array.size and int(array.max()) > 9:
            raise IDXError(f"{source}: labels must be 0-9, found {int(array.max())}")
    if count is not None and array.shape[0] != count:
        raise IDXError(f"{source}: expected {count} {kind}, the file has {array.shape[0]}")


# ----------------------------------------------------------------------------
# Finding the files
# ----------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """The per-user cache, as pooch places it: ``$XDG_CACHE_HOME/minigan`` or ``~/.cache/minigan``
    on Linux, ``~/Library/Caches/minigan`` on macOS, the local app data folder on Windows."""
    # platformdirs is what pooch.os_cache calls. Importing pooch here instead would import
    # tqdm.auto, which in a Jupyter kernel without ipywidgets prints a warning (with the path
    # of the Python installation) into every notebook that merely loads MNIST from disk.
    import platformdirs

    return Path(platformdirs.user_cache_dir("minigan"))


def _search_dirs(data_dir: str | os.PathLike | None, cache_dir: Path) -> list[tuple[Path, str]]:
    """(directory, why it is searched), in search order, without duplicates."""
    dirs: list[tuple[Path, str]] = []
    if data_dir is not None:
        dirs.append((Path(data_dir).expanduser(), "data_dir argument"))
    if os.environ.get("MINIGAN_DATA"):
        dirs.append((Path(os.environ["MINIGAN_DATA"]).expanduser(), "MINIGAN_DATA"))
    dirs.append((cache_dir, "cache"))
    unique, seen = [], set()
    for d, why in dirs:
        if d.resolve() not in seen:
            seen.add(d.resolve())
            unique.append((d, why))
    return unique


def _candidates(directory: Path, spec: DatasetSpec, name: str) -> list[Path]:
    """Where ``name`` may be in ``directory``: flat, in a subfolder, torchvision's layout; .gz or raw."""
    folders = [directory, directory / spec.name]
    if spec.torchvision_dir:
        folders.append(directory / spec.torchvision_dir / "raw")
    return [folder / (name + ext) for folder in folders for ext in (".gz", "")]


@dataclass
class MNISTFiles:
    """The two verified files of one split and where they came from.

    Attributes:
        images, labels: paths of the IDX files.
        origin: a human-readable phrase saying where they came from
            (a directory, or the URL they were just downloaded from).
        spec, split: which data set and split.
        raw_images, raw_labels: the verified uint8 contents (read once while checking).
    """

    images: Path
    labels: Path
    origin: str
    spec: DatasetSpec
    split: str
    raw_images: Any = field(repr=False, default=None)
    raw_labels: Any = field(repr=False, default=None)

    def read(self, value_range: tuple[float, float] = (-1.0, 1.0)) -> tuple[Any, Any]:
        """``(images, labels)`` as :func:`load_mnist` returns them."""
        if self.raw_images.shape[0] != self.raw_labels.shape[0]:
            raise IDXError(
                f"{self.images} has {self.raw_images.shape[0]} images "
                f"but {self.labels} has {self.raw_labels.shape[0]} labels"
            )
        return _scale(self.raw_images, value_range), self.raw_labels.astype(np.int64)


def fetch_mnist(
    split: str = "train",
    *,
    dataset: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    cache_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str | None] | None = None,
    timeout: float = 30.0,
) -> MNISTFiles:
    """Find (or download) the image and label files of one split and verify them.

    Arguments are those of :func:`load_mnist`. Returns the verified paths.

    Raises:
        MNISTNotFound: a file is in none of the directories and could not be downloaded.
        IDXError / ChecksumError: a file in ``data_dir`` or ``MINIGAN_DATA`` is corrupt
            (it is not replaced: you put it there, so you should know). A corrupt file
            in the cache is deleted and downloaded again.
    """
    spec, split = _spec(dataset), _split(split)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    dirs = _search_dirs(data_dir, cache)
    known = dict(spec.sha256) if checksums is None else dict(checksums)
    # The official counts are checked only together with the official checksums:
    # overriding `checksums` means "these are my own files" (the tests use 20 images).
    counts = spec.counts if checksums is None else None

    paths: dict[str, Path] = {}
    arrays: dict[str, Any] = {}
    origins: list[str] = []
    attempts: list[str] = []
    for kind, name in zip(("images", "labels"), spec.files(split)):
        count = counts[split] if counts is not None else None
        hit = _find_local(name, kind, spec, dirs, cache, known.get(name), count)
        offline = False
        if hit is not None:
            origins.append(str(hit[0].parent))
        elif download:
            urls = list(mirrors if mirrors is not None else spec.mirrors)
            try:
                hit = _download(name, kind, urls, cache / spec.name, known.get(name), count, timeout, attempts)
            except _NoNetwork:
                hit, offline = None, True
            if hit is not None:
                origins.append(f"downloaded from {hit[2]}")
        if hit is None:
            message = _not_found_message(spec, split, dirs, cache, download, attempts, mirrors)
            raise MNISTNotFound(message, [d for d, _ in dirs], attempts, offline=offline)
        paths[kind], arrays[kind] = hit[0], hit[1]
    origin = origins[0] if origins[0] == origins[1] else " and ".join(origins)
    return MNISTFiles(paths["images"], paths["labels"], origin, spec, split, arrays["images"], arrays["labels"])


def _find_local(
    name: str,
    kind: str,
    spec: DatasetSpec,
    dirs: list[tuple[Path, str]],
    cache: Path,
    sha256: str | None,
    count: int | None,
) -> tuple[Path, Any] | None:
    """The first valid copy of file ``name`` in ``dirs``, with its verified contents."""
    for directory, _why in dirs:
        for path in _candidates(directory, spec, name):
            if not path.is_file():
                continue
            try:
                array = read_idx(path, sha256)
                _validate(array, kind, count, str(path))
                return path, array
            except IDXError:
                if directory == cache:
                    # Our own cache only ever receives verified files; if one went bad
                    # (disk error, manual edit), drop it so that it is fetched again.
                    logger.warning("removing corrupt cached file %s", path)
                    path.unlink(missing_ok=True)
                    continue
                raise
    return None


class _NoNetwork(Exception):
    """Raised by :func:`_download` when a failure shows that no mirror can be reached."""


#: errno values that mean "this machine has no network", not "this server is down".
_NO_NETWORK_ERRNOS = frozenset({errno.ENETUNREACH, errno.ENETDOWN})


def _causes(e: BaseException) -> list[BaseException]:
    """``e`` and every exception behind it: requests wraps urllib3, which wraps the socket's error."""
    found: list[BaseException] = []
    stack: list[Any] = [e]
    while stack:
        x = stack.pop()
        if not isinstance(x, BaseException) or any(x is f for f in found):
            continue
        found.append(x)
        stack += [x.__cause__, x.__context__, getattr(x, "reason", None), *x.args]
    return found


def _no_network(e: BaseException) -> bool:
    """True when a download error says no server at all can be reached from here.

    That is a failed name lookup (no DNS: the usual offline machine) or an unreachable
    network. A refused connection, a timeout or an HTTP error (404, 403, ...) concern one
    server, and the next mirror is another server, so those do not count.
    """
    for cause in _causes(e):
        if isinstance(cause, socket.gaierror):
            return True
        if isinstance(cause, OSError) and cause.errno in _NO_NETWORK_ERRNOS:
            return True
    return False


def _describe(e: BaseException) -> str:
    """One line for a failed download; a connection cut mid-file says so in words."""
    text = f"{type(e).__name__}: {e}"
    if any(type(c).__name__ in ("IncompleteRead", "ChunkedEncodingError", "ProtocolError") for c in _causes(e)):
        return f"download interrupted before the end of the file ({text})"
    return text


def _download(
    name: str,
    kind: str,
    urls: Sequence[str],
    target_dir: Path,
    sha256: str | None,
    count: int | None,
    timeout: float,
    attempts: list[str],
) -> tuple[Path, Any, str] | None:
    """Try each mirror in turn; on success the verified file is at ``target_dir/name.gz``.

    pooch does the transfer into a staging folder the loader never looks in; the file is
    verified there and only then renamed into place, so a corrupt or cut download is never
    used. Returns (path, contents, url), or None after recording each failure in ``attempts``.
    Raises :class:`_NoNetwork` (the failure recorded too) as soon as one failure shows there
    is no network at all: trying the other mirrors would only repeat it.
    """
    staging = target_dir / ".download"
    for i, base in enumerate(urls):
        url = base.rstrip("/") + "/" + name + ".gz"
        download_logger.warning("downloading %s", url)
        staged: Path | None = None
        try:
            staged = _fetch(url, staging, timeout)
            raw = staged.read_bytes()
            # Verify *before* anything is moved where the loader looks.
            data = _decompress(raw, "download")
            if sha256 is not None:
                _check_sha256(data, sha256, "download")
            array = parse_idx(data, "download")
            _validate(array, kind, count, "download")
        except (OSError, IDXError) as e:  # requests' errors are OSErrors: offline, refused, 404, cut
            if staged is not None:
                staged.unlink(missing_ok=True)
            if _no_network(e):
                rest = len(urls) - i - 1
                skipped = f"; the other {rest} mirror(s) not tried" if rest else ""
                attempts.append(f"{url}: no network ({type(e).__name__}: {e}){skipped}")
                download_logger.warning("  failed: no network (%s)%s", e, skipped)
                raise _NoNetwork from e
            attempts.append(f"{url}: {_describe(e)}")
            download_logger.warning("  failed: %s", _describe(e))
            continue
        path = target_dir / (name + ".gz")
        os.replace(staged, path)  # atomic: the file under the real name is whole and verified
        _remove_if_empty(staging)
        return path, array, url
    _remove_if_empty(staging)
    return None


def _fetch(url: str, folder: Path, timeout: float) -> Path:
    """Download ``url`` into ``folder`` with pooch and return the file's path.

    No hash is given to pooch: the known SHA-256 is that of the *decompressed* file (the same
    whichever mirror recompressed it), which :func:`_download` checks itself.
    """
    import pooch  # lazily: requests is slow to import, and most runs find the files locally

    downloader = pooch.HTTPDownloader(
        progressbar=False, timeout=timeout, headers={"User-Agent": "minigan (https://pypi.org/project/minigan)"}
    )
    pooch_logger = pooch.get_logger()
    level = pooch_logger.level
    pooch_logger.setLevel(logging.WARNING)  # our own "downloading ..." line says it already
    try:
        fname = url.rsplit("/", 1)[1]
        return Path(pooch.retrieve(url, known_hash=None, fname=fname, path=folder, downloader=downloader))
    finally:
        pooch_logger.setLevel(level)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # missing, or holds another process's download
        pass


def _not_found_message(
    spec: DatasetSpec,
    split: str,
    dirs: list[tuple[Path, str]],
    cache: Path,
    download: bool,
    attempts: list[str],
    mirrors: Sequence[str] | None,
) -> str:
    images, labels = spec.files(split)
    lines = [f"{spec.title} ({split} split) is not available.", f"Looked for {images}[.gz] and {labels}[.gz] in:"]
    for d, why in dirs:
        lines.append(f"  - {d}  ({why}; also its {spec.name}/ subfolder)")
    if not download:
        lines.append("Downloading was disabled (download=False / --no-download).")
    elif attempts:
        lines.append("Downloads tried:")
        lines.extend(f"  - {a}" for a in attempts)
    urls = ", ".join(mirrors if mirrors is not None else spec.mirrors)
    lines += [
        "To provide the files by hand, download the four .gz files (train-images-idx3-ubyte.gz,",
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)",
        f"from one of {urls}",
        f"and put them in {cache / spec.name} (or any folder given as data_dir= / --data-dir or MINIGAN_DATA).",
        "Or use the built-in glyph digits, which need no download: dataset 'glyphs' (--dataset glyphs).",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------
def _scale(images: Any, value_range: tuple[float, float]) -> Any:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) with 0 -> low and 255 -> high."""
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    out = images.astype(np.float32)[:, None]  # (N, 28, 28) -> (N, 1, 28, 28): one channel, NCHW
    out *= (hi - lo) / 255.0  # Python floats keep the float32 array float32
    out += lo
    return out


def load_mnist(
    split: str = "train",
    *,
    dataset: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    value_range: tuple[float, float] = (-1.0, 1.0),
    cache_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str | None] | None = None,
    timeout: float = 30.0,
) -> tuple[Any, Any]:
    """Load one split of MNIST (or Fashion-MNIST) as host arrays.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        dataset: ``"mnist"`` or ``"fashion-mnist"`` (same file format).
        data_dir: a directory to look in first (see the module docstring for the order).
        download: fetch missing files into the cache; with False, raise instead.
        value_range: (-1, 1) (default, for tanh generators) or (0, 1), or any (low, high).
        cache_dir: where downloads go; default :func:`default_cache_dir`.
        mirrors: base URLs to download from instead of the official mirrors.
        checksums: SHA-256 of each decompressed file by name (``None`` to skip one)
            instead of the official ones; also turns off the official-size check.
            For tests and for your own IDX files.
        timeout: seconds before a connection attempt is given up.

    Returns:
        images: float32 ``(N, 1, 28, 28)`` (NCHW) in ``value_range``.
        labels: int64 ``(N,)``.

    Raises:
        MNISTNotFound (a DatasetUnavailable): not found and not downloadable.
        IDXError / ChecksumError: a file is corrupt.
    """
    files = fetch_mnist(
        split,
        dataset=dataset,
        data_dir=data_dir,
        download=download,
        cache_dir=cache_dir,
        mirrors=mirrors,
        checksums=checksums,
        timeout=timeout,
    )
    return files.read(value_range)


def load_fashion_mnist(split: str = "train", **kwargs: Any) -> tuple[Any, Any]:
    """:func:`load_mnist` for Fashion-MNIST (10 clothing classes, same format)."""
    return load_mnist(split, dataset="fashion-mnist", **kwargs)
