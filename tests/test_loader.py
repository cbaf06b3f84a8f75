"""DataLoader (seeded minibatches on the active backend) and load_dataset (auto/mnist/glyphs)."""

from __future__ import annotations

import gzip
import hashlib
import logging
import struct

import numpy as np
import pytest
from conftest import BACKEND, host

import minigan
from minigan import backend as B
from minigan.data import DataLoader, load_dataset
from minigan.data.mnist import MNISTNotFound


def epoch_indices(loader):
    """The example ids seen in one epoch, batch by batch (data[i] == i)."""
    return [host(batch[1]).tolist() for batch in loader]


@pytest.fixture
def data():
    n = 10
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)  # image i holds 4i .. 4i+3
    y = np.arange(n, dtype=np.int64)
    return x, y


# ----------------------------------------------------------------------------
# DataLoader
# ----------------------------------------------------------------------------
def test_every_example_once_per_epoch(data):
    x, y = data
    loader = DataLoader(x, y, batch_size=3, seed=0)
    assert len(loader) == 4
    batches = epoch_indices(loader)
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(i for b in batches for i in b) == list(range(10))
    assert [i for b in batches for i in b] != list(range(10))  # shuffled


def test_images_travel_with_their_labels(data):
    x, y = data
    for bx, by in DataLoader(x, y, batch_size=4, seed=1):
        np.testing.assert_array_equal(host(bx)[:, 0, 0, 0], 4 * host(by))


def test_drop_last(data):
    x, y = data
    loader = DataLoader(x, y, batch_size=3, seed=0, drop_last=True)
    assert len(loader) == 3
    batches = epoch_indices(loader)
    assert [len(b) for b in batches] == [3, 3, 3]
    assert len(set(i for b in batches for i in b)) == 9


def test_batches_are_tensors_on_the_active_backend(data):
    x, y = data
    bx, by = next(iter(DataLoader(x, y, batch_size=4, seed=0)))
    assert isinstance(bx, minigan.Tensor) and isinstance(by, minigan.Tensor)
    assert B.namespace_of(bx.data) == BACKEND and B.namespace_of(by.data) == BACKEND
    assert bx.dtype == B.float_dtype() and bx.shape == (4, 1, 2, 2)
    assert by.dtype == B.xp().int64 and not bx.requires_grad
    raw = next(iter(DataLoader(x, batch_size=4, seed=0, as_tensor=False)))  # one array: no tuple
    assert not isinstance(raw, (tuple, minigan.Tensor)) and B.namespace_of(raw) == BACKEND


def test_deterministic_per_seed_and_epoch(data):
    x, y = data
    a, b, c = (DataLoader(x, y, batch_size=3, seed=s) for s in (7, 7, 8))
    first_a, first_b, first_c = epoch_indices(a), epoch_indices(b), epoch_indices(c)
    assert first_a == first_b and first_a != first_c
    second_a = epoch_indices(a)
    assert second_a != first_a  # a new order each epoch ...
    assert epoch_indices(b) == second_a  # ... the same one for the same seed
    # Any epoch can be produced directly.
    d = DataLoader(x, y, batch_size=3, seed=7)
    d.set_epoch(1)
    assert epoch_indices(d) == second_a


def test_generator_as_seed(data):
    x, y = data
    a = DataLoader(x, y, batch_size=5, seed=minigan.Generator(3))
    b = DataLoader(x, y, batch_size=5, seed=minigan.Generator(3))
    assert epoch_indices(a) == epoch_indices(b)


