"""Choosing a data set, and cutting it into shuffled minibatches.

Two things live here:

- :func:`load_dataset` picks the data: ``"mnist"``, ``"fashion-mnist"``,
  ``"glyphs"`` (generated, offline) or ``"auto"``, which uses MNIST when it is on
  this machine or can be downloaded and otherwise falls back to the glyph digits,
  saying so loudly (a WARNING on the ``minigan.data`` logger).
- :class:`DataLoader` iterates over minibatches: each epoch visits every example
  once in a new random order, and each batch is moved from the host to the
  active backend (NumPy, CuPy, ...) only when it is needed, so the full data
  set never has to fit in GPU memory.

The order is a pure function of ``(seed, epoch)``: the same seed gives the
same batches on every run and on every backend, and a run resumed at epoch
``e``, batch ``b`` (see :meth:`DataLoader.state_dict`) sees exactly the
batches the uninterrupted run would have seen.

Read next: ``minigan/viz/images.py`` (looking at what the generator makes).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from minigan import backend as B
from minigan.autograd import Tensor
from minigan.backend import host_np as np

__all__ = ["DATASET_NAMES", "DataLoader", "Dataset", "load_dataset"]

logger = logging.getLogger("minigan.data")

DATASET_NAMES = ("auto", "mnist", "fashion-mnist", "glyphs")


@dataclass
class Dataset:
    """A labelled image data set held on the host.

    Unpacks like a tuple: ``images, labels = load_dataset("mnist")``.

    Attributes:
        images: float32 ``(N, 1, 28, 28)`` in ``value_range`` (``(N, C, H, W)`` for a
            :func:`minigan.data.sources.load_source` folder or array; ``(N, D)`` points for csv:).
        labels: int64 ``(N,)``.
        name: ``"mnist"``, ``"fashion-mnist"`` or ``"glyphs"`` (what was actually used).
        split: ``"train"`` or ``"test"``.
        source: where the data came from (a directory, a URL, "generated ...").
        class_names: what each label means (empty: the data has no classes).
    """

    images: Any
    labels: Any
    name: str
    split: str
    source: str
    class_names: tuple[str, ...] = tuple(str(d) for d in range(10))

    def __iter__(self) -> Iterator[Any]:
        return iter((self.images, self.labels))

    def __len__(self) -> int:
        return len(self.labels)


def load_dataset(
    name: str = "auto",
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    value_range: tuple[float, float] = (-1.0, 1.0),
    seed: int = 0,
    n: int | None = None,
    **mnist_kwargs: Any,
) -> Dataset:
    """Load a 28x28 digit (or clothing) data set by name.

    Args:
        name: ``"auto"``, ``"mnist"``, ``"fashion-mnist"`` or ``"glyphs"``.
            ``"auto"`` tries MNIST (local files, then a download unless
            ``download=False``) and falls back to ``"glyphs"`` when that fails.
        split: ``"train"`` or ``"test"``.
        data_dir, download: where to look for MNIST first / whether to download
            (see :mod:`minigan.data.mnist`).
        value_range: pixel range, (-1, 1) for tanh generators or (0, 1).
        seed: seed of the generated glyph digits (ignored for MNIST).
        n: number of glyph digits (default: MNIST's 60,000 train / 10,000 test);
            for MNIST, keep only the first ``n`` examples.
        **mnist_kwargs: passed on to :func:`minigan.data.mnist.fetch_mnist`
            (``cache_dir``, ``mirrors``, ``checksums``, ``timeout``).

    Returns:
        A :class:`Dataset`; ``.name`` and ``.source`` say what was used.
    """
    from minigan.data import mnist  # imported here: keeps `import minigan.data` light

    key = name.lower().replace("_", "-")
    if key not in DATASET_NAMES:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}")

    if key == "glyphs":
        return _glyphs(split, value_range, seed, n, reason="")

    try:
        files = mnist.fetch_mnist(
            split, dataset="mnist" if key == "auto" else key, data_dir=data_dir, download=download, **mnist_kwargs
        )
    except mnist.DatasetUnavailable as e:
        if key != "auto":
            raise
        summary = e.summary() if isinstance(e, mnist.MNISTNotFound) else str(e).splitlines()[0]
        return _glyphs(split, value_range, seed, n, reason=f"MNIST {summary}")
    images, labels = files.read(value_range)
    if n is not None:
        # Copies, so the full 60,000-image arrays can be freed.
        images, labels = images[:n].copy(), labels[:n].copy()
    spec = files.spec
    if key == "auto":
        logger.warning("dataset 'auto': using %s %s (%d images) from %s", spec.title, split, len(labels), _shown(files))
    else:
        logger.info("using %s %s (%d images) from %s", spec.title, split, len(labels), _shown(files))
    return Dataset(images, labels, spec.name, files.split, files.origin, spec.class_names)


def _shown(files: Any) -> str:
    """Where the files came from, as a path relative to the working folder when it is one: a message
    (or a notebook's committed output) then says the same on every machine."""
    origin = files.origin
    if os.path.isabs(origin) and os.path.isdir(origin):
        return os.path.relpath(origin)
    return origin


def _glyphs(split: str, value_range: tuple[float, float], seed: int, n: int | None, reason: str) -> Dataset:
    from minigan.data.glyphs import glyph_digits

    split = {"training": "train", "t10k": "test"}.get(split, split)
    count = n if n is not None else (60000 if split == "train" else 10000)
    images, labels = glyph_digits(count, seed, split=split, value_range=value_range)
    source = f"generated from matplotlib's fonts (glyph digits, seed {seed})"
    if reason:
        # Loud on purpose: someone expecting MNIST must notice they got something else.
        logger.warning("dataset 'auto': %s -> using the built-in glyph digits instead, %s", reason, source)
    else:
        logger.info("using glyph digits %s (%d images), %s", split, count, source)
    return Dataset(images, labels, "glyphs", split, source)


# ----------------------------------------------------------------------------
# Minibatches
# ----------------------------------------------------------------------------
class DataLoader:
    """Shuffled minibatches of host arrays, moved to the active backend one batch at a time.

    Example::

        images, labels = load_dataset("glyphs")
        loader = DataLoader(images, labels, batch_size=128, seed=0)
        for epoch in range(5):
            for x, y in loader:          # x: Tensor (128, 1, 28, 28), y: Tensor (128,)
                ...

    Args:
        *arrays: one or more arrays with the same first dimension N (host NumPy
            arrays, or anything ``minigan.to_numpy`` accepts; they are kept on the host).
        batch_size: examples per batch.
        shuffle: a new random order every epoch (False: always 0..N-1).
        seed: an int, a :class:`minigan.Generator` (one int is drawn from it), or
            None for a random seed (drawn once, so epochs still differ).
        drop_last: skip the final batch when it would be smaller than ``batch_size``
            (GAN training usually wants equal batches: batch-norm statistics and the
            D/G balance depend on the batch size).
        as_tensor: yield :class:`minigan.Tensor` objects (default) or raw backend arrays.
        on_device: keep the whole data set on the active backend (moved there once, at the
            first batch) and cut the batches there, so that a training step copies nothing
            from the host; each epoch's order is the one upload. For a GPU when the data set
            fits in its memory (MNIST's 60,000 images: 188 MB as float32). The batches are
            the same as without it.

    Iterating yields a single batch when one array was given, else a tuple.
    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(
        self,
        *arrays: Any,
        batch_size: int = 128,
        shuffle: bool = True,
        seed: int | B.Generator | None = None,
        drop_last: bool = False,
        as_tensor: bool = True,
        on_device: bool = False,
    ) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        self.arrays = [B.to_numpy(a) for a in arrays]
        n = self.arrays[0].shape[0] if self.arrays[0].ndim else 0
        for a in self.arrays:
            if a.ndim == 0 or a.shape[0] != n:
                shapes = ", ".join(str(tuple(x.shape)) for x in self.arrays)
                raise ValueError(f"all arrays must have the same first dimension, got shapes {shapes}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if n == 0:
            raise ValueError("the data set is empty: there is nothing to iterate over")
        for i, a in enumerate(self.arrays):
            if a.dtype.kind in "fc" and not np.isfinite(a).all():
                bad = ~np.isfinite(a.reshape(n, -1)).all(axis=1)
                rows = np.flatnonzero(bad)
                raise ValueError(
                    f"array {i} of the data set contains NaN or Inf in {rows.size} of {n} examples "
                    f"(first at index {int(rows[0])}); clean the data first (drop those examples, "
                    "or replace the values with numpy.nan_to_num)"
                )
        if batch_size > n:
            # Without drop_last this would be one short batch per epoch; with it, no batch
            # at all, and a training loop would silently do nothing. Both are mistakes.
            raise ValueError(
                f"batch_size={batch_size} is larger than the data set ({n} examples); use batch_size <= {n}"
            )
        self.n = n
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.as_tensor = as_tensor
        self.on_device = on_device
        self._device_arrays: tuple[str, list[Any]] | None = None  # (backend name, the arrays there)
        if isinstance(seed, B.Generator):
            seed = int(B.to_host(seed.integers(0, 2**31, (1,)))[0])  # one draw from the caller's stream
        elif seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])  # fresh OS entropy, once
        self.seed = int(seed)
        self.epoch = 0  # the epoch the next (or current) iteration visits
        self.batch = 0  # batches of that epoch already handed out

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def order(self, epoch: int) -> Any:
        """The example indices of ``epoch`` in visiting order (a host int64 array of length N).

        A fresh generator seeded with the pair ``(seed, epoch)``: any epoch's order can
        be recomputed on its own, which is what makes resuming exact.
        """
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def __iter__(self) -> Iterator[Any]:
        """One epoch, starting at the saved position (batch 0 unless resumed mid-epoch).

        Leaving the loop early (``break``) and iterating again continues the same
        epoch after the last batch handed out, just as resuming from a checkpoint does.
        """
        self._roll_over()
        order = self.order(self.epoch)
        if self.on_device:
            arrays, order = self._on_device_arrays(), B.to_device(order)  # one upload per epoch
        for b in range(self.batch, len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            # Advance before yielding: a checkpoint taken while this batch is being
            # used records that it has been consumed.
            self.batch = b + 1
            if self.on_device:
                batch = [B.xp().take(a, idx, axis=0) for a in arrays]  # a gather on the device
                batch = [Tensor(a) if self.as_tensor else a for a in batch]
            else:
                batch = [self._to_backend(a[idx]) for a in self.arrays]  # host gather, then one copy to the device
            yield batch[0] if len(batch) == 1 else tuple(batch)
        self.epoch += 1
        self.batch = 0

    def _roll_over(self) -> None:
        # Every batch of the epoch was handed out (the loop stopped right after the last
        # one): the position is really the start of the next epoch.
        if self.batch >= len(self):
            self.epoch, self.batch = self.epoch + 1, 0

    def _on_device_arrays(self) -> list[Any]:
        """The data set on the active backend, moved there on first use (again after a backend switch)."""
        name = B.get_backend().name
        if self._device_arrays is None or self._device_arrays[0] != name:
            self._device_arrays = (name, [B.to_device(a) for a in self.arrays])
        return self._device_arrays[1]

    def _to_backend(self, host: Any) -> Any:
        array = B.asarray(host)  # floats become the default float dtype, ints stay int64
        return Tensor(array) if self.as_tensor else array

    def set_epoch(self, epoch: int) -> None:
        """Start the next iteration at the beginning of ``epoch``."""
        self.epoch, self.batch = int(epoch), 0

    def state_dict(self) -> dict[str, int]:
        """Position in the data stream, for checkpoints: ``{"seed", "epoch", "batch"}``.

        Read-only: it may be called between two batches of a running loop (a checkpoint
        every k steps) without changing what that loop yields next.
        """
        epoch, batch = self.epoch, self.batch
        if batch >= len(self):  # every batch of the epoch handed out: the next one is batch 0 of the next epoch
            epoch, batch = epoch + 1, 0
        return {"seed": self.seed, "epoch": epoch, "batch": batch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue exactly where :meth:`state_dict` was taken (next batch of that epoch)."""
        self.seed, self.epoch, self.batch = int(state["seed"]), int(state["epoch"]), int(state["batch"])

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(a.shape)) for a in self.arrays)
        return (
            f"DataLoader({shapes}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, seed={self.seed}, batches={len(self)})"
        )
