"""Differentiable augmentation of the discriminator's inputs (DiffAugment; Zhao et al., 2020).

A discriminator trained on few images or for few steps memorises the real batches it has
seen; its verdicts then stop carrying information G can use. DiffAugment shows D randomly
translated, cut-out and colour-jittered images instead, *real and fake alike and in both
phases*, so D cannot tell them apart by the augmentation, and G is never asked to produce
augmented images. For that the augmentation must be differentiable: in the G phase the
gradient flows from D's output back through the augmentation into G.

Each transformation here is built from the engine's differentiable functions, with random
amounts drawn per sample (on the device) that are constants for the gradient:

- ``color``: brightness ``x + (b - 0.5)``, saturation (colour images only: a greyscale image
  equals its channel mean) and contrast ``(x - mean) * c + mean``, b ~ U[0, 1), c ~ U[0.5, 1.5);
- ``translation``: shift by up to ``translation * size`` pixels in each direction, zeros
  shifted in; written as two products with 0/1 shift matrices, ``S_y @ x @ S_x^T``;
- ``cutout``: zero a square of ``cutout * size`` pixels at a random place (a 0/1 mask).

All three are affine in x, so their gradients (of any order) are exact by construction; the
test-suite gradchecks them anyway, composed with a non-linearity.

Read next: ``minigan/gan/trainer.py`` (``GANTrainer(augment=...)`` applies it in ``discriminate``).
"""

from __future__ import annotations

from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor

__all__ = ["POLICIES", "DiffAugment"]

#: The transformations a policy string may name (comma-separated, applied in this order).
POLICIES = ("color", "translation", "cutout")


class DiffAugment:
    """``aug(x, rng)``: the DiffAugment transformations of ``policy`` applied to images x (N, C, H, W).

    Args:
        policy: comma-separated names from :data:`POLICIES`, e.g. ``"color,translation,cutout"``
            (the paper's choice) or ``"translation,cutout"``.
        translation: largest shift as a fraction of the image size (the paper's 1/8).
        cutout: side of the cut-out square as a fraction of the image size (the paper's 1/2).
    """

    def __init__(self, policy: str = "color,translation,cutout", translation: float = 0.125, cutout: float = 0.5):
        names = [p.strip() for p in policy.split(",") if p.strip()]
        unknown = [p for p in names if p not in POLICIES]
        if unknown or not names:
            raise ValueError(f"DiffAugment policy {policy!r}: use comma-separated names from {', '.join(POLICIES)}")
        self.policy = [p for p in POLICIES if p in names]
        self.translation_ratio, self.cutout_ratio = translation, cutout

    def __repr__(self) -> str:
        return f"DiffAugment({','.join(self.policy)!r})"

    def __call__(self, x: Tensor, rng: B.Generator) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"DiffAugment takes images (N, C, H, W), got shape {tuple(x.shape)}")
        for name in self.policy:
            x = getattr(self, name)(x, rng)
        return x

    # -- the transformations -------------------------------------------------------
    def color(self, x: Tensor, rng: B.Generator) -> Tensor:
        """Brightness, saturation (C > 1 only) and contrast, one random amount per sample."""
        n, c = x.shape[0], x.shape[1]
        dtype = x.data.dtype
        x = x + Tensor(rng.uniform((n, 1, 1, 1), -0.5, 0.5, dtype=dtype))  # brightness
        if c > 1:  # saturation; for one channel the channel mean is the image itself
            mean = F.mean(x, axis=1, keepdims=True)  # (N, C, H, W) -> (N, 1, H, W)
            x = (x - mean) * Tensor(rng.uniform((n, 1, 1, 1), 0.0, 2.0, dtype=dtype)) + mean
        mean = F.mean(x, axis=(1, 2, 3), keepdims=True)  # (N, C, H, W) -> (N, 1, 1, 1)
        return (x - mean) * Tensor(rng.uniform((n, 1, 1, 1), 0.5, 1.5, dtype=dtype)) + mean  # contrast

    def translation(self, x: Tensor, rng: B.Generator) -> Tensor:
        """out[n, c, i, j] = x[n, c, i + dy_n, j + dx_n] (0 outside), |dy|, |dx| <= translation * size."""
        n, _, h, w = x.shape
        sy, sx = int(h * self.translation_ratio + 0.5), int(w * self.translation_ratio + 0.5)
        dy = rng.integers(-sy, sy + 1, (n,))
        dx = rng.integers(-sx, sx + 1, (n,))
        rows = _shift_matrices(dy, h, x.data.dtype)  # (N, 1, H, H): rows[n, 0, i, i + dy_n] = 1
        cols = _shift_matrices(dx, w, x.data.dtype)  # (N, 1, W, W)
        # (N, 1, H, H) @ (N, C, H, W) @ (N, 1, W, W)^T -> (N, C, H, W); matmul broadcasts over C
        return F.matmul(F.matmul(Tensor(rows), x), Tensor(B.xp().permute_dims(cols, (0, 1, 3, 2))))

    def cutout(self, x: Tensor, rng: B.Generator) -> Tensor:
        """Zero one square of side ``cutout * size`` per sample, centred anywhere (clipped at the edges)."""
        xp = B.xp()
        n, _, h, w = x.shape
        ch, cw = int(h * self.cutout_ratio + 0.5), int(w * self.cutout_ratio + 0.5)
        # Centres as in the paper's code: offset in [0, size + (1 - side % 2)), square from offset - side // 2.
        top = rng.integers(0, h + (1 - ch % 2), (n,)) - ch // 2
        left = rng.integers(0, w + (1 - cw % 2), (n,)) - cw // 2
        i = xp.reshape(xp.arange(h), (1, h))
        j = xp.reshape(xp.arange(w), (1, w))
        top, left = xp.reshape(top, (n, 1)), xp.reshape(left, (n, 1))
        in_rows = (i >= top) & (i < top + ch)  # (N, H)
        in_cols = (j >= left) & (j < left + cw)  # (N, W)
        cut = xp.reshape(in_rows, (n, 1, h, 1)) & xp.reshape(in_cols, (n, 1, 1, w))  # (N, 1, H, W)
        mask = xp.astype(xp.logical_not(cut), x.data.dtype)
        return x * Tensor(mask)


def _shift_matrices(shift: Any, size: int, dtype: Any) -> Any:
    """(N,) integer shifts -> (N, 1, size, size) 0/1 matrices M with M[n, 0, i, i + shift_n] = 1 (where in range)."""
    xp = B.xp()
    n = shift.shape[0]
    i = xp.reshape(xp.arange(size), (1, size, 1))
    k = xp.reshape(xp.arange(size), (1, 1, size))
    m = k == i + xp.reshape(shift, (n, 1, 1))  # (N, size, size)
    return xp.reshape(xp.astype(m, dtype), (n, 1, size, size))
