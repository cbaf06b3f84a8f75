"""MNIST / Fashion-MNIST loader: IDX parsing, validation, search order, downloads.

The tests write their own tiny IDX files (20 images) and serve them from a
local HTTP server on 127.0.0.1, so nothing here needs the network or the real
data set. One integration test reads the real files when they are present
(``../shared/data/mnist`` next to the repository, or ``$MINIGAN_DATA``).
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from minigan.data import mnist
from minigan.data.mnist import ChecksumError, IDXError, MNISTNotFound

N = 20
NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


# ----------------------------------------------------------------------------
# Writing IDX files by hand (independently of the code under test)
# ----------------------------------------------------------------------------
def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """Magic 0x0000 | type | ndim, then big-endian uint32 dims, then the data."""
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def tiny_split(seed: int = 0, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # make sure both ends of the range occur
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_split(folder: Path, split: str = "train", seed: int = 0, gz: bool = True) -> dict[str, str]:
    """Write one split's two files; return {name: sha256 of the decompressed bytes}."""
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, array in zip(NAMES[split], tiny_split(seed)):
        raw = idx_bytes(array)
        sums[name] = hashlib.sha256(raw).hexdigest()
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return sums


def checksums_for(*splits: str, seed: int = 0) -> dict[str, str]:
    sums = {}
    for split in splits:
        for name, array in zip(NAMES[split], tiny_split(seed)):
            sums[name] = hashlib.sha256(idx_bytes(array)).hexdigest()
    return sums


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No MINIGAN_DATA, a private cache, and no proxy for the local test server."""
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ----------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------
def test_parse_idx_round_trip():
    images, labels = tiny_split()
    np.testing.assert_array_equal(mnist.parse_idx(idx_bytes(images)), images)
    np.testing.assert_array_equal(mnist.parse_idx(idx_bytes(labels)), labels)


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_gzip_and_raw(tmp_path, gz):
    write_split(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    images = mnist.read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}")
    np.testing.assert_array_equal(images, tiny_split()[0])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"\x01\x00" + b[2:], "bad magic"),
        (lambda b: b[:2] + b"\x0d" + b[3:], "element type"),  # 0x0D = float32, not supported
        (lambda b: b[:-5], "truncated"),
        (lambda b: b + b"\x00", "trailing"),
        (lambda b: b[:6], "truncated header"),
        (lambda b: b[:2], "too short"),
    ],
)
def test_parse_idx_rejects_corrupt_files(mutate, message):
    with pytest.raises(IDXError, match=message):
        mnist.parse_idx(mutate(idx_bytes(tiny_split()[0])))


def test_truncated_gzip_is_rejected(tmp_path):
    data = gzip.compress(idx_bytes(tiny_split()[0]))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IDXError, match="gzip"):
        mnist.read_idx(path)


def test_gzip_crc_error_is_rejected(tmp_path):
    data = bytearray(gzip.compress(idx_bytes(tiny_split()[0])))
    data[-8] ^= 0xFF  # the CRC-32 stored in the gzip trailer
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(IDXError):
        mnist.read_idx(path)


# ----------------------------------------------------------------------------
# Loading local files
# ----------------------------------------------------------------------------
def test_load_local_files_scaling_and_layout(tmp_path):
    sums = write_split(tmp_path / "data")
    images, labels = mnist.load_mnist("train", data_dir=tmp_path / "data", download=False, checksums=sums)
    raw_images, raw_labels = tiny_split()
    assert images.shape == (N, 1, 28, 28) and images.dtype == np.float32
    assert labels.shape == (N,) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, raw_labels)
    # 0 -> -1, 255 -> +1, linear in between
    assert images[0, 0, 0, 0] == -1.0 and images[0, 0, 0, 1] == 1.0
    np.testing.assert_allclose(images[:, 0], raw_images / 127.5 - 1.0, atol=1e-6)

    unit, _ = mnist.load_mnist("train", data_dir=tmp_path / "data", download=False, checksums=sums, value_range=(0, 1))
    assert unit.dtype == np.float32 and unit.min() == 0.0 and unit.max() == 1.0
    np.testing.assert_allclose(unit[:, 0], raw_images / 255.0, atol=1e-6)


def test_raw_files_in_subfolder_are_found(tmp_path):
    sums = write_split(tmp_path / "data" / "mnist", split="test", gz=False)
    files = mnist.fetch_mnist("test", data_dir=tmp_path / "data", download=False, checksums=sums)
    assert files.images == tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte"
    assert files.origin == str(tmp_path / "data" / "mnist")


def test_torchvision_layout_is_found(tmp_path):
    sums = write_split(tmp_path / "root" / "MNIST" / "raw")
    files = mnist.fetch_mnist("train", data_dir=tmp_path / "root", download=False, checksums=sums)
    assert files.labels.parent == tmp_path / "root" / "MNIST" / "raw"


def test_search_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    sums = {**checksums_for("train", seed=1), **checksums_for("train", seed=2), **checksums_for("train", seed=3)}
    sums = {k: None for k in sums}  # three different contents under the same names: skip the checksum
    write_split(tmp_path / "arg", seed=1)
    write_split(tmp_path / "env", seed=2)
    write_split(tmp_path / "cache" / "mnist", seed=3)
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path / "env"))
    kw = dict(download=False, checksums=sums, cache_dir=tmp_path / "cache")

    def first_pixels(**extra):
        images, _ = mnist.load_mnist("train", **kw, **extra)
        return images

    expected = {s: tiny_split(s)[0][:, None] / 127.5 - 1 for s in (1, 2, 3)}
    np.testing.assert_allclose(first_pixels(data_dir=tmp_path / "arg"), expected[1], atol=1e-6)
    np.testing.assert_allclose(first_pixels(), expected[2], atol=1e-6)
    monkeypatch.delenv("MINIGAN_DATA")
    np.testing.assert_allclose(first_pixels(), expected[3], atol=1e-6)


def test_default_cache_respects_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.default_cache_dir() == tmp_path / "xdg" / "minigan"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.default_cache_dir() == tmp_path / "home" / ".cache" / "minigan"


def test_finding_the_cache_imports_no_downloader():
    """pooch imports tqdm.auto, which warns (with the Python installation's path) in a Jupyter
    kernel without ipywidgets: a chapter that loads MNIST from disk must not import it."""
    import subprocess
    import sys

    code = "import sys; from minigan.data import mnist; mnist.default_cache_dir(); "
    code += "print(sorted(m for m in ('pooch', 'tqdm.auto', 'requests') if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(Path(mnist.__file__).resolve().parents[2])}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_the_summary_writes_the_home_folder_as_a_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cache = tmp_path / "home" / ".cache" / "minigan"
    error = MNISTNotFound("x", searched=[tmp_path / "data", cache], attempts=["no network"], offline=True)
    assert error.summary() == f"not found in {tmp_path / 'data'}, ~/.cache/minigan, and no network to download it"


def test_checksum_mismatch_in_data_dir_raises(tmp_path):
    sums = write_split(tmp_path)
    sums["train-images-idx3-ubyte"] = "0" * 64
    with pytest.raises(ChecksumError, match="SHA-256"):
        mnist.load_mnist("train", data_dir=tmp_path, download=False, checksums=sums)


def test_official_checksum_rejects_other_files(tmp_path):
    # Without a checksums override the official SHA-256 (and the official count) apply.
    write_split(tmp_path)
    with pytest.raises(ChecksumError):
        mnist.load_mnist("train", data_dir=tmp_path, download=False)


def test_fashion_mnist_checks_official_sizes(tmp_path):
    # No SHA-256 is embedded for Fashion-MNIST: the exact official count is checked instead.
    write_split(tmp_path / "fashion-mnist")
    with pytest.raises(IDXError, match="expected 60000 images"):
        mnist.load_mnist("train", dataset="fashion-mnist", data_dir=tmp_path, download=False)


def test_fashion_mnist_same_code_path(tmp_path):
    sums = write_split(tmp_path / "fashion-mnist", split="test")
    images, labels = mnist.load_fashion_mnist("test", data_dir=tmp_path, download=False, checksums=sums)
    assert images.shape == (N, 1, 28, 28)
    assert mnist.DATASETS["fashion-mnist"].class_names[9] == "Ankle boot"


def test_wrong_image_size_rejected(tmp_path):
    images = np.zeros((N, 27, 28), dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(tiny_split()[1]))
    with pytest.raises(IDXError, match=r"\(N, 28, 28\)"):
        mnist.load_mnist("train", data_dir=tmp_path, download=False, checksums={})


def test_label_out_of_range_rejected(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(tiny_split()[0]))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(N, 11, dtype=np.uint8)))
    with pytest.raises(IDXError, match="0-9"):
        mnist.load_mnist("train", data_dir=tmp_path, download=False, checksums={})


def test_image_label_count_mismatch_rejected(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(tiny_split()[0]))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(tiny_split()[1][:-1]))
    with pytest.raises(IDXError, match="labels"):
        mnist.load_mnist("train", data_dir=tmp_path, download=False, checksums={})


def test_not_found_without_download_explains(tmp_path):
    with pytest.raises(MNISTNotFound) as info:
        mnist.load_mnist("train", data_dir=tmp_path / "nowhere", download=False, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message and str(tmp_path / "cache") in message
    assert "disabled" in message and "train-images-idx3-ubyte" in message
    assert "glyphs" in message  # the offline alternative is named
    assert isinstance(info.value, mnist.DatasetUnavailable)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        mnist.load_mnist("validation", download=False)
    with pytest.raises(ValueError, match="data set"):
        mnist.load_mnist("train", dataset="cifar10", download=False)


# ----------------------------------------------------------------------------
# Downloads from a local HTTP server
# ----------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files[path]``; the first path component chooses a behaviour:

    /good/...      the file
    /corrupt/...   a valid gzip IDX file with different content (checksum mismatch)
    /truncated/... announces the full length, sends half, closes the connection
    /shortgz/...   a cut gzip stream with a matching Content-Length
    anything else  404
    """

    def do_GET(self):  # noqa: N802 (http.server's naming)
        mode, _, name = self.path.strip("/").partition("/")
        self.server.requests.append(self.path)
        data = self.server.files.get(name)
        if data is None or mode not in ("good", "corrupt", "truncated", "shortgz"):
            self.send_error(404)
            return
        if mode == "corrupt":
            data = self.server.corrupt[name]
        if mode == "shortgz":
            data = data[: len(data) // 2]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "truncated":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    """A local HTTP server with the tiny train and test splits; yields its base URL."""
    files, corrupt = {}, {}
    for split in ("train", "test"):
        for name, good, bad in zip(NAMES[split], tiny_split(0), tiny_split(99)):
            files[name + ".gz"] = gzip.compress(idx_bytes(good))
            corrupt[name + ".gz"] = gzip.compress(idx_bytes(bad))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.corrupt, httpd.requests = files, corrupt, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def download(tmp_path, mirrors, split="train", **kw):
    return mnist.fetch_mnist(
        split, cache_dir=tmp_path / "cache", mirrors=mirrors, checksums=checksums_for("train", "test"), timeout=5, **kw
    )


def test_download_good(server, tmp_path):
    httpd, url = server
    files = download(tmp_path, [url + "/good/"])
    assert files.images == tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz"
    assert "downloaded from" in files.origin and url in files.origin
    images, labels = files.read()
    np.testing.assert_array_equal(labels, tiny_split()[1])
    # Only the two verified files, no temporary leftovers.
    assert files_in(tmp_path / "cache") == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    # The cached copy is used next time: no more requests even though download is allowed.
    before = len(httpd.requests)
    again = download(tmp_path, [url + "/good/"])
    assert len(httpd.requests) == before and "downloaded" not in again.origin


def test_corrupt_mirror_falls_back_to_next(server, tmp_path):
    httpd, url = server
    files = download(tmp_path, [url + "/corrupt/", url + "/missing/", url + "/good/"])
    np.testing.assert_array_equal(files.read()[1], tiny_split()[1])
    assert any(r.startswith("/corrupt/") for r in httpd.requests)
    assert any(r.startswith("/missing/") for r in httpd.requests)
    assert url + "/good/" in files.origin


@pytest.mark.parametrize(
    "mode, reason", [("corrupt", "SHA-256"), ("truncated", "interrupted|truncated"), ("shortgz", "gzip")]
)
def test_bad_downloads_never_reach_the_cache(server, tmp_path, mode, reason):
    _, url = server
    with pytest.raises(MNISTNotFound, match=reason) as info:
        download(tmp_path, [url + f"/{mode}/"])
    assert url in str(info.value)
    assert files_in(tmp_path / "cache") == []  # no corrupt file and no partial temp file


def test_server_down_gives_clear_error(tmp_path):
    # A port that was free a moment ago: connection refused.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    urls = [f"http://127.0.0.1:{port}/a/", f"http://127.0.0.1:{port}/b/"]
    with pytest.raises(MNISTNotFound) as info:
        download(tmp_path, urls)
    message = str(info.value)
    assert "Downloads tried" in message
    for u in urls:
        assert u + "train-images-idx3-ubyte.gz" in message
    assert "put them in" in message  # how to place the files by hand
    assert info.value.attempts and len(info.value.attempts) == 2
    assert files_in(tmp_path / "cache") == []


def test_a_failed_name_lookup_means_offline_through_the_real_download_stack(tmp_path):
    # ".invalid" never resolves (RFC 6761): pooch -> requests -> urllib3 -> socket.gaierror, the
    # error an offline machine gets. One try, then a clear "no network", no file in the cache.
    urls = ["http://mnist-mirror.invalid/a/", "http://mnist-mirror.invalid/b/"]
    with pytest.raises(MNISTNotFound) as info:
        download(tmp_path, urls)
    assert info.value.offline and len(info.value.attempts) == 1
    assert "no network" in info.value.attempts[0] and "other 1 mirror(s) not tried" in info.value.attempts[0]
    assert files_in(tmp_path / "cache") == []


def test_corrupt_cached_file_is_replaced(server, tmp_path):
    _, url = server
    cached = tmp_path / "cache" / "mnist" / "train-labels-idx1-ubyte.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not a gzip file at all")
    files = download(tmp_path, [url + "/good/"])
    assert files.labels == cached
    np.testing.assert_array_equal(mnist.read_idx(cached), tiny_split()[1])


def test_fashion_download_goes_to_its_own_folder(server, tmp_path):
    _, url = server
    files = download(tmp_path, [url + "/good/"], split="test", dataset="fashion-mnist")
    assert files.images.parent == tmp_path / "cache" / "fashion-mnist"


# ----------------------------------------------------------------------------
# The real MNIST files, when this machine has them
# ----------------------------------------------------------------------------
def _real_mnist_dir() -> Path | None:
    candidates = [Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"]
    if os.environ.get("MINIGAN_DATA"):
        candidates.insert(0, Path(os.environ["MINIGAN_DATA"]))
    for c in candidates:
        if (c / "train-images-idx3-ubyte.gz").is_file() or (c / "mnist" / "train-images-idx3-ubyte.gz").is_file():
            return c
    return None


REAL = _real_mnist_dir()


@pytest.mark.skipif(REAL is None, reason="real MNIST files not found (../shared/data/mnist)")
def test_real_mnist_loads_and_verifies():
    # The official SHA-256 and counts are checked by the loader itself (no override).
    images, labels = mnist.load_mnist("train", data_dir=REAL, download=False)
    assert images.shape == (60000, 1, 28, 28) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    # Well-known facts about MNIST: the first training labels, and the class counts.
    np.testing.assert_array_equal(labels[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_images, test_labels = mnist.load_mnist("test", data_dir=REAL, download=False, value_range=(0, 1))
    assert test_images.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(test_labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])


@pytest.mark.skipif(REAL is None, reason="real MNIST files not found (../shared/data/mnist)")
def test_embedded_checksums_match_the_shared_list():
    listing = REAL / "SHA256SUMS.decompressed"
    if not listing.is_file():
        pytest.skip("no SHA256SUMS.decompressed next to the files")
    expected = dict(line.split()[::-1] for line in listing.read_text().splitlines() if line.strip())
    assert dict(mnist.DATASETS["mnist"].sha256) == expected
