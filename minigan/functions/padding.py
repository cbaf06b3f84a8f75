"""Padding arithmetic for convolutions and pooling: Keras' ``'same'``/``'valid'`` and PyTorch's ints.

Pads are stored per side as ``((top, bottom), (left, right))``. A negative amount crops
instead of padding; that is how a transposed convolution's ``output_padding`` and Keras'
asymmetric ``'same'`` padding are expressed.

Read next: ``minigan/functions/conv.py`` (the convolutions that use them).
"""

from __future__ import annotations

from typing import Any

from minigan import backend as B

Pads = tuple[tuple[int, int], tuple[int, int]]
Padding = int | tuple[int, int] | str

__all__ = [
    "Pads",
    "Padding",
    "conv_output_size",
    "conv_pads",
    "pad",
    "same_padding",
    "tap_slices",
    "transposed_conv_pads",
]


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def same_padding(size: int, k: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow 'same': output ceil(size/stride); the odd pixel is padded at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def conv_pads(padding: Padding, size_hw: tuple[int, int], k_hw: tuple[int, int], stride_hw: tuple[int, int]) -> Pads:
    """Turn ``'same'``, ``'valid'``, ``p`` or ``(ph, pw)`` into per-side pads for conv2d."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            return (
                same_padding(size_hw[0], k_hw[0], stride_hw[0]),
                same_padding(size_hw[1], k_hw[1], stride_hw[1]),
            )
        raise ValueError(f"padding must be 'same', 'valid' or an int, not {padding!r}")
    ph, pw = _pair(padding)
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    return (ph, ph), (pw, pw)


def conv_output_size(size: int, k: int, stride: int, pads: tuple[int, int]) -> int:
    """Output length of a convolution: floor((size + pads - k) / stride) + 1."""
    return (size + pads[0] + pads[1] - k) // stride + 1


def _transposed_pads(in_size: int, out_size: int, k: int, stride: int, lo: int) -> tuple[int, int]:
    """Pads for the transposed op that maps ``out_size`` back to exactly ``in_size``.

    A strided conv may ignore the last rows of its input; the transposed op then
    has to produce them (as zeros), i.e. its bottom pad shrinks, possibly below 0.
    """
    hi = (out_size - 1) * stride + k - lo - in_size
    return lo, hi


def transposed_conv_pads(
    padding: Padding, output_padding: int | tuple[int, int], in_hw: tuple[int, int], k_hw: tuple[int, int], stride: Any
) -> Pads:
    """Per-side pads (crops of the full output) of ``conv_transpose2d``, from PyTorch's or Keras' arguments.

    The full output of a transposed conv of an H-pixel input is (H - 1) * stride + K; an int
    ``padding`` p crops p from each side (PyTorch) and ``output_padding`` gives back rows at the
    bottom/right; ``'valid'`` crops nothing; ``'same'`` (Keras) crops to exactly H * stride.
    """
    stride = _pair(stride)
    if isinstance(padding, str):
        if output_padding not in (0, (0, 0)):
            raise ValueError("output_padding is only used with integer padding")
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":  # the transposed conv of a 'same' conv2d whose input was H * stride
            return tuple(  # type: ignore[return-value]
                _transposed_pads(n * s, n, k, s, same_padding(n * s, k, s)[0]) for n, k, s in zip(in_hw, k_hw, stride)
            )
        raise ValueError(f"padding must be 'same', 'valid' or an int, not {padding!r}")
    ph, pw = _pair(padding)
    oph, opw = _pair(output_padding)
    if not (0 <= oph < stride[0] and 0 <= opw < stride[1]):
        raise ValueError(f"output_padding {output_padding} must be smaller than the stride {stride}")
    return (ph, ph - oph), (pw, pw - opw)


def tap_slices(i: int, j: int, out_hw: tuple[int, int], stride: tuple[int, int]) -> tuple[slice, slice]:
    """Where kernel tap (i, j) reads, for all OH x OW windows at once: rows i, i + sh, ..., i + sh*(OH-1)
    and columns j, j + sw, ..., j + sw*(OW-1) of the padded image (one strided slice each)."""
    (oh, ow), (sh, sw) = out_hw, stride
    return slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw)


def pad(x: Any, pads: Pads, value: float = 0.0) -> Any:
    """Pad (positive amounts) or crop (negative amounts) the last two axes of an array."""
    xp = B.xp()
    (t, b), (l, r) = pads
    if t < 0 or b < 0 or l < 0 or r < 0:  # crop first
        H, W = x.shape[-2], x.shape[-1]
        x = x[..., max(-t, 0) : H - max(-b, 0), max(-l, 0) : W - max(-r, 0)]
        t, b, l, r = max(t, 0), max(b, 0), max(l, 0), max(r, 0)
    if t == b == l == r == 0:
        return x
    H, W = x.shape[-2], x.shape[-1]
    out = xp.full(tuple(x.shape[:-2]) + (H + t + b, W + l + r), value, dtype=x.dtype)
    out[..., t : t + H, l : l + W] = x
    return out


_pad = pad  # the older name (pooling, the kernels)
