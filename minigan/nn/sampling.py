"""Resampling layers for NCHW images: UpSampling2D, MaxPool2D, AvgPool2D.

- ``UpSampling2D(size, interpolation)``: (N, C, H, W) -> (N, C, H*sh, W*sw).
  ``'nearest'`` repeats pixels; ``'bilinear'`` interpolates with the weights of
  PyTorch's ``align_corners=False`` (and Keras'). Followed by a stride-1
  convolution it is the usual alternative to a transposed convolution (no
  checkerboard artefacts).
- ``MaxPool2D(pool_size, strides, padding)`` / ``AvgPool2D``: the maximum /
  mean over each window; ``strides`` defaults to ``pool_size`` (Keras);
  ``padding`` is ``'valid'``, ``'same'`` (Keras) or an int (PyTorch).

None of them has parameters.

Read next: ``minigan/nn/shape.py``.
"""

from __future__ import annotations

import minigan.functions as F
from minigan.autograd import Tensor
from minigan.functions.padding import _pair, conv_output_size, conv_pads
from minigan.nn.module import Module

__all__ = ["AvgPool2D", "MaxPool2D", "UpSampling2D"]


class UpSampling2D(Module):
    """Upsample by ``size`` (int or (sh, sw)) with ``'nearest'`` or ``'bilinear'`` interpolation."""

    def __init__(self, size: int | tuple[int, int] = 2, interpolation: str = "nearest") -> None:
        super().__init__()
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"interpolation must be 'nearest' or 'bilinear', not {interpolation!r}")
        self.size = _pair(size)
        if min(self.size) < 1:
            raise ValueError(f"UpSampling2D size must be >= 1, got {size}")
        self.interpolation = interpolation

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x, x.ndim == 4, "(N, C, H, W)")
        return F.upsample(x, self.size, mode=self.interpolation)

    def extra_repr(self) -> str:
        return f"size={self.size}, interpolation={self.interpolation!r}"


class _Pool2D(Module):
    def __init__(
        self,
        pool_size: int | tuple[int, int] = 2,
        strides: int | tuple[int, int] | None = None,
        padding: str | int | tuple[int, int] = "valid",
    ) -> None:
        super().__init__()
        self.pool_size = _pair(pool_size)
        self.strides = self.pool_size if strides is None else _pair(strides)
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same', 'valid' or an int, not {padding!r}")
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        if not isinstance(self.padding, str) and any(2 * p > k for p, k in zip(self.padding, self.pool_size)):
            # PyTorch's rule: a window must never lie entirely in the padding.
            raise ValueError(f"padding {self.padding} must be at most half the pool size {self.pool_size}")

    def _check(self, x: Tensor) -> None:
        self._check_input(x, x.ndim == 4, "(N, C, H, W)")
        pads = conv_pads(self.padding, tuple(x.shape[2:]), self.pool_size, self.strides)
        oh = conv_output_size(x.shape[2], self.pool_size[0], self.strides[0], pads[0])
        ow = conv_output_size(x.shape[3], self.pool_size[1], self.strides[1], pads[1])
        kh, kw = self.pool_size
        self._check_input(x, oh >= 1 and ow >= 1, f"(N, C, H, W) with the {kh}x{kw} window fitting the image")

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, strides={self.strides}, padding={self.padding!r}"


class MaxPool2D(_Pool2D):
    """Maximum over each ``pool_size`` window (padded positions never win)."""

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.max_pool2d(x, self.pool_size, self.strides, self.padding)


class AvgPool2D(_Pool2D):
    """Mean over each window (int padding counts the zeros, as PyTorch; 'same' does not, as Keras)."""

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.avg_pool2d(x, self.pool_size, self.strides, self.padding)
