"""2-D convolution and transposed convolution (channels-first, NCHW), via im2col.

Layout: images ``(N, C, H, W)``; weights ``(C_out, C_in, KH, KW)`` (conv2d) and
``(C_in, C_out, KH, KW)`` (conv_transpose2d), exactly PyTorch's layouts.

How it works. A convolution is a matrix product once every receptive field is copied into
a row (*im2col*); its transpose runs the product the other way and adds every row back into
the image window it came from (*col2im*)::

    conv2d:            cols = im2col(x)           (N*OH*OW, C*KH*KW)
                       y    = cols @ W2.T         (N*OH*OW, C_out),  W2 = W as (C_out, C*KH*KW)
    conv_transpose2d:  y    = col2im(x2 @ W2)     x2 = x as (N*H*W, C_in), W2 = W as (C_in, C_out*KH*KW)

The three primitives are each other's derivatives, which is what makes second derivatives
(WGAN-GP through a conv critic) exact:

- ``Conv2d(x, W)``:  dL/dx = conv_transpose2d(gy, W),  dL/dW = conv2d_grad_weight(x, gy)
- ``ConvTranspose2d(x, W)``: dL/dx = conv2d(gy, W),  dL/dW = conv2d_grad_weight(gy, x)
- ``Conv2dGradWeight(x, gy)`` = gy2.T @ im2col(x) (bilinear in x and gy): its backward is a
  transposed conv and a conv again.

Every backward uses the input *Tensors*, never arrays cached from the forward pass, so
differentiating it sees the true dependencies. (Faster, equal: ``minigan/kernels/conv.py``.)

Read next: ``minigan/functions/pooling.py``.
"""

from __future__ import annotations

from typing import Any

from minigan import backend as B
from minigan.autograd import Function, Tensor
from minigan.functions.basic import reshape
from minigan.functions.padding import (
    Padding,
    Pads,
    _pair,
    _transposed_pads,
    conv_pads,
    pad,
    tap_slices,
    transposed_conv_pads,
)
from minigan.functions.replaceable import replaceable

__all__ = ["col2im", "conv2d", "conv2d_grad_weight", "conv_transpose2d", "im2col"]


