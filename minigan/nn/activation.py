"""Activation layers: thin Module wrappers around ``minigan.functions``.

They have no parameters and accept any shape (they act elementwise), so they
can sit between any two layers of a :class:`~minigan.nn.Sequential`:

- ``ReLU``: max(x, 0);
- ``LeakyReLU(slope=0.2)``: max(x, slope * x), the GAN discriminator's
  activation (DCGAN paper: slope 0.2) so that gradients never die completely;
- ``Tanh``: the image generator's output, in (-1, 1) like data scaled to [-1, 1];
- ``Sigmoid``: output in (0, 1). A *discriminator* should not end with it: the
  GAN losses take logits, which is numerically stable (see
  ``F.binary_cross_entropy_with_logits``).

Read next: ``minigan/nn/normalization.py``.
"""

from __future__ import annotations

import minigan.functions as F
from minigan.autograd import Tensor
from minigan.nn.module import Module

__all__ = ["LeakyReLU", "ReLU", "Sigmoid", "Tanh"]


class _Elementwise(Module):
    """Shared input check: an elementwise activation takes a batch of any shape."""

    def _check(self, x: Tensor) -> None:
        self._check_input(x, hasattr(x, "shape") and len(x.shape) >= 1, "(N, ...)")


class ReLU(_Elementwise):
    """max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.relu(x)


class LeakyReLU(_Elementwise):
    """max(x, slope * x) with 0 <= slope <= 1 (default 0.2, as in DCGAN)."""

    def __init__(self, slope: float = 0.2) -> None:
        super().__init__()
        if not 0.0 <= slope <= 1.0:
            raise ValueError(f"LeakyReLU slope must be in [0, 1], got {slope}")
        self.slope = float(slope)

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.leaky_relu(x, self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}"


class Tanh(_Elementwise):
    """tanh(x), in (-1, 1)."""

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.tanh(x)


class Sigmoid(_Elementwise):
    """1 / (1 + e^-x), in (0, 1)."""

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.sigmoid(x)
