"""The speed: faster equals of textbook primitives, on by default.

``minigan/functions/`` defines the maths; each module here subclasses one of its primitives,
computes the same numbers faster, and registers itself (``functions.replaceable.register``), so
that constructing the textbook primitive gives the faster one. A learner never needs to read
this package to understand a GAN; read it to see what makes the same maths fast on a CPU.

- ``conv.py``: the three convolutions on chunked, reused, channels-last buffers; strided
  transposed convs as sub-pixel phases; copy loops over threads.
- ``linear.py``: the Dense product's first-order backward on raw arrays.
- ``activations.py``: LeakyReLU writing into the temporaries it owns.
- ``norm.py``: batch norm with folded per-channel factors and a cached first-order backward.

Off: ``MINIGAN_KERNELS=0`` in the environment, or ``with minigan.kernels.textbook(): ...``.
``tests/test_kernels.py`` holds every kernel equal to its textbook primitive (values and
gradients of first and second order); CI runs the gradient checks and the PyTorch comparisons
with the kernels off too.

Read next: ``minigan/kernels/conv.py``.
"""

from __future__ import annotations

import contextlib

from minigan.functions.replaceable import kernels_enabled, registered, use_kernels
from minigan.kernels import activations, conv, linear, norm  # noqa: F401 (each registers its kernels)

__all__ = ["kernels_enabled", "registered", "textbook", "use_kernels"]


def textbook() -> contextlib.AbstractContextManager[None]:
    """Inside ``with minigan.kernels.textbook():`` only the textbook primitives of ``minigan/functions`` run."""
    return use_kernels(False)
