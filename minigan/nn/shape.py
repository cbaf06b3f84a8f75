"""Shape layers: Flatten, Reshape and ReflectionPad2D (no parameters, no arithmetic).

- ``Flatten()``: (N, C, H, W) -> (N, C*H*W), between a conv stack and a Dense
  layer (a discriminator's head);
- ``Reshape(target_shape)``: (N, D) -> (N, *target_shape), e.g. a generator's
  Dense output (N, 128*7*7) -> (N, 128, 7, 7) for the transposed convolutions.
  As in Keras, ``target_shape`` excludes the batch axis;
- ``ReflectionPad2D(p)``: (N, C, H, W) -> (N, C, H + 2p, W + 2p), the border mirrored (pix2pix
  and CycleGAN pad before a 'valid' convolution this way, so that the edge is not a frame of zeros).

Read next: ``minigan/nn/embedding.py``.
"""

from __future__ import annotations

import math

import minigan.functions as F
from minigan.autograd import Tensor
from minigan.nn.module import Module

__all__ = ["Flatten", "ReflectionPad2D", "Reshape"]


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x, x.ndim >= 2, "(N, ...) with at least 2 axes")
        return F.reshape(x, (x.shape[0], math.prod(x.shape[1:])))  # (N, C, H, W) -> (N, C*H*W)


class Reshape(Module):
    """(N, ...) -> (N, *target_shape); the number of elements per sample must match."""

    def __init__(self, target_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.target_shape = tuple(int(d) for d in target_shape)
        if not self.target_shape or min(self.target_shape) < 1:
            raise ValueError(
                f"Reshape target_shape must be positive sizes (without the batch axis), got {target_shape}"
            )

    def forward(self, x: Tensor) -> Tensor:
        size = math.prod(self.target_shape)
        self._check_input(
            x, x.ndim >= 1 and math.prod(x.shape[1:]) == size, f"(N, ...) with {size} elements per sample"
        )
        return F.reshape(x, (x.shape[0],) + self.target_shape)  # (N, D) -> (N, *target_shape)

    def extra_repr(self) -> str:
        return f"{self.target_shape}"


class ReflectionPad2D(Module):
    """(N, C, H, W) -> (N, C, H + top + bottom, W + left + right), mirrored about the edge pixel.

    ``padding``: p for every side, or PyTorch's ``(left, right, top, bottom)``; each pad must be
    smaller than the side it mirrors (see :func:`minigan.functions.reflection_pad2d`).
    """

    def __init__(self, padding: int | tuple[int, int, int, int]) -> None:
        super().__init__()
        pads = (padding,) * 4 if isinstance(padding, int) else tuple(int(p) for p in padding)
        if len(pads) != 4 or min(pads) < 0:
            raise ValueError(f"ReflectionPad2D takes an int >= 0 or (left, right, top, bottom), got {padding!r}")
        self.padding = pads

    def forward(self, x: Tensor) -> Tensor:
        left, right, top, bottom = self.padding
        ok = x.ndim == 4 and max(top, bottom) < x.shape[2] and max(left, right) < x.shape[3]
        self._check_input(x, ok, f"(N, C, H, W) with H > {max(top, bottom)} and W > {max(left, right)}")
        return F.reflection_pad2d(x, self.padding)

    def extra_repr(self) -> str:
        return f"{self.padding}"
