"""PyTorch modules for the few minigan layers that plain ``torch.nn`` cannot express exactly.

Most minigan layers have a ``torch.nn`` twin as they are (Dense is ``nn.Linear``, Conv2D with an
integer padding is ``nn.Conv2d``, ...). What remains is here, each a few lines of plain PyTorch:

- :class:`KerasConv2d`: ``nn.Conv2d`` with Keras' ``'same'`` padding at a stride > 1, where the odd
  pixel of padding goes at the bottom/right and the amount depends on the input size;
- :class:`KerasConvTranspose2d`: ``nn.ConvTranspose2d`` cropped as Keras' ``'same'`` / ``'valid'``
  where no pair (padding, output_padding) gives the same crop (a 3x3 kernel at stride 2);
- :class:`KerasMaxPool2d`, :class:`KerasAvgPool2d`: pooling with Keras' ``'same'`` padding
  (-inf padding for the maximum; the average counts real pixels only);
- :class:`BatchNorm`: batch normalisation over axis 1 of ``(N, C)`` *or* ``(N, C, H, W)``, for a
  BatchNorm whose input rank cannot be told from the model (the twin uses ``nn.BatchNorm1d`` or
  ``nn.BatchNorm2d`` wherever it can);
- :class:`Reshape`: ``(N, ...) -> (N, *shape)`` (``nn.Unflatten`` where the input is flat);
- :class:`MinibatchStdDev`: ProGAN's extra channel, the batch's mean standard deviation;
- :class:`LabelConcat`, :class:`ConditionalSequential`: the class-conditional models' containers.

Each subclass keeps its parent's parameter names (``weight``, ``bias``), so a state dict loads into
the plain module as well, and ``torch.nn.utils.parametrizations.spectral_norm`` wraps them as it
wraps ``nn.Conv2d``.

This file imports nothing but torch, on purpose: ``minigan export`` copies it verbatim into the
``models.py`` it writes, so an exported model runs where minigan is not installed.

Read next: ``minigan/interop/torch.py`` (the conversions that use these modules).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as tF
from torch import nn

__all__ = [
    "BatchNorm",
    "ConditionalSequential",
    "KerasAvgPool2d",
    "KerasConv2d",
    "KerasConvTranspose2d",
    "KerasMaxPool2d",
    "LabelConcat",
    "MinibatchStdDev",
    "Reshape",
    "keras_same_pads",
    "minigan_parameter_order",
]


def keras_same_pads(size: int, k: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow 'same': output ceil(size / stride); the odd pixel of padding goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _same_pool_pads(
    x: torch.Tensor, pool: nn.Module
) -> tuple[tuple[int, int, int, int], tuple[int, int], tuple[int, int]]:
    """F.pad's (left, right, top, bottom) for a pooling layer's Keras 'same' window, its kernel and stride."""
    (kh, kw), (sh, sw) = _pair(pool.kernel_size), _pair(pool.stride)
    top, bottom = keras_same_pads(x.shape[-2], kh, sh)
    left, right = keras_same_pads(x.shape[-1], kw, sw)
    return (left, right, top, bottom), (kh, kw), (sh, sw)


class KerasConv2d(nn.Conv2d):
    """``nn.Conv2d`` with Keras' 'same' padding: ceil(H / s) outputs, the odd pixel padded at the bottom/right.

    PyTorch's own ``padding='same'`` exists for stride 1 only; at stride 2 the amount depends on
    whether H is even, so it is worked out at each call.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, bias: bool = True
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        top, bottom = keras_same_pads(x.shape[-2], kh, sh)
        left, right = keras_same_pads(x.shape[-1], kw, sw)
        # self.weight (not a saved copy): a spectral-norm parametrization is applied here too.
        return self._conv_forward(tF.pad(x, (left, right, top, bottom)), self.weight, self.bias)


class KerasConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` with Keras' padding: ``'same'`` gives H * s rows, ``'valid'`` (H - 1) * s + max(K, s).

    The full transposed convolution has (H - 1) * s + K rows; 'same' crops max(K - s, 0) // 2 at
    the top and the rest at the bottom (the adjoint of a 'same' Conv2D of an (H * s)-image), and a
    kernel smaller than the stride is padded with zero rows instead.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: str = "same",
        bias: bool = True,
    ) -> None:
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', not {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=0, bias=bias)
        self.keras_padding = padding

    def crops(self, h: int, w: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Rows (top, bottom) and columns (left, right) cut from the full output (negative: zeros added)."""
        out = []
        for n, k, s in zip((h, w), self.kernel_size, self.stride):
            full = (n - 1) * s + k
            if self.keras_padding == "same":
                lo = max(k - s, 0) // 2
                out.append((lo, full - lo - n * s))
            else:
                out.append((0, full - ((n - 1) * s + max(k, s))))
        return out[0], out[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (top, bottom), (left, right) = self.crops(x.shape[-2], x.shape[-1])
        y = tF.conv_transpose2d(x, self.weight, self.bias, self.stride)
        # F.pad with negative amounts crops: one call for both cases.
        return tF.pad(y, (-left, -right, -top, -bottom))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", keras_padding={self.keras_padding!r}"


class KerasMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` with Keras' 'same' padding (padded positions hold -inf, so they never win)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads, kernel, stride = _same_pool_pads(x, self)
        return tF.max_pool2d(tF.pad(x, pads, value=-float("inf")), kernel, stride)


class KerasAvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d`` with Keras' 'same' padding: each window's mean over its real pixels only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads, kernel, stride = _same_pool_pads(x, self)
        ones = torch.ones((1, 1) + tuple(x.shape[-2:]), dtype=x.dtype, device=x.device)
        counts = tF.avg_pool2d(tF.pad(ones, pads), kernel, stride)  # share of real pixels per window
        sums = tF.avg_pool2d(tF.pad(x, pads), kernel, stride)  # zeros padded: the real pixels' sum / window
        return sums / counts


class BatchNorm(nn.BatchNorm2d):
    """Batch normalisation over axis 1 of ``(N, C)`` or ``(N, C, H, W)``, as minigan's BatchNorm.

    ``nn.BatchNorm1d`` takes the first, ``nn.BatchNorm2d`` the second; the computation is the same.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() not in (2, 4):
            raise ValueError(f"expected a 2-D or 4-D input, got {input.dim()}-D")


class Reshape(nn.Module):
    """``(N, ...) -> (N, *shape)``."""

    def __init__(self, shape: Any) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape((x.shape[0],) + self.shape)

    def extra_repr(self) -> str:
        return f"{self.shape}"


class MinibatchStdDev(nn.Module):
    """Append the batch's mean standard deviation as one extra channel (ProGAN, Karras et al. 2018).

    The batch is split into ``group_size`` groups (None: one group of the whole batch); sample n is in
    group n mod (N / group_size), as in minigan.
    """

    def __init__(self, group_size: int | None = None, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size, self.eps = group_size, float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = n if self.group_size is None else self.group_size
        m = n // g
        y = x.reshape((g, m) + tuple(x.shape[1:]))  # (N, ...) -> (G, M, ...)
        d = y - y.mean(dim=0, keepdim=True)
        std = torch.sqrt((d * d).mean(dim=0) + self.eps)  # (M, ...)
        s = std.mean(dim=tuple(range(1, std.dim())))  # (M,)
        if x.dim() == 4:
            h, w = x.shape[2], x.shape[3]
            s = s.reshape(1, m, 1, 1, 1).expand(g, m, 1, h, w).reshape(n, 1, h, w)
        else:
            s = s.reshape(1, m, 1).expand(g, m, 1).reshape(n, 1)
        return torch.cat([x, s], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class LabelConcat(nn.Module):
    """``(N, F), (N,) -> (N, F + E)``: append a learned embedding of each sample's class (class 0 without labels)."""

    def __init__(self, num_classes: int, embedding_dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.embedding = nn.Embedding(num_classes, embedding_dim)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            labels = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
        return torch.cat([x, self.embedding(labels)], dim=1)


class ConditionalSequential(nn.Sequential):
    """An ``nn.Sequential`` whose first layer also receives the labels: ``model(x, labels)``."""

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        first, *rest = list(self)
        x = first(x, labels)
        for layer in rest:
            x = layer(x)
        return x


class UNet(nn.Module):
    """minigan's ``nn.UNet``: blocks ``down0..``, ``up0..``, ``final``, each an ``nn.Sequential``.

    Down the encoder keeping each level's output, then up the decoder, joining each level's
    output with the skip of the same size along the channels.
    """

    def __init__(self, *blocks: nn.Module, depth: int) -> None:
        super().__init__()
        self.depth = depth
        names = [f"down{k}" for k in range(depth)] + [f"up{j}" for j in range(depth - 1)] + ["final"]
        if len(blocks) != len(names):
            raise ValueError(f"a UNet of depth {depth} has {len(names)} blocks, got {len(blocks)}")
        for name, block in zip(names, blocks):
            self.add_module(name, block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for k in range(self.depth):
            x = getattr(self, f"down{k}")(x)
            skips.append(x)
        x = skips.pop()
        for j in range(self.depth - 1):
            x = torch.cat([getattr(self, f"up{j}")(x), skips.pop()], dim=1)
        return self.final(x)


def minigan_parameter_order(module: nn.Module) -> list[nn.Parameter]:
    """``module``'s parameters in minigan's order: the order a converted optimizer's state is indexed by.

    It is ``module.parameters()`` except where a layer is spectrally normalised: the
    parametrization moves the layer's ``weight`` into a sub-module listed after its ``bias``,
    while minigan lists the weight first, as before the parametrization.
    """
    from torch.nn.utils import parametrize

    out: list[nn.Parameter] = []
    seen: set[int] = set()

    def add(p: Any) -> None:
        if p is not None and id(p) not in seen:
            seen.add(id(p))
            out.append(p)

    def walk(m: nn.Module) -> None:
        parametrized = parametrize.is_parametrized(m)
        if parametrized:
            for plist in m.parametrizations.values():
                add(plist.original)
        for p in m._parameters.values():
            add(p)
        for name, child in m._modules.items():
            if child is not None and not (parametrized and name == "parametrizations"):
                walk(child)

    walk(module)
    return out
