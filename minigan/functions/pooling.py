"""Pooling, upsampling and reflection padding of NCHW images.

Pooling is built from one pair of primitives, :class:`Unfold` and
:class:`Fold`, which are each other's adjoints (so each is the other's
backward, and derivatives of any order follow)::

    unfold: (N, C, H, W) -> (N, C, OH, OW, KH*KW)    every pooling window as a row
    fold:   (N, C, OH, OW, KH*KW) -> (N, C, H, W)    add the rows back

    max_pool2d = max(unfold(x), axis=-1)
    avg_pool2d = mean(unfold(x), axis=-1)

Upsampling is a composite of differentiable primitives too:

- nearest: each pixel is broadcast into an s x s block (backward: block sums);
- bilinear: a fixed linear map along each axis, ``A_h @ x @ A_w.T``, with the
  interpolation weights of PyTorch's ``align_corners=False`` (and of Keras'
  ``UpSampling2D(interpolation='bilinear')``).

Reflection padding (pix2pix and CycleGAN pad this way, so that a border is not a frame of zeros
that D can spot) is a concatenation of single rows and columns of x, mirrored about the edge
pixel: differentiable to any order through getitem and concat.

Read next: ``minigan/functions/norm.py``.
"""

from __future__ import annotations

import builtins
from typing import Any

from minigan import backend as B
from minigan.autograd import Function, Tensor
from minigan.functions.basic import broadcast_to, concat, matmul, max, mean, reshape, sum
from minigan.functions.padding import Padding, Pads, _pad, _pair, conv_pads, tap_slices

__all__ = ["avg_pool2d", "fold", "max_pool2d", "reflection_pad2d", "unfold", "upsample"]


class Unfold(Function):
    """Extract sliding windows: (N, C, H, W) -> (N, C, OH, OW, KH*KW).

    Padded positions hold ``pad_value`` (-inf for max pooling, so they never win).
    """

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads, pad_value: float = 0.0) -> None:
        self.kernel, self.stride, self.pads, self.pad_value = kernel, stride, pads, pad_value

    def forward(self, x):
        xp = B.xp()
        kh, kw = self.kernel
        sh, sw = self.stride
        xpad = _pad(x, self.pads, self.pad_value)
        oh = (xpad.shape[2] - kh) // sh + 1
        ow = (xpad.shape[3] - kw) // sw + 1
        if oh < 1 or ow < 1:
            raise ValueError(f"pooling window {kh}x{kw} does not fit the input {xpad.shape[2]}x{xpad.shape[3]}")
        windows = [tap_slices(i, j, (oh, ow), (sh, sw)) for i in range(kh) for j in range(kw)]
        taps = [xpad[:, :, rows, cols] for rows, cols in windows]  # KH*KW x (N, C, OH, OW)
        return xp.stack(taps, axis=-1)  # KH*KW x (N, C, OH, OW) -> (N, C, OH, OW, KH*KW)

    def backward(self, gy):
        x = self.inputs[0]
        return Fold(self.kernel, self.stride, self.pads, x.shape[2:])(gy)


class Fold(Function):
    """Add windows back into an image (the adjoint of Unfold with pad value 0)."""

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], pads: Pads, out_hw: tuple[int, int]) -> None:
        self.kernel, self.stride, self.pads, self.out_hw = kernel, stride, pads, tuple(out_hw)

    def forward(self, cols):
        xp = B.xp()
        kh, kw = self.kernel
        sh, sw = self.stride
        n, c, oh, ow, _ = cols.shape
        (t, b), (l, r) = self.pads
        full = (self.out_hw[0] + t + b, self.out_hw[1] + l + r)
        out = xp.zeros((n, c) + full, dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):
                rows, cols_ = tap_slices(i, j, (oh, ow), (sh, sw))
                out[:, :, rows, cols_] += cols[..., i * kw + j]
        return _pad(out, ((-t, -b), (-l, -r)))  # drop the padding again

    def backward(self, ggx):
        return Unfold(self.kernel, self.stride, self.pads, 0.0)(ggx)


def _pool_args(x: Any, kernel_size, stride, padding) -> tuple[tuple[int, int], tuple[int, int], Pads]:
    kernel = _pair(kernel_size)
    stride = kernel if stride is None else _pair(stride)
    pads = conv_pads(padding, tuple(x.shape[2:]), kernel, stride)
    return kernel, stride, pads


def unfold(
    x: Any, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None, padding: Padding = 0
) -> Tensor:
    """Sliding windows of ``x``: (N, C, H, W) -> (N, C, OH, OW, KH*KW); zeros in the padding."""
    kernel, stride, pads = _pool_args(x, kernel_size, stride, padding)
    return Unfold(kernel, stride, pads)(x)


def fold(
    cols: Any,
    out_hw: tuple[int, int],
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: Padding = 0,
) -> Tensor:
    """Add windows (N, C, OH, OW, KH*KW) back into an (N, C, H, W) image (adjoint of unfold)."""
    kernel = _pair(kernel_size)
    stride = kernel if stride is None else _pair(stride)
    pads = conv_pads(padding, tuple(out_hw), kernel, stride)
    return Fold(kernel, stride, pads, out_hw)(cols)