def test_no_shuffle(data):
    x, y = data
    assert epoch_indices(DataLoader(x, y, batch_size=4, shuffle=False)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_resume_mid_epoch_matches_uninterrupted_run(data):
    x, y = data
    reference = DataLoader(x, y, batch_size=3, seed=11, drop_last=True)
    stream = epoch_indices(reference) + epoch_indices(reference)  # two epochs, 6 batches

    run = DataLoader(x, y, batch_size=3, seed=11, drop_last=True)
    seen = []
    for batch in run:
        seen.append(host(batch[1]).tolist())
        if len(seen) == 2:
            break
    state = run.state_dict()
    assert state == {"seed": 11, "epoch": 0, "batch": 2}

    resumed = DataLoader(x, y, batch_size=3, seed=999, drop_last=True)  # the seed comes from the state
    resumed.load_state_dict(state)
    seen += epoch_indices(resumed) + epoch_indices(resumed)
    assert seen == stream  # 2 batches + the rest of epoch 0 + all of epoch 1


def test_state_after_the_last_batch_points_to_the_next_epoch(data):
    x, y = data
    loader = DataLoader(x, y, batch_size=5, seed=0)
    it = iter(loader)
    next(it), next(it)  # both batches of epoch 0 taken, the loop never finished
    assert loader.state_dict() == {"seed": 0, "epoch": 1, "batch": 0}


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_larger_than_data_is_an_error(data, drop_last):
    x, y = data
    with pytest.raises(ValueError, match="larger than the data set"):
        DataLoader(x, y, batch_size=11, drop_last=drop_last)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_batch_size(data, bad):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(*data, batch_size=bad)


def test_mismatched_lengths(data):
    x, y = data
    with pytest.raises(ValueError, match="first dimension"):
        DataLoader(x, y[:-1], batch_size=2)
    with pytest.raises(ValueError):
        DataLoader(batch_size=2)


def test_accepts_backend_arrays(data):
    x, y = data
    loader = DataLoader(B.asarray(x), minigan.Tensor(B.asarray(y)), batch_size=5, seed=0)
    assert sorted(i for b in epoch_indices(loader) for i in b) == list(range(10))


# ----------------------------------------------------------------------------
# load_dataset
# ----------------------------------------------------------------------------
def write_tiny_mnist(folder, n=12):
    """Train split in IDX format, written by hand; returns the sha256 override."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sums = {}
    for name, array in (
        ("train-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
        ("train-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8)),
    ):
        raw = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
        sums[name] = hashlib.sha256(raw).hexdigest()
        (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
    return sums


@pytest.fixture(autouse=True)
def no_user_data(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def test_auto_uses_mnist_when_present_and_says_so(tmp_path, caplog):
    sums = write_tiny_mnist(tmp_path / "data" / "mnist")
    with caplog.at_level(logging.WARNING, logger="minigan.data"):
        ds = load_dataset("auto", data_dir=tmp_path / "data", download=False, checksums=sums)
    assert ds.name == "mnist" and len(ds) == 12
    assert str(tmp_path / "data" / "mnist") in ds.source
    assert any("MNIST" in r.message and str(tmp_path / "data") in r.message for r in caplog.records)
    images, labels = ds  # unpacks like a tuple
    assert images.shape == (12, 1, 28, 28) and labels.dtype == np.int64


def test_auto_falls_back_to_glyphs_loudly(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="minigan.data"):
        ds = load_dataset("auto", data_dir=tmp_path / "empty", download=False, n=30, seed=4)
    assert ds.name == "glyphs" and ds.images.shape == (30, 1, 28, 28)
    warning = " ".join(r.message for r in caplog.records if r.levelno >= logging.WARNING)
    assert "glyph" in warning and "MNIST" in warning and str(tmp_path / "empty") in warning


def test_explicit_mnist_does_not_fall_back(tmp_path):
    with pytest.raises(MNISTNotFound):
        load_dataset("mnist", data_dir=tmp_path / "empty", download=False)


def test_glyphs_by_name_and_value_range():
    ds = load_dataset("glyphs", split="test", n=20, value_range=(0.0, 1.0))
    assert ds.name == "glyphs" and ds.split == "test"
    assert ds.images.min() == 0.0 and ds.images.max() == 1.0
    assert ds.class_names[3] == "3"


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("cifar10")


def test_import_is_light():
    # `import minigan.data` must not pull in the heavy submodules (or matplotlib).
    import subprocess
    import sys

    code = (
        "import sys, minigan, minigan.data; "
        "assert 'matplotlib' not in sys.modules; "
        "assert not any(m in sys.modules for m in ('minigan.data.mnist', 'minigan.data.glyphs', 'minigan.data.toy')); "
        "minigan.data.DataLoader; assert 'minigan.data.loader' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
