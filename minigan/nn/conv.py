"""Convolution layers: Conv2D and Conv2DTranspose on NCHW images.

Shapes (PyTorch's layouts, so weights compare with ``torch.nn.Conv2d`` directly):

- ``Conv2D``: x (N, C_in, H, W) -> y (N, C_out, OH, OW), weight (C_out, C_in, KH, KW);
- ``Conv2DTranspose``: x (N, C_in, H, W) -> y (N, C_out, OH, OW), weight (C_in, C_out, KH, KW).

Padding, per layer:

==============  =========================================  ===============================================
padding         Conv2D output size                         Conv2DTranspose output size
==============  =========================================  ===============================================
``'valid'``     floor((H - K) / s) + 1                     (H - 1) * s + max(K, s)         (Keras)
``'same'``      ceil(H / s) (odd pad at bottom/right)      H * s                           (Keras)
int ``p``       floor((H + 2p - K) / s) + 1                (H - 1) * s + K - 2p + output_padding  (PyTorch)
==============  =========================================  ===============================================

A generator doubles the resolution with ``Conv2DTranspose(..., 4, 2, 'same')``
(or ``padding=1`` in PyTorch terms); a discriminator halves it with
``Conv2D(..., 3, 2, 'same')``. ``output_padding`` (int padding only) picks
among the output sizes that a strided Conv2D would map back to the same
input size: 7 -> 14 needs k=3, s=2, p=1, output_padding=1.

Read next: ``minigan/nn/sampling.py``.
"""

from __future__ import annotations

from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor
from minigan.functions.padding import _pair, conv_output_size, conv_pads
from minigan.nn import init
from minigan.nn.module import Module, Parameter

__all__ = ["Conv2D", "Conv2DTranspose"]

Padding = str | int | tuple[int, int]


def _check_padding(padding: Padding) -> Padding:
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same', 'valid' or an int, not {padding!r}")
        return padding
    ph, pw = _pair(padding)
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    return (ph, pw)


def _setup(layer: Module, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Padding) -> None:
    """The checks and attributes Conv2D and Conv2DTranspose share."""
    layer.in_channels, layer.out_channels = in_channels, out_channels
    layer.kernel_size, layer.stride = _pair(kernel_size), _pair(stride)
    layer.padding = _check_padding(padding)
    layer._require_positive(
        in_channels=in_channels, out_channels=out_channels, kernel_size=min(layer.kernel_size), stride=min(layer.stride)
    )


def _init_parameters(
    layer: Module,
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    bias: bool,
    rng: Any,
    weight_init: Any,
    bias_init: Any,
) -> None:
    """``weight`` of ``shape`` and (if ``bias``) ``bias`` (C_out,), drawn with the given fans."""
    gen = init.as_generator(rng)
    layer.weight = Parameter(init.get(weight_init)(shape, gen, fan_in=fan_in, fan_out=fan_out))
    c_out = layer.out_channels
    layer.bias = Parameter(init.get(bias_init)((c_out,), gen, fan_in=fan_in, fan_out=fan_out)) if bias else None


