"""Building blocks of image-to-image GANs: the U-Net generator and the PatchGAN discriminator.

pix2pix (Isola et al., 2017) turns an image into an image: its generator is a **U-Net**
(Ronneberger et al., 2015), an encoder of strided convolutions and a decoder of transposed ones,
where each decoder level also receives the encoder's output of the same size (a *skip
connection*, joined along the channels). The skips carry the input's fine detail straight to the
output, so the bottleneck only has to carry what changes. Its discriminator is a **PatchGAN**: a
few strided convolutions whose output is a grid of logits, one per overlapping patch of the
image, so D judges local texture and sharpness and the loss averages over the patches.

    x (N, C, 28, 28) --down0--> (N, w, 14, 14) --down1--> (N, 2w, 7, 7)      encoder
                                     |                          |
                                   skip                    bottleneck
                                     v                          v
    out <--final-- (N, 2w, 14, 14) <--concat-- (N, w, 14, 14) <--up0--       decoder

Read next: ``minigan/nn/spectral_norm.py``.
"""

from __future__ import annotations

from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor
from minigan.nn import init
from minigan.nn.activation import LeakyReLU, ReLU, Tanh
from minigan.nn.conv import Conv2D, Conv2DTranspose
from minigan.nn.dropout import Dropout
from minigan.nn.module import Module, Sequential
from minigan.nn.normalization import BatchNorm, InstanceNorm

__all__ = ["UNet", "patch_discriminator"]

_NORMS = ("batch", "instance", "none")


def _norm(kind: str, channels: int) -> list[Module]:
    if kind == "batch":
        return [BatchNorm(channels)]
    if kind == "instance":
        return [InstanceNorm(channels, affine=True)]
    return []


def _check_norm(norm: str) -> str:
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {', '.join(_NORMS)}, got {norm!r}")
    return norm


class UNet(Module):
    """A U-Net: ``depth`` strided 4x4 convolutions down, as many transposed ones up, with skips.

    Args:
        in_channels, out_channels: channels of the input and output images.
        depth: levels; H and W must be divisible by 2**depth (28x28 images: depth <= 2).
        width: channels after the first level, doubled at each level down, at most 8 * width
            (pix2pix's 64 -> 512).
        norm: ``"batch"`` (pix2pix), ``"instance"`` (CycleGAN) or ``"none"``, after every
            convolution but the first and the last.
        dropout: probability of the dropout after the decoder's levels (pix2pix's noise: 0.5),
            0 for none.
        rng: initial weights and dropout masks (a :class:`minigan.Generator` or an int seed).

    (N, in_channels, H, W) -> (N, out_channels, H, W), in (-1, 1) (tanh).

    Sub-modules: ``down0 .. down{depth-1}`` (Sequential: conv, norm, LeakyReLU(0.2)), ``up0 ..
    up{depth-2}`` (transposed conv, norm, [dropout], ReLU), ``final`` (transposed conv, tanh).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        depth: int = 2,
        width: int = 32,
        norm: str = "batch",
        dropout: float = 0.0,
        rng: B.Generator | int | None = None,
    ) -> None:
        super().__init__()
        self._require_positive(in_channels=in_channels, out_channels=out_channels, depth=depth, width=width)
        _check_norm(norm)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"UNet dropout must be in [0, 1), got {dropout}")
        rng = init.as_generator(rng)
        self.in_channels, self.out_channels, self.depth, self.width = in_channels, out_channels, depth, width
        self.norm, self.dropout = norm, dropout
        ch = [width * 2 ** min(k, 3) for k in range(depth)]  # channels after each level down
        prev = in_channels
        for k in range(depth):  # the first level has no norm (pix2pix): the input's statistics are the data's
            conv = Conv2D(prev, ch[k], 4, stride=2, padding="same", rng=rng)
            setattr(self, f"down{k}", Sequential(conv, *(_norm(norm, ch[k]) if k else []), LeakyReLU(0.2)))
            prev = ch[k]
        for j, k in enumerate(range(depth - 1, 0, -1)):  # up to level k - 1, then joined with its skip
            noise = [Dropout(dropout, rng=rng)] if dropout > 0 else []
            conv = Conv2DTranspose(prev, ch[k - 1], 4, stride=2, padding="same", rng=rng)
            setattr(self, f"up{j}", Sequential(conv, *_norm(norm, ch[k - 1]), *noise, ReLU()))
            prev = 2 * ch[k - 1]  # its output ++ the skip of the same size
        self.final = Sequential(Conv2DTranspose(prev, out_channels, 4, stride=2, padding="same", rng=rng), Tanh())

    @classmethod
    def from_blocks(cls, blocks: list[Sequential], **config: Any) -> UNet:
        """A UNet whose sub-modules are ``blocks`` (down0.., up0.., final, in that order): the
        PyTorch bridge rebuilds one this way. ``config``: the constructor's arguments."""
        net = cls(**config)
        names = list(net._modules)
        if len(blocks) != len(names):
            raise ValueError(f"a UNet of depth {net.depth} has {len(names)} blocks, got {len(blocks)}")
        for name, block in zip(names, blocks):
            setattr(net, name, block)
        return net

    def forward(self, x: Tensor) -> Tensor:
        step = 2**self.depth
        ok = x.ndim == 4 and x.shape[1] == self.in_channels and x.shape[2] % step == 0 and x.shape[3] % step == 0
        self._check_input(x, ok, f"(N, {self.in_channels}, H, W) with H and W divisible by {step} (depth {self.depth})")
        skips = []
        for k in range(self.depth):
            x = getattr(self, f"down{k}")(x)
            skips.append(x)
        x = skips.pop()  # the bottleneck: the deepest level has no skip of its own
        for j in range(self.depth - 1):
            x = getattr(self, f"up{j}")(x)
            x = F.concat([x, skips.pop()], axis=1)  # (N, c, h, w) ++ skip (N, c, h, w) -> (N, 2c, h, w)
        return self.final(x)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, depth={self.depth}, width={self.width}, "
            f"norm={self.norm!r}, dropout={self.dropout}"
        )


def patch_discriminator(
    in_channels: int,
    width: int = 32,
    n_layers: int = 2,
    norm: str = "instance",
    rng: B.Generator | int | None = None,
) -> Sequential:
    """A PatchGAN discriminator: ``n_layers`` strided 4x4 convolutions, then a 3x3 one to 1 channel.

    (N, in_channels, H, W) -> (N, 1, H / 2**n_layers, W / 2**n_layers): one logit per patch
    (with two layers each logit sees a 22x22 window of a 28x28 image). pix2pix feeds it the
    input and the output (or target) joined along the channels, so ``in_channels`` is their sum.
    ``norm``: after every strided convolution but the first.
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"patch_discriminator needs n_layers >= 1, got {n_layers!r}")
    _check_norm(norm)
    rng = init.as_generator(rng)
    layers: list[Module] = []
    prev = in_channels
    for k in range(n_layers):
        ch = width * 2 ** min(k, 3)
        layers += [Conv2D(prev, ch, 4, stride=2, padding="same", rng=rng), *(_norm(norm, ch) if k else [])]
        layers.append(LeakyReLU(0.2))
        prev = ch
    layers.append(Conv2D(prev, 1, 3, stride=1, padding="same", rng=rng))  # a logit per patch
    return Sequential(*layers)
