"""Data: what the GANs learn from.

Submodules (each is imported only when first used, so ``import minigan.data``
stays instant and pulls in neither matplotlib nor any file I/O):

- :mod:`minigan.data.toy` - 1-D and 2-D Gaussian mixtures, mode-coverage metrics;
- :mod:`minigan.data.mnist` - MNIST / Fashion-MNIST: find, download, verify, read IDX files;
- :mod:`minigan.data.glyphs` - MNIST-like digits rendered from fonts, no download needed;
- :mod:`minigan.data.loader` - :func:`load_dataset` (``"auto"`` picks MNIST or glyphs)
  and :class:`DataLoader` (seeded, shuffled minibatches on the active backend);
- :mod:`minigan.data.sources` - your own data: :func:`load_source` reads ``folder:PATH``
  (PNG/JPEG/BMP, class subfolders), ``npy:PATH``, ``npz:PATH`` and ``csv:PATH`` (points);
- :mod:`minigan.data.shapes` - a colour data set (shapes on backgrounds) written as such a folder;
- :mod:`minigan.data.paired` - inputs made from each digit for image-to-image GANs: outlines,
  low-resolution copies, digits with holes.

The most used names are available here directly::

    from minigan.data import load_dataset, DataLoader
    images, labels = load_dataset("auto")          # float32 (N, 1, 28, 28) in [-1, 1]
    for x, y in DataLoader(images, labels, batch_size=128, seed=0, drop_last=True):
        ...

Read next: ``minigan/data/mnist.py``.
"""

from __future__ import annotations

from minigan.lazy import lazy_module

_SUBMODULES = ("toy", "mnist", "glyphs", "loader", "sources", "shapes", "paired")

# name -> submodule that defines it (looked up lazily by __getattr__ below)
_EXPORTS = {
    "load_dataset": "loader",
    "DataLoader": "loader",
    "Dataset": "loader",
    "load_mnist": "mnist",
    "load_fashion_mnist": "mnist",
    "fetch_mnist": "mnist",
    "DatasetUnavailable": "mnist",
    "MNISTNotFound": "mnist",
    "IDXError": "mnist",
    "ChecksumError": "mnist",
    "glyph_digits": "glyphs",
    "load_source": "sources",
    "DataError": "sources",
    "folder_cache": "sources",
    "colour_shapes": "shapes",
    "write_shape_folder": "shapes",
    "outlines": "paired",
    "downsample": "paired",
    "upsample_nearest": "paired",
    "with_hole": "paired",
}

__all__ = [*_SUBMODULES, *_EXPORTS]


__getattr__, __dir__ = lazy_module(__name__, _SUBMODULES, _EXPORTS, globals())