class Conv2D(Module):
    """2-D convolution (cross-correlation) with a learned bias.

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size: K or (KH, KW).
        stride: s or (sh, sw).
        padding: ``'valid'`` (default, as Keras), ``'same'`` (Keras) or an int / (ph, pw) (PyTorch).
        bias: learn a bias per output channel.
        rng: a :class:`minigan.Generator`, an int seed, or None for the initial weights
            (None: the default generator, which ``minigan.manual_seed`` seeds).
        weight_init, bias_init: initialisers (default Glorot uniform and zeros, as Keras).

    Parameters: ``weight`` (C_out, C_in, KH, KW), ``bias`` (C_out,).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: Padding = "valid",
        bias: bool = True,
        rng: B.Generator | int | None = None,
        weight_init: str | init.Initializer = "glorot_uniform",
        bias_init: str | init.Initializer = "zeros",
    ) -> None:
        super().__init__()
        _setup(self, in_channels, out_channels, kernel_size, stride, padding)
        kh, kw = self.kernel_size
        shape = (out_channels, in_channels, kh, kw)
        _init_parameters(self, shape, in_channels * kh * kw, out_channels * kh * kw, bias, rng, weight_init, bias_init)

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        """(OH, OW) for an (H, W) input."""
        pads = conv_pads(self.padding, (h, w), self.kernel_size, self.stride)
        return (
            conv_output_size(h, self.kernel_size[0], self.stride[0], pads[0]),
            conv_output_size(w, self.kernel_size[1], self.stride[1], pads[1]),
        )

    def forward(self, x: Tensor) -> Tensor:
        c = self.in_channels
        ok = x.ndim == 4 and x.shape[1] == c
        self._check_input(x, ok, f"(N, {c}, H, W)")
        oh, ow = self.output_hw(x.shape[2], x.shape[3])
        kh, kw = self.kernel_size
        self._check_input(x, oh >= 1 and ow >= 1, f"(N, {c}, H, W) with the {kh}x{kw} kernel fitting the padded image")
        self._check_dtype(x)
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding!r}"
        )


class Conv2DTranspose(Module):
    """Transposed convolution ("deconvolution"): upsamples by ``stride``.

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size: K or (KH, KW).
        stride: s or (sh, sw).
        padding: ``'valid'`` (default; Keras: output (H-1)*s + max(K, s)),
            ``'same'`` (Keras: output H*s) or an int / (ph, pw) (PyTorch:
            crop p from each side of the full (H-1)*s + K output).
        output_padding: extra rows/columns at the bottom/right, integer padding only (PyTorch).
        bias, rng, weight_init, bias_init: as :class:`Conv2D`.

    Parameters: ``weight`` (C_in, C_out, KH, KW) (PyTorch's layout), ``bias`` (C_out,).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: Padding = "valid",
        output_padding: int | tuple[int, int] = 0,
        bias: bool = True,
        rng: B.Generator | int | None = None,
        weight_init: str | init.Initializer = "glorot_uniform",
        bias_init: str | init.Initializer = "zeros",
    ) -> None:
        super().__init__()
        _setup(self, in_channels, out_channels, kernel_size, stride, padding)
        self.output_padding = _pair(output_padding)
        if self.output_padding != (0, 0):
            if isinstance(self.padding, str):
                raise ValueError("output_padding is only used with integer padding (PyTorch style)")
            if not all(0 <= op < s for op, s in zip(self.output_padding, self.stride)):
                raise ValueError(f"output_padding {self.output_padding} must be in [0, stride {self.stride})")
        kh, kw = self.kernel_size
        shape = (in_channels, out_channels, kh, kw)
        # The transposed conv's fan-in is the fan-out of the conv it transposes (see init.py).
        _init_parameters(self, shape, out_channels * kh * kw, in_channels * kh * kw, bias, rng, weight_init, bias_init)

    def _torch_args(self) -> tuple[tuple[int, int] | str, tuple[int, int]]:
        """(padding, output_padding) for F.conv_transpose2d.

        Keras' 'valid' with a kernel smaller than the stride still outputs H*s:
        that is integer padding 0 plus output_padding s - K.
        """
        if self.padding == "valid" and any(k < s for k, s in zip(self.kernel_size, self.stride)):
            return (0, 0), tuple(max(s - k, 0) for k, s in zip(self.kernel_size, self.stride))
        return self.padding, self.output_padding

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        """(OH, OW) for an (H, W) input."""
        if self.padding == "same":
            return h * self.stride[0], w * self.stride[1]
        padding, out_pad = self._torch_args()
        pad = (0, 0) if padding == "valid" else padding
        return tuple(
            (n - 1) * s + k - 2 * p + op for n, s, k, p, op in zip((h, w), self.stride, self.kernel_size, pad, out_pad)
        )

    def forward(self, x: Tensor) -> Tensor:
        c = self.in_channels
        self._check_input(x, x.ndim == 4 and x.shape[1] == c, f"(N, {c}, H, W)")
        oh, ow = self.output_hw(x.shape[2], x.shape[3])
        self._check_input(x, oh >= 1 and ow >= 1, f"(N, {c}, H, W) large enough for padding {self.padding}")
        self._check_dtype(x)
        padding, out_pad = self._torch_args()
        return F.conv_transpose2d(
            x, self.weight, self.bias, stride=self.stride, padding=padding, output_padding=out_pad
        )

    def extra_repr(self) -> str:
        extra = f", output_padding={self.output_padding}" if self.output_padding != (0, 0) else ""
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding!r}{extra}"
        )