# ----------------------------------------------------------------------------
# im2col and its adjoint, col2im
# ----------------------------------------------------------------------------
def _windows(size: tuple[int, int], k: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    """How many window positions (OH, OW) fit a padded image of ``size``."""
    (ph, pw), (kh, kw), (sh, sw) = size, k, stride
    oh, ow = (ph - kh) // sh + 1, (pw - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"convolution: kernel {kh}x{kw} does not fit the padded input {ph}x{pw}")
    return oh, ow


def im2col(x: Any, k: tuple[int, int], stride: tuple[int, int], pads: Pads) -> tuple[Any, tuple[int, int]]:
    """Every receptive field of ``x`` as a row: (N, C, H, W) -> (N*OH*OW, C*KH*KW), and (OH, OW).

    Columns come in (channel, kernel row, kernel column) order: a (C_out, C, KH, KW) weight
    reshaped to (C_out, C*KH*KW) lines up with them.
    """
    xp = B.xp()
    kh, kw = k
    xpad = pad(x, pads)  # (N, C, H, W) -> (N, C, PH, PW); negative pads crop
    n, c = xpad.shape[0], xpad.shape[1]
    oh, ow = _windows(tuple(xpad.shape[2:]), k, stride)
    # Tap (i, j) of every window at once is one strided slice: rows i, i+sh, ..., columns j, j+sw, ...
    windows = [tap_slices(i, j, (oh, ow), stride) for i in range(kh) for j in range(kw)]
    taps = [xpad[:, :, rows, cols_] for rows, cols_ in windows]  # KH*KW x (N, C, OH, OW)
    cols = xp.stack(taps, axis=2)  # KH*KW x (N, C, OH, OW) -> (N, C, KH*KW, OH, OW)
    cols = xp.permute_dims(cols, (0, 3, 4, 1, 2))  # -> (N, OH, OW, C, KH*KW)
    return xp.reshape(cols, (n * oh * ow, c * kh * kw)), (oh, ow)  # -> (N*OH*OW, C*KH*KW)


def col2im(cols: Any, x_shape: tuple[int, ...], k: tuple[int, int], stride: tuple[int, int], pads: Pads) -> Any:
    """The adjoint of :func:`im2col`: add every row back into its window. (N*OH*OW, C*KH*KW) -> (N, C, H, W)."""
    xp = B.xp()
    n, c, h, w = x_shape
    (kh, kw), ((t, b), (l, r)) = k, pads
    ph, pw = h + t + b, w + l + r  # the padded image the windows tile
    oh, ow = _windows((ph, pw), k, stride)
    cols = xp.reshape(cols, (n, oh, ow, c, kh * kw))  # (N*OH*OW, C*KH*KW) -> (N, OH, OW, C, KH*KW)
    cols = xp.permute_dims(cols, (0, 3, 4, 1, 2))  # -> (N, C, KH*KW, OH, OW)
    out = xp.zeros((n, c, ph, pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):  # windows overlap: each tap adds into its strided slice
            rows, cols_ = tap_slices(i, j, (oh, ow), stride)
            out[:, :, rows, cols_] += cols[:, :, i * kw + j, :, :]
    return pad(out, ((-t, -b), (-l, -r)))  # drop the padding (a negative pad: cropped rows get zeros)


# ----------------------------------------------------------------------------
# The three products on raw arrays
# ----------------------------------------------------------------------------
def conv2d_array(x: Any, w: Any, stride: tuple[int, int], pads: Pads) -> Any:
    """(N, C, H, W) conv (O, C, KH, KW) -> (N, O, OH, OW): im2col, then one matrix product."""
    xp = B.xp()
    o, c, kh, kw = w.shape
    if x.shape[1] != c:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels but the weight expects {c}")
    cols, (oh, ow) = im2col(x, (kh, kw), stride, pads)  # (N*OH*OW, C*KH*KW)
    y = cols @ xp.matrix_transpose(xp.reshape(w, (o, c * kh * kw)))  # @ (C*KH*KW, O) -> (N*OH*OW, O)
    y = xp.reshape(y, (x.shape[0], oh, ow, o))  # -> (N, OH, OW, O)
    return xp.permute_dims(y, (0, 3, 1, 2))  # -> (N, O, OH, OW)


def conv_transpose2d_array(x: Any, w: Any, stride: tuple[int, int], pads: Pads) -> Any:
    """(N, C, H, W) transposed-conv (C, O, KH, KW) -> (N, O, (H-1)*s + KH - t - b, ...): a product, then col2im."""
    xp = B.xp()
    n, c, h, wd = x.shape
    c_w, o, kh, kw = w.shape
    if c != c_w:
        raise ValueError(f"conv_transpose2d: input has {c} channels but the weight expects {c_w}")
    (sh, sw), ((t, b), (l, r)) = stride, pads
    oh, ow = (h - 1) * sh + kh - t - b, (wd - 1) * sw + kw - l - r
    x2 = xp.reshape(xp.permute_dims(x, (0, 2, 3, 1)), (n * h * wd, c))  # (N, C, H, W) -> (N*H*W, C)
    cols = x2 @ xp.reshape(w, (c, o * kh * kw))  # (N*H*W, C) @ (C, O*KH*KW): each pixel's window
    return col2im(cols, (n, o, oh, ow), (kh, kw), stride, pads)


def conv2d_grad_weight_array(x: Any, gy: Any, k: tuple[int, int], stride: tuple[int, int], pads: Pads) -> Any:
    """dL/dW (O, C, KH, KW) of conv2d(x, W) from x (N, C, H, W) and gy = dL/dy (N, O, OH, OW)."""
    xp = B.xp()
    n, o, oh, ow = gy.shape
    cols, _ = im2col(x, k, stride, pads)  # (N*OH*OW, C*KH*KW)
    g2 = xp.reshape(xp.permute_dims(gy, (0, 2, 3, 1)), (n * oh * ow, o))  # (N, O, OH, OW) -> (N*OH*OW, O)
    gw = xp.matrix_transpose(g2) @ cols  # (O, N*OH*OW) @ (N*OH*OW, C*KH*KW) -> (O, C*KH*KW)
    return xp.reshape(gw, (o, x.shape[1], k[0], k[1]))  # -> (O, C, KH, KW)


# ----------------------------------------------------------------------------
# The primitives
# ----------------------------------------------------------------------------
def _back_pads(x_hw: tuple[int, ...], gy_hw: tuple[int, ...], k: tuple[int, ...], stride: Any, pads: Pads) -> Pads:
    """Pads of the transposed op that maps gy (OH, OW) back onto x's exact (H, W)."""
    return tuple(_transposed_pads(x_hw[a], gy_hw[a], k[a], stride[a], pads[a][0]) for a in (0, 1))  # type: ignore[return-value]


@replaceable
class Conv2d(Function):
    """y = conv2d(x, W) with explicit per-side pads (no bias: added outside)."""

    def __init__(self, stride: tuple[int, int], pads: Pads) -> None:
        self.stride, self.pads = stride, pads

    def forward(self, x, w):
        return conv2d_array(x, w, self.stride, self.pads)

    def backward(self, gy):
        x, w = self.inputs
        gx = gw = None
        if self.needs_input_grad[0]:
            back = _back_pads(x.shape[2:], gy.shape[2:], w.shape[2:], self.stride, self.pads)
            gx = ConvTranspose2d(self.stride, back)(gy, w)
        if self.needs_input_grad[1]:
            gw = Conv2dGradWeight(self.stride, self.pads, w.shape)(x, gy)
        return gx, gw


@replaceable
class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, W): the adjoint of Conv2d with the same weight and pads."""

    def __init__(self, stride: tuple[int, int], pads: Pads) -> None:
        self.stride, self.pads = stride, pads

    def forward(self, x, w):
        return conv_transpose2d_array(x, w, self.stride, self.pads)

    def backward(self, gy):
        x, w = self.inputs
        gx = Conv2d(self.stride, self.pads)(gy, w) if self.needs_input_grad[0] else None
        gw = Conv2dGradWeight(self.stride, self.pads, w.shape)(gy, x) if self.needs_input_grad[1] else None
        return gx, gw


@replaceable
class Conv2dGradWeight(Function):
    """dL/dW of conv2d(x, W) given gy = dL/dy: bilinear in (x, gy), so its derivatives are convs again."""

    def __init__(self, stride: tuple[int, int], pads: Pads, w_shape: tuple[int, ...]) -> None:
        self.stride, self.pads, self.w_shape = stride, pads, tuple(w_shape)

    def forward(self, x, gy):
        return conv2d_grad_weight_array(x, gy, self.w_shape[2:], self.stride, self.pads)

    def backward(self, ggw):
        x, gy = self.inputs
        gx = ggy = None
        if self.needs_input_grad[0]:
            back = _back_pads(x.shape[2:], gy.shape[2:], self.w_shape[2:], self.stride, self.pads)
            gx = ConvTranspose2d(self.stride, back)(gy, ggw)
        if self.needs_input_grad[1]:
            ggy = Conv2d(self.stride, self.pads)(x, ggw)
        return gx, ggy


# ----------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------
def conv2d(x: Any, weight: Any, bias: Any = None, stride: int | tuple[int, int] = 1, padding: Padding = 0) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library).

    x ``(N, C_in, H, W)``, weight ``(C_out, C_in, KH, KW)``, bias ``(C_out,)`` or None, stride an
    int or (sh, sw); padding ``'valid'`` (none), ``'same'`` (Keras: output ceil(H/stride), extra
    pixel at the bottom/right), an int or (ph, pw) (PyTorch). Returns ``(N, C_out, OH, OW)``
    with OH = floor((H + pad_top + pad_bottom - KH) / sh) + 1.
    """
    stride = _pair(stride)
    pads = conv_pads(padding, tuple(x.shape[2:]), tuple(weight.shape[2:]), stride)
    y = Conv2d(stride, pads)(x, weight)
    return y if bias is None else y + reshape(bias, (1, -1, 1, 1))  # (C_out,) -> (1, C_out, 1, 1)


def conv_transpose2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int, int] = 1,
    padding: Padding = 0,
    output_padding: int | tuple[int, int] = 0,
) -> Tensor:
    """2-D transposed convolution ("deconvolution"), the adjoint of :func:`conv2d`.

    x ``(N, C_in, H, W)``, weight ``(C_in, C_out, KH, KW)`` (PyTorch's layout), bias ``(C_out,)``
    or None; stride: the spacing of the input pixels in the output; padding: an int or (ph, pw)
    as in PyTorch (crops p from each side of the full output), ``'valid'`` or ``'same'`` (Keras:
    output exactly H * stride); output_padding: rows/columns given back at the bottom/right.
    Returns ``(N, C_out, OH, OW)`` with OH = (H - 1) * sh + KH - 2 * ph + output_padding.
    """
    stride = _pair(stride)
    pads = transposed_conv_pads(padding, output_padding, tuple(x.shape[2:]), tuple(weight.shape[2:]), stride)
    y = ConvTranspose2d(stride, pads)(x, weight)
    return y if bias is None else y + reshape(bias, (1, -1, 1, 1))  # (C_out,) -> (1, C_out, 1, 1)


def conv2d_grad_weight(
    x: Any, gy: Any, kernel_size: tuple[int, int], stride: int | tuple[int, int] = 1, padding: Padding = 0
) -> Tensor:
    """The weight gradient of ``conv2d(x, W, stride, padding)`` for output gradient ``gy`` (Conv2d's backward)."""
    stride = _pair(stride)
    kh, kw = kernel_size
    pads = conv_pads(padding, tuple(x.shape[2:]), (kh, kw), stride)
    return Conv2dGradWeight(stride, pads, (gy.shape[1], x.shape[1], kh, kw))(x, gy)