def max_pool2d(
    x: Any, kernel_size: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None, padding: Padding = 0
) -> Tensor:
    """Maximum over each window. ``stride`` defaults to the kernel size.

    ``padding``: int (PyTorch), ``'valid'`` or ``'same'`` (Keras). Padded
    positions never win (they hold -inf).
    """
    kernel, stride, pads = _pool_args(x, kernel_size, stride, padding)
    return max(Unfold(kernel, stride, pads, -float("inf"))(x), axis=-1)


def avg_pool2d(
    x: Any, kernel_size: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None, padding: Padding = 0
) -> Tensor:
    """Mean over each window. ``stride`` defaults to the kernel size.

    With an int padding the zeros count in the mean (PyTorch's default,
    ``count_include_pad=True``); with ``'same'`` only real pixels count (Keras).
    """
    kernel, stride, pads = _pool_args(x, kernel_size, stride, padding)
    windows = Unfold(kernel, stride, pads)(x)
    if padding != "same":
        return mean(windows, axis=-1)
    # Keras 'same': divide by the number of real pixels in each window.
    xp = B.xp()
    ones = xp.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
    counts = xp.sum(Unfold(kernel, stride, pads)(ones).data, axis=-1)  # (1, 1, OH, OW)
    return sum(windows, axis=-1) / counts


def _interp_matrix(in_size: int, out_size: int, dtype: Any) -> Any:
    """(out, in) matrix of linear-interpolation weights, align_corners=False.

    Output pixel o samples the input at src = (o + 0.5) * in/out - 0.5, clamped
    to [0, in - 1]; the weights are the "tent" max(0, 1 - |src - i|).
    """
    xp = B.xp()
    o = xp.astype(xp.arange(out_size), dtype)
    src = xp.clip((o + 0.5) * (in_size / out_size) - 0.5, 0.0, float(in_size - 1))
    i = xp.astype(xp.arange(in_size), dtype)
    return xp.maximum(1.0 - xp.abs(xp.reshape(src, (-1, 1)) - xp.reshape(i, (1, -1))), 0.0)


def upsample(x: Any, scale: int | tuple[int, int] = 2, mode: str = "nearest") -> Tensor:
    """Upsample (N, C, H, W) -> (N, C, H*sh, W*sw) by ``'nearest'`` or ``'bilinear'``.

    Nearest turns [[1, 2], [3, 4]] into a 4x4 image of 2x2 blocks.
    """
    sh, sw = _pair(scale)
    n, c, h, w = x.shape
    if mode == "nearest":
        y = reshape(x, (n, c, h, 1, w, 1))  # (N, C, H, W) -> (N, C, H, 1, W, 1)
        y = broadcast_to(y, (n, c, h, sh, w, sw))  # copy each pixel into an sh x sw block
        return reshape(y, (n, c, h * sh, w * sw))  # -> (N, C, H*sh, W*sw)
    if mode == "bilinear":
        dtype = x.dtype
        a_h = _interp_matrix(h, h * sh, dtype)  # (H*sh, H)
        a_w = _interp_matrix(w, w * sw, dtype)  # (W*sw, W)
        y = matmul(x, B.xp().matrix_transpose(a_w))  # (N, C, H, W) @ (W, W*sw) -> (N, C, H, W*sw)
        return matmul(a_h, y)  # (H*sh, H) @ (N, C, H, W*sw) -> (N, C, H*sh, W*sw)
    raise ValueError(f"upsample mode must be 'nearest' or 'bilinear', not {mode!r}")


def reflection_pad2d(x: Any, padding: int | tuple[int, int, int, int]) -> Tensor:
    """Pad the last two axes by mirroring about the edge pixel (which is not repeated).

    ``padding``: p for every side, or PyTorch's ``(left, right, top, bottom)``. A row
    ``[a b c d]`` padded by 2 on each side becomes ``[c b | a b c d | c b]``, as PyTorch's
    ``ReflectionPad2d``. Each pad must be smaller than the side it mirrors.
    (N, C, H, W) -> (N, C, H + top + bottom, W + left + right).
    """
    pads = (padding,) * 4 if isinstance(padding, int) else tuple(padding)
    if len(pads) != 4 or any(not isinstance(p, int) or isinstance(p, bool) or p < 0 for p in pads):
        raise ValueError(f"reflection_pad2d takes an int >= 0 or (left, right, top, bottom), got {padding!r}")
    left, right, top, bottom = pads
    h, w = x.shape[-2], x.shape[-1]
    if builtins.max(top, bottom) >= h or builtins.max(left, right) >= w:
        raise ValueError(f"reflection_pad2d: pads {pads} must be smaller than the image's sides ({h}, {w})")
    if top or bottom:  # rows top..1 mirrored above, rows h-2..h-1-bottom below
        above = [x[..., i : i + 1, :] for i in range(top, 0, -1)]
        below = [x[..., i : i + 1, :] for i in range(h - 2, h - 2 - bottom, -1)]
        x = concat([*above, x, *below], axis=-2)
    if left or right:
        before = [x[..., j : j + 1] for j in range(left, 0, -1)]
        after = [x[..., j : j + 1] for j in range(w - 2, w - 2 - right, -1)]
        x = concat([*before, x, *after], axis=-1)
    return x
